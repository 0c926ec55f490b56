import type { MetricBucket, MetricBuckets, MetricColumnsPage } from '@wharf/contract'

/** What the x axis measures: the step of a point, or the time it was logged (epoch ms). */
export const AXES = ['step', 'time'] as const
export type Axis = (typeof AXES)[number]

/** A visible x range, in steps or epoch ms by the axis; both ends included. */
export interface XRange {
  from: number
  to: number
}

/**
 * One run's series of one metric, ready to draw: per x, the lowest and highest value (the band that
 * keeps spikes visible) and the line value. Raw points appended live have lo = hi = line.
 */
export interface SeriesColumns {
  xs: number[]
  lo: (number | null)[]
  hi: (number | null)[]
  line: (number | null)[]
  /** Points in view whose value was NaN or ±Infinity (never drawn). */
  nonFinite: number
  /** Points in view (numbers only). */
  points: number
}

function finiteOrNull(value: MetricBucket['first']): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

/** The line through a bucket: the mean of its first and last value (either when only one is finite). */
function lineOf(bucket: MetricBucket): number | null {
  const first = finiteOrNull(bucket.first)
  const last = finiteOrNull(bucket.last)
  if (first !== null && last !== null) return (first + last) / 2
  return last ?? first ?? (bucket.min !== null && bucket.max !== null ? (bucket.min + bucket.max) / 2 : null)
}

/** Where a bucket sits on the x axis: the middle of its range (a bucket of one step: that step). */
function xOf(bucket: MetricBucket, axis: Axis): number {
  if (axis === 'time' && bucket.fromTime !== undefined && bucket.toTime !== undefined)
    return (bucket.fromTime + bucket.toTime) / 2
  return (bucket.fromStep + bucket.toStep) / 2
}

/** A bucket read as columns to draw (new arrays, so appending live points leaves the answer as read). */
export function columnsOfBuckets(answer: MetricBuckets): SeriesColumns {
  const out: SeriesColumns = { xs: [], lo: [], hi: [], line: [], nonFinite: 0, points: 0 }
  for (const bucket of answer.buckets) {
    out.nonFinite += bucket.nonFinite
    out.points += bucket.count
    if (bucket.min === null && bucket.max === null) continue // only non-finite values in it
    out.xs.push(xOf(bucket, answer.axis))
    out.lo.push(bucket.min)
    out.hi.push(bucket.max)
    out.line.push(lineOf(bucket))
  }
  return out
}

/**
 * Appends raw points (read live after the buckets) to `columns`, in place. Text points of a mixed
 * metric are skipped; non-finite ones are counted, not drawn. Answers how many points were appended.
 */
export function appendPoints(columns: SeriesColumns, page: MetricColumnsPage, axis: Axis): number {
  const { steps, times, values, texts } = page
  let appended = 0
  for (let i = 0; i < steps.length; i++) {
    if (texts !== null && texts[i] !== null && texts[i] !== undefined) continue
    const value = values[i] as number
    appended++
    columns.points++
    if (!Number.isFinite(value)) {
      columns.nonFinite++
      continue
    }
    columns.xs.push(axis === 'time' ? (times[i] as number) : (steps[i] as number))
    columns.lo.push(value)
    columns.hi.push(value)
    columns.line.push(value)
  }
  return appended
}

/** The URL form of a range (`from`/`to` search params), or undefined when absent or unusable. */
export function readRange(search: URLSearchParams): XRange | undefined {
  const fromText = search.get('from')
  const toText = search.get('to')
  if (fromText === null || toText === null) return undefined
  const from = Number(fromText)
  const to = Number(toText)
  if (!Number.isFinite(from) || !Number.isFinite(to) || from > to) return undefined
  return { from, to }
}

/** The axis in the URL (`axis=time`), step otherwise. */
export function readAxis(search: URLSearchParams): Axis {
  return search.get('axis') === 'time' ? 'time' : 'step'
}

/** Search params with the axis and range set (a step-axis range in whole steps, at least one step wide). */
export function withView(search: URLSearchParams, view: { axis: Axis; range: XRange | undefined }): URLSearchParams {
  const next = new URLSearchParams(search)
  if (view.axis === 'time') next.set('axis', 'time')
  else next.delete('axis')
  if (view.range === undefined) {
    next.delete('from')
    next.delete('to')
  } else {
    next.set('from', String(Math.max(0, Math.floor(view.range.from))))
    next.set('to', String(Math.max(0, Math.ceil(view.range.to))))
  }
  return next
}

/** The bucket query of a chart for a view: a step or time range. */
export function bucketQuery(options: { name: string; axis: Axis; range: XRange | undefined; buckets: number; toStep?: number }) {
  const { name, axis, range, buckets, toStep } = options
  if (axis === 'time') {
    return { name, axis, buckets, ...(range !== undefined ? { fromTime: range.from, toTime: range.to } : {}) }
  }
  if (range !== undefined) return { name, buckets, fromStep: range.from, toStep: range.to }
  return { name, buckets, ...(toStep !== undefined ? { toStep } : {}) }
}
