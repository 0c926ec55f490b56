import { readFileSync } from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import { defaultStudioDir } from './routes/studio.js'
import { DEFAULT_LIMITS, RegisterDatastoreSchema, WharfError, type Limits, type RegisterDatastoreRequest } from '@wharf/contract'

/**
 * The ports the Fetch standard blocks ("bad ports", https://fetch.spec.whatwg.org/#port-blocking), as
 * undici (Node's fetch) lists them in lib/web/fetch/constants.js; it does not export the list. Checked
 * against Node 20.20's fetch, which refuses each with "bad port".
 */
const FETCH_BAD_PORTS: ReadonlySet<number> = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113,
  115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556,
  563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667,
  6668, 6669, 6679, 6697, 10080,
])

const LimitsSchema = z
  .object(Object.fromEntries(Object.keys(DEFAULT_LIMITS).map((k) => [k, z.number().int().positive().optional()])))
  .strict()

const ServerConfigSchema = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .refine((port) => !FETCH_BAD_PORTS.has(port), {
      message:
        'is one of the ports web clients refuse to connect to (Node\'s fetch says "bad port"), so no Wharf client could reach the server; pick another, e.g. 5050',
    })
    .default(5050),
  dataDir: z.string().min(1),
  databaseUrl: z.string().optional(),
  authToken: z.string().min(16, 'the auth token must be at least 16 characters').optional(),
  /** A file holding the auth token (read once, here), so the token does not show in `ps`. */
  authTokenFile: z.string().min(1).optional(),
  /**
   * Host names (the Host header, without port) the server answers besides loopback names; `*` for any.
   * Refusing others stops DNS-rebinding pages from reaching a loopback server.
   */
  allowedHosts: z.array(z.string().min(1)).optional(),
  limits: LimitsSchema.default({}),
  /** Log each request (method, path, status, time) to stderr. */
  logRequests: z.boolean().default(false),
  version: z.string().default('0.0.0'),
  /** Base64 of 32 bytes that encrypts datastore secrets; a 0600 key file in the data folder when absent. */
  secretKey: z.string().optional(),
  /** Folders filesystem datastores may be registered in, besides the data folder (always allowed). */
  filesystemRoots: z.array(z.string().min(1)).optional(),
  /**
   * What `workspaceblobstore` and `workspacefilestore` are in new workspaces: a registration (without
   * its name), e.g. an Azure container; local folders in the data folder when absent.
   */
  blobStore: z.unknown().optional(),
  fileStore: z.unknown().optional(),
  /** How long a submitted run's runner may stay silent before the run is failed (RUNNER_LOST). */
  runnerTimeoutSeconds: z.number().positive().max(86_400).default(30),
  /** The folder of the studio build; the `@wharf/web` package's `dist` when absent, `false` for none. */
  studioDir: z.union([z.string().min(1), z.literal(false)]).optional(),
})

/** The server's whole configuration, parsed once at the program's edge. */
export interface ServerConfig {
  readonly host: string
  readonly port: number
  readonly dataDir: string
  readonly databaseUrl: string | undefined
  readonly authToken: string | undefined
  /** Host names answered besides loopback ones; undefined answers any (a wildcard bind, or `*`). */
  readonly allowedHosts: readonly string[] | undefined
  readonly limits: Readonly<Limits>
  readonly logRequests: boolean
  readonly version: string
  readonly secretKey: string | undefined
  /** Folders filesystem datastores may point into: the data folder and WHARF_FILESYSTEM_ROOTS. */
  readonly filesystemRoots: readonly string[]
  readonly builtinStores: { readonly blobStore?: RegisterDatastoreRequest; readonly fileStore?: RegisterDatastoreRequest }
  /** Seconds a runner may stay silent (no heartbeat) before its run is failed; WHARF_RUNNER_TIMEOUT_SECONDS. */
  readonly runnerTimeoutSeconds: number
  /** The folder of the built studio; undefined when there is none (the root then says how to build it). */
  readonly studioDir: string | undefined
}

/** Parses a built-in datastore setting (an object or its JSON text) as a registration of `name`. */
function builtinStore(value: unknown, name: string, field: string): RegisterDatastoreRequest | undefined {
  if (value === undefined || value === '') return undefined
  let raw: unknown = value
  if (typeof value === 'string') {
    try {
      raw = JSON.parse(value) as unknown
    } catch {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `server setting "${field}" is not JSON: give a registration like {"kind":"azure_blob","accountName":…,"containerName":…,"accountKey":…}`,
        {
          details: { field },
        },
      )
    }
  }
  const parsed = RegisterDatastoreSchema.safeParse({ ...(raw as object), name })
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.join('.') || field
    // Never echo the value: it holds a key.
    throw new WharfError('INVALID_ARGUMENT', `server setting "${field}": "${where}" ${issue?.message ?? 'is invalid'}`, {
      details: { field },
    })
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

const WILDCARD = /^(0\.0\.0\.0|::|\[::\])$/

/**
 * The host names a server answers besides loopback ones: the configured ones, plus the address it is
 * bound to when that is a specific one beyond loopback. Undefined (any name) for `*`, or for a wildcard
 * bind with nothing configured: its names cannot be known, and such a server requires a token anyway.
 */
function allowedHostsOf(host: string, configured: readonly string[] | undefined): readonly string[] | undefined {
  if (configured?.includes('*')) return undefined
  const names = (configured ?? []).map((name) => name.trim().toLowerCase()).filter((name) => name !== '')
  if (isLoopbackHost(host)) return names
  if (WILDCARD.test(host)) return names.length === 0 ? undefined : names
  return [...names, host.toLowerCase().replace(/^\[(.*)\]$/, '$1')]
}

/** Reads the auth token from `file`: trimmed, at least 16 characters. Never echoes the token. */
function readAuthTokenFile(file: string): string {
  let token: string
  try {
    token = readFileSync(file, 'utf8').trim()
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'error'
    throw new WharfError(
      'INVALID_ARGUMENT',
      `cannot read the auth token file "${file}" (${code}); check WHARF_AUTH_TOKEN_FILE (or --auth-token-file)`,
      {
        cause,
        details: { field: 'authTokenFile' },
      },
    )
  }
  if (token.length < 16) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `the auth token in "${file}" is ${token.length} characters; it must be at least 16 (make one with: openssl rand -hex 24 > ${file})`,
      {
        details: { field: 'authTokenFile' },
      },
    )
  }
  return token
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
  if (raw.authToken !== undefined && raw.authTokenFile !== undefined) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      'give the auth token either directly or as a file (WHARF_AUTH_TOKEN_FILE / --auth-token-file), not both',
      {
        details: { field: 'authTokenFile' },
      },
    )
  }
  const authToken = raw.authTokenFile !== undefined ? readAuthTokenFile(raw.authTokenFile) : raw.authToken
  if (authToken?.startsWith('wrt1.') === true) {
    // Bearers with this prefix are read as run tokens (decision 0023), so this one could never be accepted.
    throw new WharfError(
      'INVALID_ARGUMENT',
      'the auth token must not start with "wrt1." (the prefix of run tokens); make another',
      {
        details: { field: 'authToken' },
      },
    )
  }
  if (raw.databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(raw.databaseUrl)) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      'the database URL must start with postgres:// (leave it unset for the embedded SQLite database)',
      { details: { field: 'databaseUrl' } },
    )
  }
  if (!isLoopbackHost(raw.host) && authToken === undefined) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `refusing to listen on ${raw.host} without an auth token: anyone who can reach it could read and write your runs. ` +
        'Set WHARF_AUTH_TOKEN_FILE (or --auth-token-file) to a file holding a secret of at least 16 characters, or bind to 127.0.0.1',
      { details: { field: 'host' } },
    )
  }
  const limits = Object.freeze({ ...DEFAULT_LIMITS, ...(raw.limits as Partial<Limits>) })
  return Object.freeze({
    host: raw.host,
    port: raw.port,
    dataDir: raw.dataDir,
    databaseUrl: raw.databaseUrl,
    authToken,
    allowedHosts: allowedHostsOf(raw.host, raw.allowedHosts),
    limits,
    logRequests: raw.logRequests,
    version: raw.version,
    secretKey: raw.secretKey,
    // Folders only where the server was told to, even on loopback: a page that reaches a loopback server
    // (DNS rebinding) or anyone with the token could otherwise read any file the server's user can.
    filesystemRoots: [path.resolve(raw.dataDir), ...(raw.filesystemRoots ?? [])].map((root) => {
      if (!path.isAbsolute(root)) {
        throw new WharfError('INVALID_ARGUMENT', `server setting "filesystemRoots": "${root}" is not an absolute path`, {
          details: { field: 'filesystemRoots' },
        })
      }
      return path.resolve(root)
    }),
    builtinStores: Object.freeze({
      ...optional('blobStore', builtinStore(raw.blobStore, 'workspaceblobstore', 'blobStore')),
      ...optional('fileStore', builtinStore(raw.fileStore, 'workspacefilestore', 'fileStore')),
    }),
    runnerTimeoutSeconds: raw.runnerTimeoutSeconds,
    studioDir: raw.studioDir === false ? undefined : (raw.studioDir ?? defaultStudioDir()),
  })
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>)
}
