import type { MetricState, PointRow } from '../metric-batch.js'
import { encodeChunks, isSmallChunk, sortReadOrder } from './chunks.js'
import type { EncodedChunk, SeriesPoint } from './chunks.js'

/** The chunks one batch adds to one metric. */
export interface MetricChunks {
  state: MetricState
  chunks: EncodedChunk[]
}

/**
 * Turns a batch's stored rows into chunks, per metric, and moves each metric's state on: a new
 * version (the chunks' `added_version`) and its count of small chunks. A batch writes one chunk per
 * metric, or several when a metric got more than a chunk's worth of points.
 */
export function chunkBatch(rows: readonly PointRow[], states: ReadonlyMap<string, MetricState>): MetricChunks[] {
  const byMetric = new Map<number, SeriesPoint[]>()
  for (const row of rows) {
    let points = byMetric.get(row.metricId)
    if (points === undefined) byMetric.set(row.metricId, (points = []))
    points.push({
      step: row.step,
      seq: row.seq,
      time: row.time,
      value: row.text !== null || row.value === null ? Number.NaN : row.value,
      text: row.text,
    })
  }
  const out: MetricChunks[] = []
  for (const state of states.values()) {
    const points = byMetric.get(state.id)
    if (points === undefined) continue
    const chunks = encodeChunks(sortReadOrder(points))
    state.version += 1
    state.smallChunks += chunks.filter((chunk) => isSmallChunk(chunk.count)).length
    out.push({ state, chunks })
  }
  return out
}

/** Small chunks of a metric that start a background merge. */
export const MERGE_AFTER_SMALL_CHUNKS = 8

/** The metrics of a batch whose small chunks have piled up. */
export function metricsToMerge(added: readonly MetricChunks[]): number[] {
  return added.filter(({ state }) => state.smallChunks >= MERGE_AFTER_SMALL_CHUNKS).map(({ state }) => state.id)
}
