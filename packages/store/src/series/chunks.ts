import { encodeChunk } from './codec.js'
import type { ChunkPoints } from './codec.js'
import { packSummary, summarize } from './summary.js'
import type { ChunkBounds } from './summary.js'

/**
 * Points per full chunk. A chart read decodes only the chunks that straddle a bucket edge, so smaller
 * chunks make edges cheaper; larger ones compress better and make fewer rows (decision 0028).
 */
export const CHUNK_POINTS = 256

/** A chunk below half the full size waits to be merged with others. */
export const SMALL_CHUNK_POINTS = CHUNK_POINTS / 2

/** Whether a chunk of `count` points waits to be merged. */
export const isSmallChunk = (count: number): boolean => count < SMALL_CHUNK_POINTS

/** One point as ingest and merges handle it; `value` NaN for NaN and for text points. */
export interface SeriesPoint {
  step: number
  seq: number
  time: number
  value: number
  text: string | null
}

/** A chunk ready to store: its bounds, packed summary and encoded points. */
export interface EncodedChunk extends ChunkBounds {
  summary: Uint8Array
  data: Uint8Array
}

/** Read order: ascending step, then ascending arrival sequence. */
export function compareReadOrder(a: SeriesPoint, b: SeriesPoint): number {
  return a.step - b.step || a.seq - b.seq
}

/** Sorts points into read order in place; points usually arrive in order, which costs one pass. */
export function sortReadOrder(points: SeriesPoint[]): SeriesPoint[] {
  for (let i = 1; i < points.length; i++) {
    if (compareReadOrder(points[i - 1] as SeriesPoint, points[i] as SeriesPoint) > 0) return points.sort(compareReadOrder)
  }
  return points
}

function toChunkPoints(points: readonly SeriesPoint[], from: number, to: number): ChunkPoints {
  const length = to - from
  const chunk: ChunkPoints = {
    length,
    steps: new Float64Array(length),
    seqs: new Float64Array(length),
    times: new Float64Array(length),
    values: new Float64Array(length),
    texts: null,
  }
  for (let i = 0; i < length; i++) {
    const point = points[from + i] as SeriesPoint
    chunk.steps[i] = point.step
    chunk.seqs[i] = point.seq
    chunk.times[i] = point.time
    chunk.values[i] = point.value
    if (point.text !== null) {
      chunk.texts ??= new Array<string | null>(length).fill(null)
      chunk.texts[i] = point.text
    }
  }
  return chunk
}

/** Encodes points in read order as chunks of at most {@link CHUNK_POINTS}. */
export function encodeChunks(points: readonly SeriesPoint[]): EncodedChunk[] {
  const chunks: EncodedChunk[] = []
  for (let from = 0; from < points.length; from += CHUNK_POINTS) {
    const chunk = toChunkPoints(points, from, Math.min(points.length, from + CHUNK_POINTS))
    const { summary, bounds } = summarize(chunk)
    chunks.push({ ...bounds, summary: packSummary(summary), data: encodeChunk(chunk) })
  }
  return chunks
}

/** Appends the points of a decoded chunk to `out`. */
export function appendPoints(chunk: ChunkPoints, out: SeriesPoint[]): void {
  const { length, steps, seqs, times, values, texts } = chunk
  for (let i = 0; i < length; i++) {
    out.push({
      step: steps[i] as number,
      seq: seqs[i] as number,
      time: times[i] as number,
      value: values[i] as number,
      text: texts === null ? null : (texts[i] ?? null),
    })
  }
}
