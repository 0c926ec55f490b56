import type { Hono } from 'hono'
import type { z } from 'zod'
import {
  API_PREFIX,
  NAME_RULES,
  ROUTES,
  WharfError,
  assertName,
  isMsgpackMediaType,
  printable,
  RunLogNameSchema,
  Sha256Schema,
  type NameRule,
  type RouteDef,
  type RouteName,
} from '@wharf/contract'
import type { AppDeps } from './deps.js'
import { jsonKeepingSign, readJsonBody, readQuery, validate, type AppContext, type AppEnv } from './http.js'
import type { GuardedRequest, RunTokenClaims } from './run-token.js'
import { pathAfter } from './routes/file-response.js'

/** Asset names follow the experiment naming rule, but errors call them asset names. */
export const ASSET_NAME_RULE: NameRule = { ...NAME_RULES.experiment, kind: 'asset name' }

/** The `:version` of an asset: a positive integer, `latest`, or an alias (which never looks like either). */
function assetVersion(raw: string): number | 'latest' | { alias: string } {
  if (raw === 'latest') return raw
  if (NAME_RULES.assetAlias.pattern.test(raw)) return { alias: raw }
  const version = /^[1-9][0-9]{0,14}$/.test(raw) ? Number(raw) : NaN
  if (!Number.isSafeInteger(version)) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `asset version "${printable(raw)}" is not valid: use a number from 1, latest, or an alias (${NAME_RULES.assetAlias.rule})`,
      { details: { field: 'version', value: printable(raw) } },
    )
  }
  return version
}

function named(rule: NameRule): (raw: string) => string {
  return (raw) => {
    assertName(raw, rule)
    return raw
  }
}

const asIs = (raw: string): string => raw

function matching(isValid: (raw: string) => boolean, what: string, field: string): (raw: string) => string {
  return (raw) => {
    if (!isValid(raw)) {
      throw new WharfError('INVALID_ARGUMENT', `"${printable(raw)}" is not ${what}`, {
        details: { field, value: printable(raw) },
      })
    }
    return raw
  }
}

const isSha256 = (raw: string): boolean => Sha256Schema.safeParse(raw).success
const isLogName = (raw: string): boolean => RunLogNameSchema.safeParse(raw).success

type ParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never

/** Every `:param` name of the route table. */
type PathParamName = ParamNames<(typeof ROUTES)[RouteName]['path']>

/**
 * How each path parameter of the table is read, in one place: the compiler asks for a reader of every
 * name a route path has. Datastore and experiment names are looked up as they are: an unknown one is
 * a NOT_FOUND from the store, which names the way out.
 */
const PATH_PARAMS = {
  workspace: named(NAME_RULES.workspace),
  runId: named(NAME_RULES.runId),
  datastore: asIs,
  experiment: asIs,
  asset: named(ASSET_NAME_RULE),
  version: assetVersion,
  alias: named(NAME_RULES.assetAlias),
  snapshotId: matching(isSha256, 'a snapshot id (the 64 lowercase hex digits createSnapshot answers)', 'snapshotId'),
  sha256: matching(isSha256, 'a SHA-256 (64 lowercase hex digits)', 'sha256'),
  log: matching(isLogName, 'a log name (letters, digits, ".", "_" and "-", up to 64, such as std_log.txt)', 'log'),
} as const satisfies Record<PathParamName, (raw: string) => unknown>

/** The path parameters of a route, read and checked. A `*` tail is read by its handler (`pathAfter`). */
export type RouteParams<D extends RouteDef> = {
  readonly [K in ParamNames<D['path']> & PathParamName]: ReturnType<(typeof PATH_PARAMS)[K]>
}
type QueryOf<D> = D extends { query: infer Q extends z.ZodType } ? z.output<Q> : undefined
type BodyOf<D> = D extends { bodyParser: (...args: never[]) => infer T }
  ? T
  : D extends { body: infer B extends z.ZodType }
    ? z.output<B>
    : undefined
type ResponseOf<D> = D extends { response: infer R extends z.ZodType } ? z.input<R> : never

/** What a bound handler gets: the context, and the params, query and JSON body read with its route's schemas. */
export interface BoundRequest<D extends RouteDef> {
  c: AppContext
  params: RouteParams<D>
  query: QueryOf<D>
  /** The JSON body; a `binary` body is left to the handler to stream (`requestBody`). */
  body: BodyOf<D>
}

/**
 * A handler of one route: it answers the value of its response schema (sent as JSON with the route's
 * status, -0 kept), or a Response of its own (a file, or the route's other status).
 */
export type RouteHandler<D extends RouteDef> = (
  request: BoundRequest<D>,
) => Promise<ResponseOf<D> | Response> | ResponseOf<D> | Response

/** Binds a handler to one route of the table. */
export type BindRoute = <D extends RouteDef>(def: D, handler: RouteHandler<D>) => void

/**
 * Pages the server answers outside the API table, each listed here so the test that compares mounted
 * routes with ROUTES knows them: the studio (its files, and its page for any other path outside the
 * API) and the OpenAPI document itself.
 */
export const UNBOUND_ROUTES: readonly { method: 'GET'; path: string; why: string }[] = [
  { method: 'GET', path: '/*', why: 'the studio: its built files, and its page for every other path outside the API' },
  { method: 'GET', path: `${API_PREFIX}/openapi.json`, why: 'the OpenAPI document generated from ROUTES' },
]

/** What comes before the file path in the datastore file routes. */
const DATASTORE_FILE_MARK = '/files/content/'

const NAMES = new Map<RouteDef, RouteName>(Object.entries(ROUTES).map(([name, def]) => [def as RouteDef, name as RouteName]))

function readParams(c: AppContext, names: readonly PathParamName[]): Record<string, unknown> {
  const params: Record<string, unknown> = {}
  for (const name of names) params[name] = PATH_PARAMS[name](c.req.param(name) ?? '')
  return params
}

/**
 * The one way a route is mounted: `route(ROUTES.x, handler)` reads the path parameters, the query
 * (`def.query`) and the JSON body (`def.body`, or the route's `bodyParser` over the server's limits)
 * before the handler runs, and answers its value with `def.status`. With `deps.checkResponses` (tests
 * turn it on) every JSON answer is checked against `def.response` and the status against the table.
 */
export function routeBinder(
  app: Hono<AppEnv>,
  deps: Pick<AppDeps, 'config' | 'log' | 'checkResponses'> & {
    /** Holds a run token to its route's access (see `authorizeRunToken`); without it run tokens are refused. */
    authorizeRunToken?: (claims: RunTokenClaims, request: GuardedRequest) => Promise<void>
  },
): BindRoute {
  const { limits } = deps.config
  return (def, handler) => {
    const name = NAMES.get(def)
    if (name === undefined) throw new Error(`${def.method} ${def.path} is not a route of ROUTES; add it to the table first`)
    const paramNames = [...def.path.matchAll(/:([A-Za-z][A-Za-z0-9]*)/g)].map((m) => m[1] as PathParamName)
    const { query, body, bodyParser } = def
    app.on(def.method, def.path, async (c) => {
      const params = readParams(c, paramNames)
      const request = {
        c,
        params,
        query: query === undefined ? undefined : readQuery(c, query),
        body:
          body === undefined || body === 'binary'
            ? undefined
            : bodyParser !== undefined
              ? bodyParser(await readJsonBody(c, limits.jsonBodyBytes, { msgpack: def.msgpackBody === true }), limits)
              : validate(body, await readJsonBody(c, limits.jsonBodyBytes), 'body'),
      } as BoundRequest<typeof def>
      const claims = c.get('runToken')
      if (claims !== undefined) {
        if (deps.authorizeRunToken === undefined) throw new WharfError('FORBIDDEN', 'this server takes no run tokens')
        // The datastore file a file route names, so the check can hold it to the token's paths.
        const key = def.path.endsWith(DATASTORE_FILE_MARK + '*')
          ? pathAfter(c, { mark: DATASTORE_FILE_MARK, what: 'file path', limits })
          : undefined
        await deps.authorizeRunToken(claims, {
          name,
          def,
          params,
          query: request.query,
          body: request.body,
          ...(key === undefined ? {} : { key }),
        })
      }
      const answer = await handler(request)
      const response = answer instanceof Response ? answer : jsonKeepingSign(c, answer, (def.status ?? 200) as 200)
      return deps.checkResponses === true ? checkResponse(response, { name, def, log: deps.log }) : response
    })
  }
}

function contractBroken(what: string, options: { name: RouteName; log: AppDeps['log']; details: unknown }): WharfError {
  options.log.error('response breaks the contract', { route: options.name, what, details: options.details })
  return new WharfError('INTERNAL', `route ${options.name} answered what the contract refuses: ${what}`)
}

/** Checks an answer against its route's status and response schema; INTERNAL (a 500) for a mismatch. */
async function checkResponse(
  response: Response,
  context: { name: RouteName; def: RouteDef; log: AppDeps['log'] },
): Promise<Response> {
  const { name, def, log } = context
  if (def.response === 'binary') {
    if (response.status !== 200 && response.status !== 206) {
      throw contractBroken(`status ${response.status} for a download`, { name, log, details: { status: response.status } })
    }
    return response
  }
  const statuses = [def.status ?? 200, ...(def.alsoStatus ? [def.alsoStatus.status] : [])]
  // A binary form of a JSON route (the MessagePack series read) has its own checks, in its tests.
  if (isMsgpackMediaType(response.headers.get('content-type') ?? '')) return response
  if (!statuses.includes(response.status)) {
    throw contractBroken(`status ${response.status}, not ${statuses.join(' or ')}`, {
      name,
      log,
      details: { status: response.status },
    })
  }
  const sent: unknown = JSON.parse(await response.clone().text())
  const result = def.response.safeParse(sent)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw contractBroken(`${issue?.path.map(String).join('.') || 'the body'}: ${issue?.message ?? 'invalid'}`, {
      name,
      log,
      details: result.error.issues.slice(0, 5),
    })
  }
  // The schemas let unknown fields through (and drop them): an answer must not carry what the contract
  // does not list, such as a secret of a datastore record.
  const extra = unlistedField(sent, result.data)
  if (extra !== undefined)
    throw contractBroken(`${extra}: a field the response schema does not list`, { name, log, details: { field: extra } })
  return response
}

/** The path of the first field of `sent` that the parsed `kept` lost, or undefined. */
function unlistedField(sent: unknown, kept: unknown, at = ''): string | undefined {
  if (typeof sent !== 'object' || sent === null || typeof kept !== 'object' || kept === null) return undefined
  for (const key of Object.keys(sent)) {
    const where = at === '' ? key : `${at}.${key}`
    if (!Object.hasOwn(kept, key)) return where
    const found = unlistedField((sent as Record<string, unknown>)[key], (kept as Record<string, unknown>)[key], where)
    if (found !== undefined) return found
  }
  return undefined
}
