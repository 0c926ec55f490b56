import { createHmac, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import {
  WharfError,
  printable,
  type RouteDef,
  type RouteName,
  type Run,
  type RunDefinition,
  type RunToken,
} from '@wharf/contract'
import { toKeyPrefix } from '@wharf/datastores'

/** Every run token starts with this: the format's version, and how a bearer is told from the server's token. */
export const RUN_TOKEN_PREFIX = 'wrt1.'

/** The label the signing key is derived under from the server's secret key (decision 0023). */
export const RUN_TOKEN_KEY_LABEL = 'run-token-hmac-v1'

/** One datastore a run token reaches, and the folder (or file) in it: `prefix` null is the whole datastore. */
export interface DatastoreScope {
  readonly datastore: string
  readonly prefix: string | null
}

/** What a verified run token allows: one run of one workspace, its snapshot, and the data its definition names. */
export interface RunTokenClaims {
  readonly workspace: string
  readonly runId: string
  readonly snapshotId: string | null
  /** What the run's inputs name (downloads, mounts), each a datastore and a path in it. */
  readonly read: readonly DatastoreScope[]
  /** What the run's outputs name (uploads), `{runId}` replaced; writing a prefix implies reading it. */
  readonly write: readonly DatastoreScope[]
  /** Epoch seconds after which the token is refused. */
  readonly expiresAt: number
}

const ScopeSchema = z.tuple([z.string(), z.string().nullable()])

const PayloadSchema = z.strictObject({
  v: z.literal(2),
  ws: z.string(),
  run: z.string(),
  snap: z.string().nullable(),
  r: z.array(ScopeSchema),
  w: z.array(ScopeSchema),
  exp: z.number().int(),
})

/** A day: how long a run's token outlives the run's longest allowed duration by default. */
const GRACE_SECONDS = 24 * 3600

/** True when a bearer token is a run token (which is verified, never compared with the server's token). */
export function isRunToken(bearer: string): boolean {
  return bearer.startsWith(RUN_TOKEN_PREFIX)
}

/**
 * A reference's path as a scope prefix: `{runId}` replaced, without leading or trailing slashes (as the
 * runner places it); null for the whole datastore (absent, `/`, `.`).
 */
export function scopePrefixOf(pathOnDatastore: string | null, runId: string): string | null {
  const prefix = (pathOnDatastore ?? '')
    .replaceAll('{runId}', runId)
    .replace(/^\/+|\/+$/g, '')
    .replace(/^\.$/, '')
  return prefix === '' ? null : prefix
}

function scopeKey(scope: DatastoreScope): string {
  return JSON.stringify([scope.datastore, scope.prefix])
}

function uniqueScopes(scopes: DatastoreScope[]): DatastoreScope[] {
  const seen = new Map<string, DatastoreScope>()
  for (const scope of scopes) seen.set(scopeKey(scope), scope)
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, scope]) => scope)
}

/**
 * What a run reads and writes, from its stored definition: each download or mount reference gives read
 * of its datastore path, each upload write (and read) of its own. The source snapshot is reached through
 * the snapshot routes only, never its datastore.
 */
export function datastoreScopesOf(
  definition: RunDefinition | null,
  runId: string,
): { read: DatastoreScope[]; write: DatastoreScope[] } {
  if (definition === null) return { read: [], write: [] }
  const read: DatastoreScope[] = []
  const write: DatastoreScope[] = []
  for (const reference of definition.dataReferences) {
    const scope = { datastore: reference.datastore, prefix: scopePrefixOf(reference.pathOnDatastore, runId) }
    if (reference.mode === 'upload') write.push(scope)
    else read.push(scope)
  }
  return { read: uniqueScopes(read), write: uniqueScopes(write) }
}

/** The folder of Wharf's own files in a datastore (snapshot contents): never reached by a run token's datastore routes. */
const WHARF_FOLDER = '.wharf'

/** True when `key` (a datastore key, or a listing prefix) is `prefix` or inside it. */
function inside(key: string, prefix: string | null): boolean {
  return prefix === null || key === prefix || key.startsWith(`${prefix}/`)
}

/** Why a run token may not reach `key` whatever its scopes: Wharf's own folder, or another run's artifacts. */
function alwaysRefused(claims: RunTokenClaims, key: string): string | undefined {
  if (key === WHARF_FOLDER || key.startsWith(`${WHARF_FOLDER}/`)) {
    return `a run token cannot reach "${WHARF_FOLDER}/" of a datastore (Wharf's own files; the run's snapshot is read through the snapshot routes)`
  }
  const match = /^ExperimentRun\/([^/]*)(\/|$)/.exec(key)
  if (match !== null && match[1] !== claims.runId) {
    return `a run token cannot reach another run's artifacts ("ExperimentRun/${printable(match[1] ?? '')}/")`
  }
  return undefined
}

/** The scopes of a token on one datastore for an operation (write scopes count for reading too). */
export function scopesOn(claims: RunTokenClaims, datastore: string, operation: 'read' | 'write'): DatastoreScope[] {
  const scopes = operation === 'write' ? claims.write : [...claims.read, ...claims.write]
  return scopes.filter((scope) => scope.datastore === datastore)
}

/** True when a run token may read (or write) the file `key` of `datastore` through the file routes. */
export function mayReach(claims: RunTokenClaims, file: { datastore: string; key: string }, operation: 'read' | 'write'): boolean {
  const { datastore, key } = file
  if (alwaysRefused(claims, key) !== undefined) return false
  return scopesOn(claims, datastore, operation).some((scope) => inside(key, scope.prefix))
}

/** True when the token's scope for `operation` on `datastore` includes the whole datastore. */
export function reachesWholeDatastore(claims: RunTokenClaims, datastore: string, operation: 'read' | 'write'): boolean {
  return scopesOn(claims, datastore, operation).some((scope) => scope.prefix === null)
}

/** Mints and verifies run tokens with one HMAC-SHA256 key. */
export interface RunTokens {
  /** A token for `run` (scopes from its stored definition), lasting `expiresInSeconds` (default its longest duration plus a day). */
  mint(options: { run: Run; expiresInSeconds?: number; now?: number }): RunToken
  /** The claims of a run token; UNAUTHENTICATED (never echoing the token) when it is malformed, altered or expired. */
  verify(token: string, now?: number): RunTokenClaims
}

function refused(why: string): WharfError {
  return new WharfError('UNAUTHENTICATED', `the run token was not accepted: ${why}`)
}

/** Run tokens signed with `key` (32 bytes derived from the server's secret key). */
export function createRunTokens(key: Buffer): RunTokens {
  const sign = (body: string): Buffer => createHmac('sha256', key).update(body).digest()
  return {
    mint({ run, expiresInSeconds, now = Date.now() }) {
      const scopes = datastoreScopesOf(run.definition, run.id)
      const lifetime = expiresInSeconds ?? (run.definition?.maxRunDurationSeconds ?? 0) + GRACE_SECONDS
      const exp = Math.floor(now / 1000) + lifetime
      const tuples = (list: DatastoreScope[]) => list.map((scope) => [scope.datastore, scope.prefix])
      const payload = {
        v: 2,
        ws: run.workspace,
        run: run.id,
        snap: run.snapshotId,
        r: tuples(scopes.read),
        w: tuples(scopes.write),
        exp,
      }
      const body = RUN_TOKEN_PREFIX + Buffer.from(JSON.stringify(payload)).toString('base64url')
      return { token: `${body}.${sign(body).toString('base64url')}`, expiresOn: new Date(exp * 1000).toISOString() }
    },
    verify(token, now = Date.now()) {
      const parts = token.split('.')
      if (parts.length !== 3 || `${parts[0]}.` !== RUN_TOKEN_PREFIX) {
        throw refused('it is not in the run token format (wrt1.<payload>.<signature>); use the token the run was given')
      }
      const body = `${parts[0]}.${parts[1]}`
      const given = Buffer.from(parts[2] ?? '', 'base64url')
      const expected = sign(body)
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw refused(
          "its signature does not match this server's key (it was altered, or made by a server with another WHARF_SECRET_KEY); mint a new one for the run",
        )
      }
      let payload: z.infer<typeof PayloadSchema>
      try {
        payload = PayloadSchema.parse(JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')))
      } catch (cause) {
        throw new WharfError('UNAUTHENTICATED', 'the run token was not accepted: its payload is not one this server reads', {
          cause,
        })
      }
      if (Math.floor(now / 1000) >= payload.exp) {
        throw refused(
          `it expired at ${new Date(payload.exp * 1000).toISOString()}; mint a new one for run "${printable(payload.run)}" (POST …/runs/${printable(payload.run)}/token)`,
        )
      }
      return {
        workspace: payload.ws,
        runId: payload.run,
        snapshotId: payload.snap,
        read: payload.r.map(([datastore, prefix]) => ({ datastore, prefix })),
        write: payload.w.map(([datastore, prefix]) => ({ datastore, prefix })),
        expiresAt: payload.exp,
      }
    },
  }
}

/** A bound request as the run-token check sees it: the route and what the binder read. */
export interface GuardedRequest {
  name: RouteName
  def: RouteDef
  params: Record<string, unknown>
  query: unknown
  body: unknown
  /** The datastore file a file route names (checked as a key), if any. */
  key?: string
}

/** Reads what a run-token check needs from the store: the file contents a snapshot lists. */
export interface RunTokenLookups {
  /** The SHA-256s of the files of a snapshot, and its datastore; undefined when there is none. */
  snapshotContents(ref: {
    workspace: string
    id: string
  }): Promise<{ datastore: string; sha256s: ReadonlySet<string> } | undefined>
}

function forbidden(message: string): WharfError {
  return new WharfError('FORBIDDEN', message)
}

/**
 * Decides whether a run token may make this request, from its route's `runToken` access (contract
 * `RouteDef.runToken`); FORBIDDEN, saying what the token can do, otherwise. The one place run tokens are
 * held to their scope.
 */
export async function authorizeRunToken(
  claims: RunTokenClaims,
  request: GuardedRequest,
  lookups: RunTokenLookups,
): Promise<void> {
  const { name, def, params } = request
  const ownRun = `run "${claims.runId}" of workspace "${claims.workspace}"`
  const access = def.runToken
  if (access === undefined) {
    throw forbidden(
      `a run token can only act on its own run (${ownRun}), read its snapshot and the workspace's assets, register its own artifacts and use the datastores its definition names; ${name} needs the server's auth token`,
    )
  }
  const workspace = params.workspace
  if (workspace !== undefined && workspace !== claims.workspace) {
    throw forbidden(`a run token can only act in its own workspace "${claims.workspace}"`)
  }
  const datastore = params.datastore as string | undefined
  switch (access) {
    case 'workspace':
      return
    case 'run':
      if (params.runId !== claims.runId) {
        throw forbidden(`a run token can only act on its own run (${ownRun}), not run "${printable(String(params.runId))}"`)
      }
      return
    case 'datastore-read':
    case 'datastore-write': {
      const operation =
        access === 'datastore-write' || (request.body as { operation?: unknown } | undefined)?.operation === 'write'
          ? 'write'
          : 'read'
      const scopes = datastore === undefined ? [] : scopesOn(claims, datastore, operation)
      const what = operation === 'write' ? "its run's outputs name" : "its run's definition names"
      const all = operation === 'write' ? claims.write : [...claims.read, ...claims.write]
      if (datastore === undefined || scopes.length === 0) {
        throw forbidden(
          `a run token can ${operation} only what ${what} (${listOf(all)}), not datastore "${printable(datastore ?? '')}"`,
        )
      }
      const outside = (path: string) =>
        forbidden(
          `a run token can ${operation} only what ${what} (${listOf(scopes)}), not "${printable(path)}" of datastore "${printable(datastore)}"`,
        )
      if (request.key !== undefined) {
        const why = alwaysRefused(claims, request.key)
        if (why !== undefined) throw forbidden(why)
        if (!scopes.some((scope) => inside(request.key as string, scope.prefix))) throw outside(request.key)
      }
      if (name === 'listDatastoreFiles') {
        const raw = (request.query as { prefix?: string } | undefined)?.prefix
        const prefix = raw === undefined || raw === '' ? '' : toKeyPrefix(raw)
        if (prefix === '') {
          if (!scopes.some((scope) => scope.prefix === null)) {
            throw forbidden(
              `a run token can list only what its run's definition names (${listOf(scopes)}); pass a prefix inside it to list datastore "${printable(datastore)}"`,
            )
          }
          return
        }
        const bare = prefix.replace(/\/$/, '')
        const why = alwaysRefused(claims, bare)
        if (why !== undefined) throw forbidden(why)
        if (!scopes.some((scope) => inside(bare, scope.prefix))) throw outside(prefix)
      }
      return
    }
    case 'assets':
      return
    case 'promote': {
      if (name === 'promoteAsset') {
        const runId = (request.body as { runId?: unknown } | undefined)?.runId
        if (runId !== claims.runId) {
          throw forbidden(
            `a run token can promote only its own run's artifacts (${ownRun}), not run "${printable(String(runId))}"`,
          )
        }
        return
      }
      // setAssetAlias: the store allows only a version made from the token's own run, and only moving an
      // alias that points at one, in the same transaction as the change (the route passes the run).
      return
    }
    case 'snapshot': {
      if (claims.snapshotId === null) throw forbidden(`run "${claims.runId}" has no snapshot for its token to read`)
      if (params.snapshotId !== undefined) {
        if (params.snapshotId !== claims.snapshotId) {
          throw forbidden(`a run token can read only its run's snapshot "${claims.snapshotId}"`)
        }
        return
      }
      const sha256 = params.sha256 as string | undefined
      const snapshot = await lookups.snapshotContents({ workspace: claims.workspace, id: claims.snapshotId })
      const asked = (request.query as { datastore?: string } | undefined)?.datastore
      if (
        sha256 === undefined ||
        snapshot === undefined ||
        !snapshot.sha256s.has(sha256) ||
        (asked !== undefined && asked !== snapshot.datastore)
      ) {
        throw forbidden(`a run token can read only the file contents its run's snapshot "${claims.snapshotId}" lists`)
      }
      return
    }
  }
}

function listOf(scopes: readonly DatastoreScope[]): string {
  const unique = [
    ...new Set(scopes.map((scope) => (scope.prefix === null ? `"${scope.datastore}"` : `"${scope.datastore}:${scope.prefix}/"`))),
  ]
  return unique.length === 0 ? 'none' : unique.join(', ')
}
