import { z } from 'zod'
import path from 'node:path'
import { DEFAULT_LIMITS, RegisterDatastoreSchema, WharfError, type Limits, type RegisterDatastoreRequest } from '@wharf/contract'

const LimitsSchema = z
  .object(Object.fromEntries(Object.keys(DEFAULT_LIMITS).map((k) => [k, z.number().int().positive().optional()])))
  .strict()

const ServerConfigSchema = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(5050),
  dataDir: z.string().min(1),
  databaseUrl: z.string().optional(),
  authToken: z.string().min(16, 'the auth token must be at least 16 characters').optional(),
  limits: LimitsSchema.default({}),
  /** Log each request (method, path, status, time) to stderr. */
  logRequests: z.boolean().default(false),
  version: z.string().default('0.0.0'),
  /** Base64 of 32 bytes that encrypts datastore secrets; a 0600 key file in the data folder when absent. */
  secretKey: z.string().optional(),
  /** Folders filesystem datastores may be registered in; when absent, any folder on loopback, else the data folder. */
  filesystemRoots: z.array(z.string().min(1)).optional(),
  /**
   * What `workspaceblobstore` and `workspacefilestore` are in new workspaces: a registration (without
   * its name), e.g. an Azure container; local folders in the data folder when absent.
   */
  blobStore: z.unknown().optional(),
  fileStore: z.unknown().optional(),
})

/** The server's whole configuration, parsed once at the program's edge. */
export interface ServerConfig {
  readonly host: string
  readonly port: number
  readonly dataDir: string
  readonly databaseUrl: string | undefined
  readonly authToken: string | undefined
  readonly limits: Readonly<Limits>
  readonly logRequests: boolean
  readonly version: string
  readonly secretKey: string | undefined
  readonly filesystemRoots: readonly string[] | undefined
  readonly builtinStores: { readonly blobStore?: RegisterDatastoreRequest; readonly fileStore?: RegisterDatastoreRequest }
}

/** Parses a built-in datastore setting (an object or its JSON text) as a registration of `name`. */
function builtinStore(value: unknown, name: string, field: string): RegisterDatastoreRequest | undefined {
  if (value === undefined || value === '') return undefined
  let raw: unknown = value
  if (typeof value === 'string') {
    try {
      raw = JSON.parse(value) as unknown
    } catch {
      throw new WharfError('INVALID_ARGUMENT', `server setting "${field}" is not JSON: give a registration like {"kind":"azure_blob","accountName":…,"containerName":…,"accountKey":…}`, {
        details: { field },
      })
    }
  }
  const parsed = RegisterDatastoreSchema.safeParse({ ...(raw as object), name })
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.join('.') || field
    // Never echo the value: it holds a key.
    throw new WharfError('INVALID_ARGUMENT', `server setting "${field}": "${where}" ${issue?.message ?? 'is invalid'}`, { details: { field } })
  }
  return parsed.data
}

/** The input of {@link loadServerConfig}: what flags, environment and files said. */
export type ServerConfigInput = z.input<typeof ServerConfigSchema>

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/

/** True when `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host)
}

/**
 * Validates raw settings into a frozen {@link ServerConfig}. Throws INVALID_ARGUMENT naming the bad
 * setting; refuses to bind beyond loopback without an auth token.
 */
export function loadServerConfig(input: ServerConfigInput): ServerConfig {
  const parsed = ServerConfigSchema.safeParse(input)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.join('.') || 'config'
    throw new WharfError('INVALID_ARGUMENT', `server setting "${where}": ${issue?.message ?? 'invalid'}`, {
      details: { field: where },
    })
  }
  const raw = parsed.data
  if (raw.databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(raw.databaseUrl)) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      'the database URL must start with postgres:// (leave it unset for the embedded SQLite database)',
      { details: { field: 'databaseUrl' } },
    )
  }
  if (!isLoopbackHost(raw.host) && raw.authToken === undefined) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `refusing to listen on ${raw.host} without an auth token: anyone who can reach it could read and write your runs. ` +
        'Set WHARF_AUTH_TOKEN (or --auth-token) to a secret of at least 16 characters, or bind to 127.0.0.1',
      { details: { field: 'host' } },
    )
  }
  const limits = Object.freeze({ ...DEFAULT_LIMITS, ...(raw.limits as Partial<Limits>) })
  return Object.freeze({
    host: raw.host,
    port: raw.port,
    dataDir: raw.dataDir,
    databaseUrl: raw.databaseUrl,
    authToken: raw.authToken,
    limits,
    logRequests: raw.logRequests,
    version: raw.version,
    secretKey: raw.secretKey,
    // A server others can reach registers folders only where it was told to (its data folder by default):
    // anyone with the token could otherwise read any file the server's user can.
    filesystemRoots: (raw.filesystemRoots ?? (isLoopbackHost(raw.host) ? undefined : [raw.dataDir]))?.map((root) => {
      if (!path.isAbsolute(root)) {
        throw new WharfError('INVALID_ARGUMENT', `server setting "filesystemRoots": "${root}" is not an absolute path`, { details: { field: 'filesystemRoots' } })
      }
      return path.resolve(root)
    }),
    builtinStores: Object.freeze({
      ...optional('blobStore', builtinStore(raw.blobStore, 'workspaceblobstore', 'blobStore')),
      ...optional('fileStore', builtinStore(raw.fileStore, 'workspacefilestore', 'fileStore')),
    }),
  })
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>)
}
