import { WharfError } from './errors.js'
import type { Limits } from './limits.js'
import { assertWellFormedText, hasControlChars, printable } from './names.js'
import { float64Column } from './metric-wire.js'
import type { MetricPointIn } from './schemas.js'

/** The limits a metric point and a batch are checked against. */
export type MetricLimits = Pick<Limits, 'metricNameLength' | 'metricTextLength' | 'pointsPerBatch'>

const POINT_KEYS = new Set(['name', 'value', 'text', 'step', 'time'])
const BATCH_KEYS = new Set(['writerId', 'sequence', 'points', 'series'])
const SERIES_KEYS = new Set(['name', 'values', 'texts', 'steps', 'times'])

function invalid(message: string, details: Record<string, unknown>): WharfError {
  return new WharfError('INVALID_ARGUMENT', message, { details })
}

/**
 * Throws INVALID_ARGUMENT or LIMIT_EXCEEDED unless `name` is a usable metric name: non-empty, no
 * control characters, within `metricNameLength`.
 */
export function assertMetricName(name: unknown, limits: Pick<Limits, 'metricNameLength'>): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw invalid('a metric name must be a non-empty string', { field: 'name' })
  }
  if (name.length > limits.metricNameLength) {
    throw new WharfError(
      'LIMIT_EXCEEDED',
      `metric name "${printable(name)}" is ${name.length} characters; the limit is ${limits.metricNameLength} (server limit "metricNameLength")`,
      { details: { limit: 'metricNameLength', max: limits.metricNameLength, actual: name.length } },
    )
  }
  if (hasControlChars(name)) {
    throw invalid(`metric name "${printable(name)}" contains a control character; use printable text`, { field: 'name' })
  }
  assertWellFormedText(name, `metric name "${printable(name)}"`, 'name')
}

/** Non-finite numbers travel as these strings in the `value` field, since JSON has no NaN or Infinity. */
export const NON_FINITE_VALUES = ['NaN', 'Infinity', '-Infinity'] as const
/** One of {@link NON_FINITE_VALUES}. */
export type NonFiniteValue = (typeof NON_FINITE_VALUES)[number]

/** True when `value` is one of the strings that stand for NaN or ±Infinity on the wire. */
export function isNonFiniteValue(value: unknown): value is NonFiniteValue {
  return typeof value === 'string' && (NON_FINITE_VALUES as readonly string[]).includes(value)
}

/** Turns a JavaScript number into its wire form: finite numbers as they are, NaN/±Infinity as strings. */
export function toWireNumber(value: number): number | NonFiniteValue {
  if (Number.isFinite(value)) return value
  if (Number.isNaN(value)) return 'NaN'
  return value > 0 ? 'Infinity' : '-Infinity'
}

/** Turns a wire number back into a JavaScript number. */
export function fromWireNumber(value: number | NonFiniteValue): number {
  return typeof value === 'number' ? value : Number(value)
}

/**
 * Where a point is, for messages and error details: a row of `points`, an entry of a series (its
 * columns are `values`, `texts`, `steps`, `times`), or one call of a client's logger.
 */
export type MetricPointPlace = { row: number } | { series: number; entry: number } | { call: string }

/** The fields of one point, whatever its form on the wire; absent ones are undefined. */
export interface MetricPointFields {
  name: string
  value?: unknown
  text?: unknown
  step?: unknown
  time?: unknown
}

type PointField = 'value' | 'text' | 'step' | 'time'

function pointLabel(place: MetricPointPlace, field: PointField): string {
  if ('row' in place) return `points[${place.row}].${field}`
  if ('series' in place) return `series[${place.series}].${field}s[${place.entry}]`
  return `metric "${printable(place.call)}": ${field}`
}

function pointInvalid(place: MetricPointPlace, field: PointField, message: string): WharfError {
  const details =
    'row' in place ? { index: place.row, field } : 'series' in place ? { index: place.series, field: `${field}s` } : { field }
  return invalid(`${pointLabel(place, field)} ${message}`, details)
}

/**
 * The one check of a metric point's fields, shared by the server's batch parser (rows and columns),
 * the zod schemas of the contract and the SDK's logger: exactly one of `value` (a number or one of
 * {@link NON_FINITE_VALUES}) and `text` (a string within `metricTextLength`, well-formed), `step` a
 * whole number from 0 to 2^53-1, `time` finite epoch milliseconds. The name is checked once per
 * series with {@link assertMetricName}, so not here. Throws INVALID_ARGUMENT or LIMIT_EXCEEDED.
 */
export function checkMetricPoint(point: MetricPointFields, options: { limits: MetricLimits; place: MetricPointPlace }): void {
  const { limits, place } = options
  const { value, text, step, time } = point
  if ((value === undefined) === (text === undefined)) {
    throw pointInvalid(
      place,
      'value',
      `("${printable(point.name)}") needs exactly one of a value (a number) or a text (a string)`,
    )
  }
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value)) && !isNonFiniteValue(value)) {
    throw pointInvalid(place, 'value', 'must be a number or one of "NaN", "Infinity", "-Infinity"; send strings as texts')
  }
  if (text !== undefined) {
    if (typeof text !== 'string') throw pointInvalid(place, 'text', 'must be a string')
    if (text.length > limits.metricTextLength) {
      throw new WharfError(
        'LIMIT_EXCEEDED',
        `${pointLabel(place, 'text')} is ${text.length} characters; the limit is ${limits.metricTextLength} (server limit "metricTextLength")`,
        { details: { limit: 'metricTextLength', max: limits.metricTextLength, actual: text.length } },
      )
    }
    assertWellFormedText(text, pointLabel(place, 'text'), 'text')
  }
  if (step !== undefined && (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0)) {
    throw pointInvalid(place, 'step', `must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`)
  }
  if (time !== undefined && (typeof time !== 'number' || !Number.isFinite(time))) {
    throw pointInvalid(place, 'time', 'must be a finite number of epoch milliseconds')
  }
}

/**
 * Validates one metric point (already parsed from JSON) and returns it typed. Written by hand rather
 * than with the zod schema because it runs for every point of every batch: the ingest hot path.
 */
export function parseMetricPoint(input: unknown, limits: MetricLimits, index = 0): MetricPointIn {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid(`points[${index}] must be an object like {"name":"loss","value":0.3}`, { index })
  }
  const point = input as Record<string, unknown>
  for (const key in point) {
    if (!POINT_KEYS.has(key)) {
      throw invalid(`points[${index}] has an unknown field "${printable(key)}"; allowed: name, value, text, step, time`, {
        index,
        field: key,
      })
    }
  }
  assertMetricName(point.name, limits)
  checkMetricPoint(point as unknown as MetricPointFields, { limits, place: { row: index } })
  return point as MetricPointIn
}

/** A validated batch: its points in order (`points` first, then each series), ready to store. */
export interface ParsedMetricBatch {
  writerId?: string
  sequence?: number
  points: MetricPointIn[]
}

function tooManyPoints(count: number, max: number): WharfError {
  return new WharfError(
    'LIMIT_EXCEEDED',
    `the batch has ${count} points or more; the limit is ${max} (server limit "pointsPerBatch"); send smaller batches`,
    { details: { limit: 'pointsPerBatch', max, actual: count } },
  )
}

function optionalArray(series: Record<string, unknown>, key: string, where: string): unknown[] | undefined {
  const value = series[key]
  if (value === undefined) return undefined
  if (!Array.isArray(value)) throw invalid(`${where}.${key} must be an array`, { field: key })
  return value as unknown[]
}

/**
 * A number column: a list, or (in a MessagePack body) `bin` bytes of little-endian float64s, read as
 * a Float64Array. INVALID_ARGUMENT for anything else, or bytes that are not a whole number of doubles.
 */
function optionalNumberColumn(
  series: Record<string, unknown>,
  key: 'values' | 'steps' | 'times',
  where: string,
): unknown[] | Float64Array | undefined {
  const value = series[key]
  if (!(value instanceof Uint8Array)) return optionalArray(series, key, where)
  const doubles = float64Column(value)
  if (doubles === undefined) {
    throw invalid(`${where}.${key} is ${value.length} bytes of binary, not a whole number of 8-byte little-endian float64s`, {
      field: key,
    })
  }
  return doubles
}

/** Validates one columnar series and appends its points to `out`. */
function appendSeries(input: unknown, options: { index: number; limits: MetricLimits; out: MetricPointIn[] }): void {
  const { index, limits, out } = options
  const where = `series[${index}]`
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid(`${where} must be an object like {"name":"loss","values":[0.3,0.2]}`, { index })
  }
  const series = input as Record<string, unknown>
  for (const key in series) {
    if (!SERIES_KEYS.has(key)) {
      throw invalid(`${where} has an unknown field "${printable(key)}"; allowed: name, values, texts, steps, times`, {
        index,
        field: key,
      })
    }
  }
  const name = series.name
  assertMetricName(name, limits)
  const values = optionalNumberColumn(series, 'values', where)
  const texts = optionalArray(series, 'texts', where)
  const steps = optionalNumberColumn(series, 'steps', where)
  const times = optionalNumberColumn(series, 'times', where)
  const count = values?.length ?? texts?.length ?? 0
  if (values === undefined && texts === undefined) {
    throw invalid(`${where} ("${printable(name)}") needs "values" (numbers) or "texts" (strings)`, { index, field: 'values' })
  }
  for (const [key, column] of [
    ['values', values],
    ['texts', texts],
    ['steps', steps],
    ['times', times],
  ] as const) {
    if (column !== undefined && column.length !== count) {
      throw invalid(`${where}.${key} has ${column.length} entries but the series has ${count}; columns must be the same length`, {
        index,
        field: key,
      })
    }
  }
  if (out.length + count > limits.pointsPerBatch) throw tooManyPoints(out.length + count, limits.pointsPerBatch)
  if (values instanceof Float64Array && texts === undefined && !Array.isArray(steps) && !Array.isArray(times)) {
    appendFloat64Points({ name, values, steps, times }, { index, limits, out })
    return
  }
  for (let i = 0; i < count; i++) {
    const value = values?.[i] ?? undefined
    const text = texts?.[i] ?? undefined
    const step = steps?.[i]
    const time = times?.[i]
    checkMetricPoint({ name, value, text, step, time }, { limits, place: { series: index, entry: i } })
    const point = (value !== undefined ? { name, value } : { name, text }) as MetricPointIn
    if (step !== undefined) point.step = step as number
    if (time !== undefined) point.time = time as number
    out.push(point)
  }
}

/** A series whose columns are all float64 (the SDK's MessagePack form), by name. */
interface Float64Series {
  name: string
  values: Float64Array
  steps: Float64Array | undefined
  times: Float64Array | undefined
}

/**
 * The loop of {@link appendSeries} for all-float64 columns: a double is always a usable value (NaN and
 * ±Infinity become their wire strings), so only steps and times need a look. A point that fails goes
 * through {@link checkMetricPoint}, so the error is the one a JSON body gets. Kept apart so the general
 * loop, which reads lists of anything, does not slow this one down (measured: 1.6x with one loop).
 */
function appendFloat64Points(
  series: Float64Series,
  options: { index: number; limits: MetricLimits; out: MetricPointIn[] },
): void {
  const { name, values, steps, times } = series
  const { index, limits, out } = options
  for (let i = 0; i < values.length; i++) {
    const raw = values[i] as number
    const point: MetricPointIn = { name, value: Number.isFinite(raw) ? raw : toWireNumber(raw) }
    if (steps !== undefined) point.step = steps[i]
    if (times !== undefined) point.time = times[i]
    const { step, time } = point
    if ((step !== undefined && !(Number.isSafeInteger(step) && step >= 0)) || (time !== undefined && !Number.isFinite(time))) {
      checkMetricPoint(point, { limits, place: { series: index, entry: i } })
    }
    out.push(point)
  }
}

/**
 * Validates a whole ingest batch (parsed JSON, or decoded MessagePack whose number columns may be
 * float64 bytes) against the limits and returns its points in order.
 * Hand-written rather than zod because it runs for every point of every batch: the ingest hot path.
 */
export function parseMetricBatch(input: unknown, limits: MetricLimits): ParsedMetricBatch {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid('the body must be an object like {"points":[{"name":"loss","value":0.3}]}', {})
  }
  const batch = input as Record<string, unknown>
  for (const key in batch) {
    if (!BATCH_KEYS.has(key)) {
      throw invalid(`unknown field "${printable(key)}"; allowed: writerId, sequence, points, series`, { field: key })
    }
  }
  const { writerId, sequence, points, series } = batch
  if (writerId !== undefined && (typeof writerId !== 'string' || writerId.length === 0 || writerId.length > 128)) {
    throw invalid('writerId must be a string of 1 to 128 characters', { field: 'writerId' })
  }
  if (sequence !== undefined && (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 0)) {
    throw invalid('sequence must be a whole number from 0', { field: 'sequence' })
  }
  if ((writerId === undefined) !== (sequence === undefined)) {
    throw invalid('writerId and sequence go together: send both (for an idempotent batch) or neither', {
      field: writerId === undefined ? 'writerId' : 'sequence',
    })
  }
  if (points === undefined && series === undefined) {
    throw invalid('the batch needs "points" (a list of {name, value}) or "series" (columns per metric)', { field: 'points' })
  }
  if (points !== undefined && !Array.isArray(points)) throw invalid('points must be an array', { field: 'points' })
  if (series !== undefined && !Array.isArray(series)) throw invalid('series must be an array', { field: 'series' })
  const rows = (points ?? []) as unknown[]
  if (rows.length > limits.pointsPerBatch) throw tooManyPoints(rows.length, limits.pointsPerBatch)
  for (let i = 0; i < rows.length; i++) parseMetricPoint(rows[i], limits, i)
  const out = rows as MetricPointIn[]
  if (series !== undefined) {
    const columns = series as unknown[]
    const all = out.slice()
    for (let i = 0; i < columns.length; i++) appendSeries(columns[i], { index: i, limits, out: all })
    return { ...(writerId !== undefined ? { writerId: writerId, sequence: sequence } : {}), points: all }
  }
  return { ...(writerId !== undefined ? { writerId: writerId, sequence: sequence } : {}), points: out }
}
