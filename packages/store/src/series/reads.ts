import type { MetricBucket, MetricBuckets } from '@wharf/contract'
import type { Db } from '../entities/shared.js'
import { decodeNumber } from '../metric-values.js'
import { BucketAccumulator, accumulate } from './buckets.js'
import type { BucketGrid } from './buckets.js'
import { sortReadOrder } from './chunks.js'
import type { SeriesPoint } from './chunks.js'
import type { ChunkPoints } from './codec.js'
import { S } from './summary.js'
import { decodedChunks, firstOverlapping, loadSeriesIndex } from './series-index.js'
import type { ChunkDataReader, ChunkEntry, DecodedChunkCache, SeriesIndex, SeriesIndexCache } from './series-index.js'

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

/** What a read works from: the database, the store's series caches, and the metric's row (read each attempt). */
export interface SeriesSource {
  db: Db
  series: { cache: SeriesIndexCache; readData: ChunkDataReader; decoded: DecodedChunkCache }
  head: () => Promise<MetricHead>
}

/** Reads that meet a merge start again; after this many tries the error says so. */
const ATTEMPTS = 5

/** Runs `read` over an up-to-date index, again from a fresh one when a merge removed a chunk it needed. */
async function withIndex<T>(
  source: SeriesSource,
  read: (index: SeriesIndex, metric: MetricHead) => Promise<T | undefined>,
): Promise<T> {
  const { db, series, head } = source
  const { cache } = series
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
    steps: { fromStep, toStep, width },
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

function toBuckets(acc: BucketAccumulator, bounds: (b: number, bucket: MetricBucket) => void): MetricBucket[] {
  const out: MetricBucket[] = []
  for (let b = 0; b < acc.size; b++) {
    const count = acc.count[b] as number
    if (count === 0) continue
    const min = acc.min[b] as number
    const max = acc.max[b] as number
    const bucket: MetricBucket = {
      fromStep: 0,
      toStep: 0,
      count,
      min: Number.isNaN(min) ? null : min,
      max: Number.isNaN(max) ? null : max,
      first: decodeNumber(acc.firstValue(b)),
      last: decodeNumber(acc.lastValue(b)),
      nonFinite: acc.nonFinite[b] as number,
    }
    bounds(b, bucket)
    out.push(bucket)
  }
  return out
}

/** A chart read: exact per-bucket answers from chunk summaries, decoding only the chunks at bucket edges. */
export function readBuckets(source: SeriesSource, request: BucketRequest): Promise<MetricBuckets> {
  const buckets = Math.max(1, Math.floor(request.buckets))
  const data = (ids: number[], withTimes: boolean) => decodedChunks(ids, withTimes, source.series)
  return withIndex(source, async (index, metric) => {
    const fromStep = request.fromStep ?? 0
    if (request.axis === 'step') {
      const toStep = request.toStep ?? Math.max(metric.lastStep, 0)
      const result: MetricBuckets = { name: request.name, axis: 'step', fromStep, toStep, bucketWidth: 1, buckets: [] }
      if (toStep < fromStep) return result
      const { grid, width, size } = stepGrid(fromStep, toStep, buckets)
      result.bucketWidth = width
      const acc = new BucketAccumulator(size, 'step')
      if (!(await accumulate(index, grid, { acc, data, startAt: firstOverlapping(index, fromStep) }))) return undefined
      result.buckets = toBuckets(acc, (b, bucket) => {
        bucket.fromStep = fromStep + b * width
        bucket.toStep = Math.min(toStep, fromStep + (b + 1) * width - 1)
      })
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
    if (!(await accumulate(index, grid, { acc, data, startAt: firstOverlapping(index, fromStep) }))) return undefined
    result.buckets = toBuckets(acc, (b, bucket) => {
      bucket.fromStep = acc.minStep[b] as number
      bucket.toStep = acc.maxStep[b] as number
      bucket.fromTime = fromTime + b * width
      bucket.toTime = b === buckets - 1 ? toTime : fromTime + (b + 1) * width
    })
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

/** Points of a page in columns, in read order. */
export type PageColumns = ChunkPoints

/** The wanted points of one decoded chunk: a run [from, to), since a chunk is in read order. */
interface Piece {
  chunk: ChunkPoints
  from: number
  to: number
}

function isWanted(chunk: ChunkPoints, i: number, request: PageRequest): boolean {
  const step = chunk.steps[i] as number
  if (step < request.fromStep || step > request.toStep) return false
  const { after } = request
  return after === undefined || step > after.step || (step === after.step && (chunk.seqs[i] as number) > after.seq)
}

function pieceOf(chunk: ChunkPoints, request: PageRequest): Piece {
  let from = 0
  while (from < chunk.length && !isWanted(chunk, from, request)) from++
  let to = from
  while (to < chunk.length && isWanted(chunk, to, request)) to++
  return { chunk, from, to }
}

/** Whether the pieces, taken one after another, are already in read order (chunks that do not overlap). */
function inOrder(pieces: readonly Piece[]): boolean {
  let last: { step: number; seq: number } | undefined
  for (const { chunk, from, to } of pieces) {
    if (from === to) continue
    const step = chunk.steps[from] as number
    const seq = chunk.seqs[from] as number
    if (last !== undefined && (step < last.step || (step === last.step && seq < last.seq))) return false
    last = { step: chunk.steps[to - 1] as number, seq: chunk.seqs[to - 1] as number }
  }
  return true
}

function emptyColumns(length: number, withTexts: boolean): PageColumns {
  return {
    length,
    steps: new Float64Array(length),
    seqs: new Float64Array(length),
    times: new Float64Array(length),
    values: new Float64Array(length),
    texts: withTexts ? new Array<string | null>(length).fill(null) : null,
  }
}

/** The first `limit` points of pieces in read order. */
function collect(pieces: readonly Piece[], limit: number): PageColumns {
  if (!inOrder(pieces)) {
    const points: SeriesPoint[] = []
    for (const { chunk, from, to } of pieces) {
      for (let i = from; i < to; i++) {
        points.push({
          step: chunk.steps[i] as number,
          seq: chunk.seqs[i] as number,
          time: chunk.times[i] as number,
          value: chunk.values[i] as number,
          text: chunk.texts?.[i] ?? null,
        })
      }
    }
    sortReadOrder(points)
    const n = Math.min(limit, points.length)
    const out = emptyColumns(
      n,
      points.some((point) => point.text !== null),
    )
    for (let i = 0; i < n; i++) {
      const point = points[i] as SeriesPoint
      out.steps[i] = point.step
      out.seqs[i] = point.seq
      out.times[i] = point.time
      out.values[i] = point.value
      if (out.texts !== null) out.texts[i] = point.text
    }
    return out
  }
  let total = 0
  for (const piece of pieces) total += piece.to - piece.from
  const out = emptyColumns(
    Math.min(limit, total),
    pieces.some((piece) => piece.chunk.texts !== null),
  )
  let at = 0
  for (const { chunk, from, to } of pieces) {
    if (at === out.length) break
    const end = Math.min(to, from + out.length - at)
    out.steps.set(chunk.steps.subarray(from, end), at)
    out.seqs.set(chunk.seqs.subarray(from, end), at)
    out.times.set(chunk.times.subarray(from, end), at)
    out.values.set(chunk.values.subarray(from, end), at)
    if (out.texts !== null && chunk.texts !== null) {
      for (let i = from; i < end; i++) out.texts[at + i - from] = chunk.texts[i] ?? null
    }
    at += end - from
  }
  return out
}

/** The step of the point at `position` in read order. */
function stepAt(pieces: readonly Piece[], position: number): number {
  if (!inOrder(pieces)) return collect(pieces, position + 1).steps[position] as number
  let left = position
  for (const { chunk, from, to } of pieces) {
    if (left < to - from) return chunk.steps[from + left] as number
    left -= to - from
  }
  throw new Error(`a page has no point ${position}`)
}

/**
 * Up to `limit` raw points in read order, in columns. Chunks are taken by first step until they hold
 * enough points, then any chunk that starts at or before the last point taken (chunks of out-of-order
 * steps overlap) is added too, so no point that sorts earlier is left behind. Chunks that do not
 * overlap (the usual case) are copied as they are; overlapping ones are merged point by point.
 */
export function readPage(source: SeriesSource, request: PageRequest): Promise<PageColumns> {
  const { series } = source
  const start = Math.max(request.fromStep, request.after?.step ?? 0)
  return withIndex(source, async (index) => {
    const { entries } = index
    let i = firstOverlapping(index, start)
    const pieces: Piece[] = []
    let wantedCount = 0
    let cutoff = Number.POSITIVE_INFINITY
    let done = false
    while (!done) {
      const batch: ChunkEntry[] = []
      let expected = wantedCount
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
      const decoded = await decodedChunks(
        batch.map((entry) => entry.id),
        true,
        series,
      )
      if (decoded === undefined) return undefined
      for (const entry of batch) {
        const chunk = decoded.get(entry.id)
        if (chunk === undefined) return undefined
        const piece = pieceOf(chunk, request)
        pieces.push(piece)
        wantedCount += piece.to - piece.from
      }
      if (wantedCount >= request.limit) cutoff = stepAt(pieces, request.limit - 1)
    }
    return collect(pieces, request.limit)
  })
}
