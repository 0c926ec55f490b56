import type { MetricBucket, MetricBuckets } from '@wharf/contract'
import type { Db } from '../entities/shared.js'
import { decodeNumber } from '../metric-values.js'
import { BucketAccumulator, accumulate } from './buckets.js'
import type { BucketGrid } from './buckets.js'
import { appendPoints, sortReadOrder } from './chunks.js'
import type { SeriesPoint } from './chunks.js'
import { decodeChunk } from './codec.js'
import { S } from './summary.js'
import { firstOverlapping, loadSeriesIndex, readChunkData } from './series-index.js'
import type { ChunkEntry, SeriesIndex, SeriesIndexCache } from './series-index.js'

/** A metric as reads find it in the `metrics` table. */
export interface MetricHead {
  id: number
  lastStep: number
  version: number
  mergeGeneration: number
}

/** What a chart read asks (defaults not yet filled in). */
export interface BucketRequest {
  name: string
  axis: 'step' | 'time'
  fromStep?: number | undefined
  toStep?: number | undefined
  fromTime?: number | undefined
  toTime?: number | undefined
  buckets: number
}

/** Reads that meet a merge start again; after this many tries the error says so. */
const ATTEMPTS = 5

/** Runs `read` over an up-to-date index, again from a fresh one when a merge removed a chunk it needed. */
async function withIndex<T>(
  db: Db,
  cache: SeriesIndexCache,
  head: () => Promise<MetricHead>,
  read: (index: SeriesIndex, metric: MetricHead) => Promise<T | undefined>,
): Promise<T> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const metric = await head()
    const index = await loadSeriesIndex(db, cache, metric)
    const result = await read(index, metric)
    if (result !== undefined) return result
    cache.forget(metric.id)
  }
  throw new Error(`the chunks of metric kept changing during ${ATTEMPTS} reads; try again`)
}

function stepGrid(fromStep: number, toStep: number, buckets: number): { grid: BucketGrid; width: number; size: number } {
  const width = Math.max(1, Math.ceil((toStep - fromStep + 1) / buckets))
  const size = Math.max(0, Math.floor((toStep - fromStep) / width) + 1)
  const bucketOf = (step: number): number => (step < fromStep || step > toStep ? -1 : Math.floor((step - fromStep) / width))
  const grid: BucketGrid = {
    axis: 'step',
    buckets: size,
    bucketOf,
    lastStepOf: (b) => Math.min(toStep, fromStep + (b + 1) * width - 1),
    wholeChunkBucket: (entry) => {
      if (entry.minStep < fromStep || entry.maxStep > toStep) return -1
      const b = bucketOf(entry.minStep)
      return b === bucketOf(entry.maxStep) ? b : -1
    },
    overlaps: (entry) => entry.maxStep >= fromStep && entry.minStep <= toStep,
    beyond: (entry) => entry.minStep > toStep,
  }
  return { grid, width, size }
}

function timeGrid(
  range: { fromStep: number; toStep: number; fromTime: number; toTime: number },
  buckets: number,
): { grid: BucketGrid; width: number } {
  const { fromStep, toStep, fromTime, toTime } = range
  const width = (toTime - fromTime) / buckets
  const bucketOf = (step: number, time: number): number => {
    if (step < fromStep || step > toStep || time < fromTime || time > toTime) return -1
    return width === 0 ? 0 : Math.min(buckets - 1, Math.floor((time - fromTime) / width))
  }
  const grid: BucketGrid = {
    axis: 'time',
    buckets,
    bucketOf,
    wholeChunkBucket: (entry) => {
      // Only a chunk whose times follow read order can answer first/last from its summary.
      if (entry.summary[S.TimeOrdered] !== 1) return -1
      const b = bucketOf(entry.minStep, entry.minTime)
      return b >= 0 && entry.maxStep <= toStep && b === bucketOf(entry.maxStep, entry.maxTime) ? b : -1
    },
    overlaps: (entry) =>
      entry.maxStep >= fromStep && entry.minStep <= toStep && entry.maxTime >= fromTime && entry.minTime <= toTime,
    beyond: (entry) => entry.minStep > toStep,
  }
  return { grid, width }
}

function seriesTimes(index: SeriesIndex): { min: number; max: number } {
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  for (const entry of index.entries) {
    if (entry.minTime < min) min = entry.minTime
    if (entry.maxTime > max) max = entry.maxTime
  }
  return Number.isFinite(min) ? { min, max } : { min: 0, max: 0 }
}

function toBuckets(
  acc: BucketAccumulator,
  bounds: (b: number) => Pick<MetricBucket, 'fromStep' | 'toStep' | 'fromTime' | 'toTime'>,
): MetricBucket[] {
  const out: MetricBucket[] = []
  for (let b = 0; b < acc.size; b++) {
    const count = acc.count[b] as number
    if (count === 0) continue
    const min = acc.min[b] as number
    const max = acc.max[b] as number
    out.push({
      ...bounds(b),
      count,
      min: Number.isNaN(min) ? null : min,
      max: Number.isNaN(max) ? null : max,
      first: decodeNumber(acc.firstValue(b)),
      last: decodeNumber(acc.lastValue(b)),
      nonFinite: acc.nonFinite[b] as number,
    })
  }
  return out
}

/** A chart read: exact per-bucket answers from chunk summaries, decoding only the chunks at bucket edges. */
export function readBuckets(
  db: Db,
  cache: SeriesIndexCache,
  head: () => Promise<MetricHead>,
  request: BucketRequest,
): Promise<MetricBuckets> {
  const buckets = Math.max(1, Math.floor(request.buckets))
  const data = (ids: number[]) => readChunkData(db, ids)
  return withIndex(db, cache, head, async (index, metric) => {
    const fromStep = request.fromStep ?? 0
    if (request.axis === 'step') {
      const toStep = request.toStep ?? Math.max(metric.lastStep, 0)
      const result: MetricBuckets = { name: request.name, axis: 'step', fromStep, toStep, bucketWidth: 1, buckets: [] }
      if (toStep < fromStep) return result
      const { grid, width, size } = stepGrid(fromStep, toStep, buckets)
      result.bucketWidth = width
      const acc = new BucketAccumulator(size, 'step')
      if (!(await accumulate(index, grid, acc, data, firstOverlapping(index, fromStep)))) return undefined
      result.buckets = toBuckets(acc, (b) => ({
        fromStep: fromStep + b * width,
        toStep: Math.min(toStep, fromStep + (b + 1) * width - 1),
      }))
      return result
    }
    const toStep = request.toStep ?? Number.MAX_SAFE_INTEGER
    const times = seriesTimes(index)
    const fromTime = request.fromTime ?? times.min
    const toTime = request.toTime ?? times.max
    const result: MetricBuckets = {
      name: request.name,
      axis: 'time',
      fromStep,
      toStep: request.toStep ?? Math.max(metric.lastStep, 0),
      fromTime,
      toTime,
      bucketWidth: 0,
      buckets: [],
    }
    if (toTime < fromTime || toStep < fromStep) return result
    const { grid, width } = timeGrid({ fromStep, toStep, fromTime, toTime }, buckets)
    result.bucketWidth = width
    const acc = new BucketAccumulator(buckets, 'time')
    if (!(await accumulate(index, grid, acc, data, firstOverlapping(index, fromStep)))) return undefined
    result.buckets = toBuckets(acc, (b) => ({
      fromStep: acc.minStep[b] as number,
      toStep: acc.maxStep[b] as number,
      fromTime: fromTime + b * width,
      toTime: b === buckets - 1 ? toTime : fromTime + (b + 1) * width,
    }))
    return result
  })
}

/** Where a page starts: after the point (step, seq), within [fromStep, toStep]. */
export interface PageRequest {
  fromStep: number
  toStep: number
  after?: { step: number; seq: number } | undefined
  /** Points wanted: a page and one more, to know whether another page follows. */
  limit: number
}

function wanted(point: SeriesPoint, request: PageRequest): boolean {
  if (point.step < request.fromStep || point.step > request.toStep) return false
  const { after } = request
  return after === undefined || point.step > after.step || (point.step === after.step && point.seq > after.seq)
}

/**
 * Up to `limit` raw points in read order. Chunks are taken by first step until they hold enough
 * points, then any chunk that starts at or before the last point taken (chunks of out-of-order steps
 * overlap) is added too, so no point that sorts earlier is left behind.
 */
export function readPage(
  db: Db,
  cache: SeriesIndexCache,
  head: () => Promise<MetricHead>,
  request: PageRequest,
): Promise<SeriesPoint[]> {
  const start = Math.max(request.fromStep, request.after?.step ?? 0)
  return withIndex(db, cache, head, async (index) => {
    const { entries } = index
    let i = firstOverlapping(index, start)
    const points: SeriesPoint[] = []
    let cutoff = Number.POSITIVE_INFINITY
    let done = false
    while (!done) {
      const batch: ChunkEntry[] = []
      let expected = points.length
      for (; i < entries.length; i++) {
        const entry = entries[i] as ChunkEntry
        if (entry.minStep > request.toStep || entry.minStep > cutoff) {
          done = true
          break
        }
        // Enough points for a first cut: read them, then only chunks starting before the cut.
        if (cutoff === Number.POSITIVE_INFINITY && expected >= request.limit) break
        if (entry.maxStep < start) continue
        batch.push(entry)
        expected += entry.count
      }
      if (i >= entries.length) done = true
      if (batch.length === 0) continue
      const fetched = await readChunkData(
        db,
        batch.map((entry) => entry.id),
      )
      for (const entry of batch) {
        const bytes = fetched.get(entry.id)
        if (bytes === undefined) return undefined
        const decoded: SeriesPoint[] = []
        appendPoints(decodeChunk(bytes), decoded)
        for (const point of decoded) if (wanted(point, request)) points.push(point)
      }
      sortReadOrder(points)
      if (points.length >= request.limit) {
        points.length = request.limit
        cutoff = (points[request.limit - 1] as SeriesPoint).step
      }
    }
    return points
  })
}
