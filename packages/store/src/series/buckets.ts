import type { ChunkPoints } from './codec.js'
import type { ChunkEntry, SeriesIndex } from './series-index.js'
import { S, higherThan, isNonFinite, lowerThan } from './summary.js'

/** The bucket grid of one read: which bucket a point falls in, and whether a whole chunk falls in one. */
export interface BucketGrid {
  axis: 'step' | 'time'
  buckets: number
  /** Bucket of a point, or -1 when outside the range. */
  bucketOf(step: number, time: number): number
  /** Step axis: the last step of bucket `b` (a chunk's points are in step order, so a bucket's are a run). */
  lastStepOf?: (b: number) => number
  /** Step axis: the range and bucket width, for the loop over chunk summaries. */
  steps?: { fromStep: number; toStep: number; width: number }
  /** The one bucket holding every point of the chunk, or -1 when its points may fall in several or outside. */
  wholeChunkBucket(entry: ChunkEntry): number
  /** Whether the chunk may hold points in range. */
  overlaps(entry: ChunkEntry): boolean
  /** Whether this chunk and every later one (by first step) are past the range. */
  beyond(entry: ChunkEntry): boolean
}

/** Per-bucket running answers, in typed arrays (a read may have 10,000 buckets). */
export class BucketAccumulator {
  readonly count: Float64Array
  readonly nonFinite: Float64Array
  readonly min: Float64Array
  readonly max: Float64Array
  readonly minStep: Float64Array
  readonly maxStep: Float64Array
  /** The first and last point's order key (time axis: time, step, seq; step axis: step, seq, 0) and value. */
  private readonly first: Float64Array
  private readonly last: Float64Array
  private readonly firstSet: Uint8Array
  private readonly lastSet: Uint8Array

  constructor(
    readonly size: number,
    private readonly axis: 'step' | 'time',
  ) {
    this.count = new Float64Array(size)
    this.nonFinite = new Float64Array(size)
    this.min = new Float64Array(size).fill(Number.NaN)
    this.max = new Float64Array(size).fill(Number.NaN)
    this.minStep = new Float64Array(size).fill(Number.POSITIVE_INFINITY)
    this.maxStep = new Float64Array(size).fill(Number.NEGATIVE_INFINITY)
    this.first = new Float64Array(size * 4)
    this.last = new Float64Array(size * 4)
    this.firstSet = new Uint8Array(size)
    this.lastSet = new Uint8Array(size)
  }

  firstValue(b: number): number {
    return this.first[b * 4 + 3] as number
  }

  lastValue(b: number): number {
    return this.last[b * 4 + 3] as number
  }

  /** Adds one numeric point. */
  // eslint-disable-next-line max-params -- per point or per chunk on every chart read: no object to allocate
  addPoint(b: number, step: number, seq: number, time: number, value: number): void {
    const time0 = this.axis === 'time'
    this.take(b, 1, isNonFinite(value) ? 1 : 0, value, value, step, step)
    this.offerFirst(b, time0 ? time : step, time0 ? step : seq, time0 ? seq : 0, value)
    this.offerLast(b, time0 ? time : step, time0 ? step : seq, time0 ? seq : 0, value)
  }

  /**
   * Adds the numeric points [from, to) of a decoded chunk, all in bucket `b`, in read order (step axis):
   * one pass for count and min/max, then the first and last of the run offered once.
   */
  // eslint-disable-next-line max-params -- per point or per chunk on every chart read: no object to allocate
  addRun(b: number, chunk: ChunkPoints, from: number, to: number): void {
    const { steps, seqs, values, texts } = chunk
    let count = 0
    let nonFinite = 0
    let min = Number.NaN
    let max = Number.NaN
    let first = -1
    let last = -1
    for (let i = from; i < to; i++) {
      if (texts !== null && texts[i] !== null) continue
      const value = values[i] as number
      if (first < 0) first = i
      last = i
      count++
      if (value - value !== 0) nonFinite++
      else {
        if (lowerThan(value, min)) min = value
        if (higherThan(value, max)) max = value
      }
    }
    if (count === 0) return
    this.take(b, count, nonFinite, min, max, steps[first] as number, steps[last] as number)
    this.offerFirst(b, steps[first] as number, seqs[first] as number, 0, values[first] as number)
    this.offerLast(b, steps[last] as number, seqs[last] as number, 0, values[last] as number)
  }

  /** Adds a whole chunk from its summary (time axis: only chunks whose times follow read order). */
  addSummary(b: number, s: Float64Array): void {
    const numeric = s[S.Numeric] as number
    if (numeric === 0) return
    // The numeric points' steps (a chunk's bounds may be text points'): the chunk is in step order.
    this.take(
      b,
      numeric,
      s[S.NonFinite] as number,
      s[S.Min] as number,
      s[S.Max] as number,
      s[S.FirstStep] as number,
      s[S.LastStep] as number,
    )
    if (this.axis === 'time') {
      this.offerFirst(b, s[S.FirstTime] as number, s[S.FirstStep] as number, s[S.FirstSeq] as number, s[S.FirstValue] as number)
      this.offerLast(b, s[S.LastTime] as number, s[S.LastStep] as number, s[S.LastSeq] as number, s[S.LastValue] as number)
    } else {
      this.offerFirst(b, s[S.FirstStep] as number, s[S.FirstSeq] as number, 0, s[S.FirstValue] as number)
      this.offerLast(b, s[S.LastStep] as number, s[S.LastSeq] as number, 0, s[S.LastValue] as number)
    }
  }

  // eslint-disable-next-line max-params -- per point or per chunk on every chart read: no object to allocate
  private take(b: number, n: number, nonFinite: number, min: number, max: number, minStep: number, maxStep: number): void {
    this.count[b] = (this.count[b] as number) + n
    this.nonFinite[b] = (this.nonFinite[b] as number) + nonFinite
    if (!isNonFinite(min) && lowerThan(min, this.min[b] as number)) this.min[b] = min
    if (!isNonFinite(max) && higherThan(max, this.max[b] as number)) this.max[b] = max
    if (minStep < (this.minStep[b] as number)) this.minStep[b] = minStep
    if (maxStep > (this.maxStep[b] as number)) this.maxStep[b] = maxStep
  }

  // eslint-disable-next-line max-params -- per point or per chunk on every chart read: no object to allocate
  private offerFirst(b: number, k1: number, k2: number, k3: number, value: number): void {
    const f = this.first
    const o = b * 4
    if (
      this.firstSet[b] === 0 ||
      k1 < (f[o] as number) ||
      (k1 === f[o] && (k2 < (f[o + 1] as number) || (k2 === f[o + 1] && k3 < (f[o + 2] as number))))
    ) {
      f[o] = k1
      f[o + 1] = k2
      f[o + 2] = k3
      f[o + 3] = value
      this.firstSet[b] = 1
    }
  }

  // eslint-disable-next-line max-params -- per point or per chunk on every chart read: no object to allocate
  private offerLast(b: number, k1: number, k2: number, k3: number, value: number): void {
    const l = this.last
    const o = b * 4
    if (
      this.lastSet[b] === 0 ||
      k1 > (l[o] as number) ||
      (k1 === l[o] && (k2 > (l[o + 1] as number) || (k2 === l[o + 1] && k3 > (l[o + 2] as number))))
    ) {
      l[o] = k1
      l[o + 1] = k2
      l[o + 2] = k3
      l[o + 3] = value
      this.lastSet[b] = 1
    }
  }
}

/** Reads decoded chunks by id (undefined when one was merged away meanwhile). */
export type DecodedReader = (ids: number[], withTimes: boolean) => Promise<Map<number, ChunkPoints> | undefined>

/** Where a chart read folds its chunks: the answers so far, and how to decode the chunks at edges. */
export interface FoldTarget {
  acc: BucketAccumulator
  data: DecodedReader
}

/** One pass over a series' summaries from `startAt`: whole chunks folded, the rest kept as `edges`. */
interface SummaryScan {
  entries: readonly ChunkEntry[]
  startAt: number
  acc: BucketAccumulator
  edges: ChunkEntry[]
}

/**
 * Folds every chunk of `index` (from entry `startAt`) that overlaps the grid into `target.acc`: whole
 * chunks from their summaries, the others (at bucket edges) decoded point by point. Returns false when
 * a chunk was merged away meanwhile, and the caller reads again.
 */
export async function accumulate(
  index: SeriesIndex,
  grid: BucketGrid,
  target: FoldTarget & { startAt: number },
): Promise<boolean> {
  const scan: SummaryScan = { entries: index.entries, startAt: target.startAt, acc: target.acc, edges: [] }
  if (grid.steps !== undefined) wholeChunksByStep(scan, grid.steps)
  else wholeChunks(scan, grid)
  return foldEdges(scan.edges, grid, target)
}

/** Step axis: whole chunks from their summaries, the rest into `edges` (the loop of every chart read). */
function wholeChunksByStep(scan: SummaryScan, range: { fromStep: number; toStep: number; width: number }): void {
  const { entries, startAt, acc, edges } = scan
  const { fromStep, toStep, width } = range
  for (let i = startAt; i < entries.length; i++) {
    const entry = entries[i] as ChunkEntry
    const { minStep, maxStep } = entry
    if (minStep > toStep) break
    if (maxStep < fromStep) continue
    if (minStep >= fromStep && maxStep <= toStep) {
      const b = Math.floor((minStep - fromStep) / width)
      if (b === Math.floor((maxStep - fromStep) / width)) {
        acc.addSummary(b, entry.summary)
        continue
      }
    }
    edges.push(entry)
  }
}

function wholeChunks(scan: SummaryScan, grid: BucketGrid): void {
  const { entries, startAt, acc, edges } = scan
  for (let i = startAt; i < entries.length; i++) {
    const entry = entries[i] as ChunkEntry
    if (grid.beyond(entry)) break
    if (!grid.overlaps(entry)) continue
    const b = grid.wholeChunkBucket(entry)
    if (b >= 0) acc.addSummary(b, entry.summary)
    else edges.push(entry)
  }
}

async function foldEdges(edges: readonly ChunkEntry[], grid: BucketGrid, target: FoldTarget): Promise<boolean> {
  if (edges.length === 0) return true
  const { acc } = target
  const withTimes = grid.axis === 'time'
  const decoded = await target.data(
    edges.map((entry) => entry.id),
    withTimes,
  )
  if (decoded === undefined) return false
  for (const entry of edges) {
    const chunk = decoded.get(entry.id)
    if (chunk === undefined) return false
    if (grid.lastStepOf !== undefined) {
      addByRuns(grid, acc, chunk)
      continue
    }
    const { steps, seqs, times, values, texts } = chunk
    for (let i = 0; i < chunk.length; i++) {
      if (texts !== null && texts[i] !== null) continue
      const step = steps[i] as number
      const time = withTimes ? (times[i] as number) : 0
      const b = grid.bucketOf(step, time)
      if (b >= 0) acc.addPoint(b, step, seqs[i] as number, time, values[i] as number)
    }
  }
  return true
}

/** Step axis: a decoded chunk's points are in step order, so each bucket's share is one run. */
function addByRuns(grid: BucketGrid, acc: BucketAccumulator, chunk: ChunkPoints): void {
  const { steps, length } = chunk
  const lastStepOf = grid.lastStepOf ?? ((b: number) => b)
  let i = 0
  while (i < length) {
    const b = grid.bucketOf(steps[i] as number, 0)
    if (b < 0) {
      i++
      continue
    }
    const end = lastStepOf(b)
    let j = i + 1
    while (j < length && (steps[j] as number) <= end) j++
    acc.addRun(b, chunk, i, j)
    i = j
  }
}
