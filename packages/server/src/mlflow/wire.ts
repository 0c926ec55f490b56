import { hasControlChars } from '@wharf/contract'
import type { AppContext } from '../http.js'
import { readJsonBody } from '../http.js'
import { MlflowError, invalidParameter } from './errors.js'

/** The fields of one MLflow request: the query string of a GET, the JSON body otherwise. */
export type RequestFields = Record<string, unknown>

const DOCS_HINT = 'See the API docs for more information about request parameters.'

/** The query string as fields: a repeated key becomes a list. */
function queryFields(c: AppContext): RequestFields {
  const fields: RequestFields = {}
  for (const [key, values] of Object.entries(c.req.queries())) fields[key] = values.length === 1 ? values[0] : values
  return fields
}

/**
 * Reads an MLflow request the way MLflow's server does: a GET's query string (a repeated key becomes a
 * list), otherwise the JSON body (a missing body is `{}`; a body that is itself a JSON string, as older
 * clients send, is decoded again). POST and PUT need `Content-Type: application/json`. A DELETE takes
 * its fields from the query string too (the Python client sends a JSON body, other clients a query
 * string); the body wins where both name a field.
 */
export async function readFields(c: AppContext, limit: number): Promise<RequestFields> {
  if (c.req.method === 'GET') return queryFields(c)
  const query = c.req.method === 'DELETE' ? queryFields(c) : {}
  const type = c.req.header('content-type')
  const length = c.req.header('content-length')
  if (type === undefined || !/^application\/json\b/i.test(type)) {
    if ((c.req.method === 'DELETE' || c.req.method === 'PATCH') && (length === undefined || length === '0')) return query
    throw new MlflowError('INVALID_PARAMETER_VALUE', 'Bad Request. Content-Type header is missing or is not application/json.')
  }
  if (length === '0') return query
  let body = await readJsonBody(c, limit)
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body) as unknown
    } catch {
      throw new MlflowError('BAD_REQUEST', 'the request body is a string that is not JSON')
    }
  }
  if (body === null || body === undefined) return query
  if (typeof body !== 'object' || Array.isArray(body))
    throw new MlflowError('BAD_REQUEST', 'the request body must be a JSON object')
  return { ...query, ...(body as RequestFields) }
}

function missing(name: string): MlflowError {
  return invalidParameter(`Missing value for required parameter '${name}'. ${DOCS_HINT}`)
}

function wrongType(name: string, value: unknown, expected: string): MlflowError {
  const shown = typeof value === 'string' ? `'${value.slice(0, 100)}'` : JSON.stringify(value)?.slice(0, 100)
  return invalidParameter(`Invalid value ${shown} for parameter '${name}' supplied: expected ${expected}. ${DOCS_HINT}`)
}

/** An optional string field (numbers are taken as their text, as protobuf parsing does for ids). */
export function optionalString(fields: RequestFields, name: string): string | undefined {
  const value = fields[name]
  if (value === undefined || value === null) return undefined
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value !== 'string') throw wrongType(name, value, 'a string')
  return value
}

/** The text of an enum field given as its name or its number; undefined when absent. */
export function enumText(fields: RequestFields, name: string): string | undefined {
  const value = fields[name]
  if (value === undefined || value === null || value === '') return undefined
  if (typeof value === 'string') return value
  if (typeof value === 'number') return String(value)
  throw wrongType(name, value, 'a name or a number')
}

/** A required, non-empty string field. */
export function requiredString(fields: RequestFields, name: string): string {
  const value = optionalString(fields, name)
  if (value === undefined || value === '') throw missing(name)
  return value
}

/** The run id of a request: `run_id`, or its old alias `run_uuid`. */
export function runIdOf(fields: RequestFields): string {
  const id = optionalString(fields, 'run_id') ?? optionalString(fields, 'run_uuid')
  if (id === undefined || id === '') throw missing('run_id')
  return id
}

/** An optional whole number (a query string's text too); INVALID_PARAMETER_VALUE otherwise. */
export function optionalInteger(fields: RequestFields, name: string): number | undefined {
  const value = fields[name]
  if (value === undefined || value === null || value === '') return undefined
  const number = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) throw wrongType(name, value, 'an integer')
  return number
}

/** An optional list of strings (one query value becomes a list of one). */
export function stringList(fields: RequestFields, name: string): string[] {
  const value = fields[name]
  if (value === undefined || value === null) return []
  const list = Array.isArray(value) ? (value as unknown[]) : [value]
  return list.map((item) => {
    if (typeof item === 'number') return String(item)
    if (typeof item !== 'string') throw wrongType(name, item, 'a list of strings')
    return item
  })
}

/** An optional list of objects. */
export function objectList(fields: RequestFields, name: string): RequestFields[] {
  const value = fields[name]
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw wrongType(name, value, 'a list')
  return value.map((item: unknown) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw wrongType(name, item, 'a list of objects')
    return item as RequestFields
  })
}

/**
 * A metric value: a JSON number, or a string protobuf reads as a double ("NaN", "Infinity",
 * "-Infinity", or a number's text). Booleans are refused, as MLflow does.
 */
export function metricValue(value: unknown, name: string): number {
  if (typeof value === 'number') return value
  if (typeof value === 'string') {
    if (value === 'NaN') return NaN
    if (value === 'Infinity') return Infinity
    if (value === '-Infinity') return -Infinity
    if (value.trim() !== '' && Number.isFinite(Number(value))) return Number(value)
  }
  if (value === undefined || value === null) throw missing(name)
  throw wrongType(name, value, 'a number')
}

/** The limits MLflow's server enforces (mlflow/utils/validation.py). */
export const MLFLOW_LIMITS = {
  keyLength: 250,
  paramValueLength: 6000,
  runTagValueLength: 8000,
  experimentTagValueLength: 5000,
  experimentNameLength: 500,
  metricsPerBatch: 1000,
  paramsPerBatch: 100,
  tagsPerBatch: 100,
  entitiesPerBatch: 1000,
  searchRunsMax: 50_000,
  searchRunsDefault: 1000,
  searchExperimentsMax: 50_000,
  historyPageMax: 25_000,
  bulkIntervalRuns: 100,
  bulkIntervalPoints: 2500,
  loggedModelsPage: 50,
  registryPageMax: 1000,
  registryTagValueLength: 100_000,
} as const

// MLflow's key rule on POSIX: letters, digits, "_", "-", ".", " ", "/" and ":".
const KEY_CHARS = /^[/\w.\- :]*$/

/** Checks a metric, param or tag key as MLflow does: present, short enough, its characters, a normalized relative path. */
export function assertKey(key: unknown, what: 'metric' | 'param' | 'tag'): asserts key is string {
  if (typeof key !== 'string' || key === '') throw missing('key')
  if (key.length > MLFLOW_LIMITS.keyLength) {
    throw invalidParameter(
      `${what} key '${key.slice(0, 60)}…' had length ${key.length}, which exceeded length limit of ${MLFLOW_LIMITS.keyLength}`,
    )
  }
  if (!KEY_CHARS.test(key)) {
    throw invalidParameter(
      `Invalid ${what} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).`,
    )
  }
  const segments = key.split('/')
  if (key.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw invalidParameter(
      `Invalid ${what} name: '${key}'. Names cannot be absolute paths, contain '.' or '..' segments, or empty segments.`,
    )
  }
}

/** Checks a value's length against its MLflow limit. */
export function assertValueLength(options: { what: string; key: string; value: string; max: number }): void {
  const { what, key, value, max } = options
  if (value.length > max) {
    throw invalidParameter(
      `${what} value '${value.slice(0, 60)}…' for key '${key}' had length ${value.length}, which exceeded length limit of ${max}`,
    )
  }
}

/** Checks a name or free text has no control characters. */
export function assertPrintable(text: string, what: string): void {
  if (hasControlChars(text)) throw invalidParameter(`${what} '${text.slice(0, 60)}' contains a control character`)
}

/** An MLflow offset page token: base64 of `{"offset": n}`. */
export function encodeOffsetToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64')
}

/** The offset of an MLflow page token; 0 without one. */
export function decodeOffsetToken(token: string | undefined): number {
  if (token === undefined || token === '') return 0
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { offset?: unknown }
    if (typeof parsed.offset === 'number' && Number.isSafeInteger(parsed.offset) && parsed.offset >= 0) return parsed.offset
  } catch {
    // falls through to the error below
  }
  throw invalidParameter(`Invalid page token, could not base64-decode: '${token.slice(0, 60)}'`)
}

/** Milliseconds since the epoch of an ISO time. */
export function msOf(iso: string): number {
  return Date.parse(iso)
}

/** The largest epoch milliseconds a JavaScript date holds (±100 million days). */
const MAX_EPOCH_MS = 8.64e15

/** The ISO time of epoch milliseconds; a time no date can hold is an invalid parameter (`what` names it). */
export function isoOf(ms: number, what = 'time'): string {
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_EPOCH_MS) {
    throw invalidParameter(`Invalid value ${ms} for parameter '${what}': milliseconds since the epoch within ±${MAX_EPOCH_MS}`)
  }
  return new Date(ms).toISOString()
}

/** A double as protobuf JSON writes it: non-finite values as strings. */
export function jsonDouble(value: number): number | string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return 'Infinity'
  if (value === -Infinity) return '-Infinity'
  return value
}

/** Key/value pairs in MLflow's list form. */
export function keyValues(map: Record<string, string>): { key: string; value: string }[] {
  return Object.entries(map).map(([key, value]) => ({ key, value }))
}
