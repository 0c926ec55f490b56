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

/** Every run token starts with this: the format's version, and how a bearer is told from the server's token. */
export const RUN_TOKEN_PREFIX = 'wrt1.'

/** The label the signing key is derived under from the server's secret key (decision 0023). */
export const RUN_TOKEN_KEY_LABEL = 'run-token-hmac-v1'

/** What a verified run token allows: one run of one workspace, its snapshot, and the datastores its definition names. */
export interface RunTokenClaims {
  readonly workspace: string
  readonly runId: string
  readonly snapshotId: string | null
  /** Datastores the run's inputs name (downloads, mounts, the source snapshot's datastore). */
  readonly read: readonly string[]
  /** Datastores the run's outputs name (uploads). */
  readonly write: readonly string[]
  /** Epoch seconds after which the token is refused. */
  readonly expiresAt: number
}

const PayloadSchema = z.strictObject({
  v: z.literal(1),
  ws: z.string(),
  run: z.string(),
  snap: z.string().nullable(),
  r: z.array(z.string()),
  w: z.array(z.string()),
  exp: z.number().int(),
})

/** A day: how long a run's token outlives the run's longest allowed duration by default. */
const GRACE_SECONDS = 24 * 3600

/** True when a bearer token is a run token (which is verified, never compared with the server's token). */
export function isRunToken(bearer: string): boolean {
  return bearer.startsWith(RUN_TOKEN_PREFIX)
}

/** The datastores a run reads and writes, from its stored definition: inputs and source are read, outputs written. */
export function datastoreScopesOf(definition: RunDefinition | null): { read: string[]; write: string[] } {
  if (definition === null) return { read: [], write: [] }
  const read = new Set<string>([definition.sourceDirectoryDataStore])
  const write = new Set<string>()
  for (const reference of definition.dataReferences) {
    if (reference.mode === 'upload') write.add(reference.datastore)
    else read.add(reference.datastore)
  }
  return { read: [...read].sort(), write: [...write].sort() }
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
      const scopes = datastoreScopesOf(run.definition)
      const lifetime = expiresInSeconds ?? (run.definition?.maxRunDurationSeconds ?? 0) + GRACE_SECONDS
      const exp = Math.floor(now / 1000) + lifetime
      const payload = { v: 1, ws: run.workspace, run: run.id, snap: run.snapshotId, r: scopes.read, w: scopes.write, exp }
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
        read: payload.r,
        write: payload.w,
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
      `a run token can only act on its own run (${ownRun}), read its snapshot and use the datastores its definition names; ${name} needs the server's auth token`,
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
    case 'datastore-read': {
      const wantsWrite = (request.body as { operation?: unknown } | undefined)?.operation === 'write'
      if (wantsWrite) {
        if (datastore === undefined || !claims.write.includes(datastore)) {
          throw forbidden(
            `a run token can write only to the datastores its run's outputs name (${listOf(claims.write)}), not "${printable(datastore ?? '')}"`,
          )
        }
        return
      }
      if (datastore === undefined || !(claims.read.includes(datastore) || claims.write.includes(datastore))) {
        throw forbidden(
          `a run token can read only the datastores its run's definition names (${listOf([...claims.read, ...claims.write])}), not "${printable(datastore ?? '')}"`,
        )
      }
      return
    }
    case 'datastore-write':
      if (datastore === undefined || !claims.write.includes(datastore)) {
        throw forbidden(
          `a run token can write only to the datastores its run's outputs name (${listOf(claims.write)}), not "${printable(datastore ?? '')}"`,
        )
      }
      return
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

function listOf(names: readonly string[]): string {
  const unique = [...new Set(names)]
  return unique.length === 0 ? 'none' : unique.map((n) => `"${n}"`).join(', ')
}
