import type { MetricPointIn, MetricSummary } from '@wharf/contract'
import { decodeOptionalNumber, decodeValue, encodePointValue } from './metric-values.js'

/** The stored summary of one (run, metric name), as ingest reads, updates and writes it back. */
export interface MetricState {
  id: number
  name: string
  count: number
  /** One past the highest step stored so far: the step of the next point logged without one. */
  nextStep: number
  lastStep: number
  lastTime: number
  lastValue: number | null
  lastText: string | null
  min: number | null
  max: number | null
  hasNumber: boolean
  hasText: boolean
  /** Arrival sequence of the next point. */
  nextSeq: number
  /** Chunks below the merge size. */
  smallChunks: number
  /** Bumped by each ingest and merge that changes the metric's chunks. */
  version: number
}

/** One point ready to store; `seq` is its arrival sequence within its metric. */
export interface PointRow {
  metricId: number
  step: number
  seq: number
  time: number
  value: number | null
  text: string | null
}

/**
 * The step counters of the batch's writer, by metric name: a point without a step gets its writer's
 * next step. A writer's first such point of a metric starts at the metric's next step.
 */
export type WriterSteps = Map<string, number>

/** The distinct metric names of a batch, sorted so every writer locks and creates them in one order. */
export function batchMetricNames(points: readonly MetricPointIn[]): string[] {
  return [...new Set(points.map((point) => point.name))].sort()
}

/**
 * Assigns steps and folds a batch into the summaries, in batch order. `states` must hold the current,
 * locked summary of every name in the batch; it is updated in place. Returns the rows to insert.
 */
export function applyBatch(
  batch: { points: readonly MetricPointIn[]; receivedAt: number },
  states: ReadonlyMap<string, MetricState>,
  writerSteps?: WriterSteps,
): PointRow[] {
  const { points, receivedAt } = batch
  const rows: PointRow[] = new Array<PointRow>(points.length)
  for (let i = 0; i < points.length; i++) {
    const point = points[i] as MetricPointIn
    const state = states.get(point.name)
    if (state === undefined) throw new Error(`metric "${point.name}" was not loaded before applying the batch`)
    const { value, text } = encodePointValue(point)
    let step = point.step
    if (step === undefined) {
      step = writerSteps?.get(point.name) ?? state.nextStep
    }
    if (writerSteps !== undefined) {
      const next = writerSteps.get(point.name)
      if (point.step === undefined || next !== undefined) writerSteps.set(point.name, Math.max(next ?? 0, step + 1))
    }
    const time = point.time ?? receivedAt
    if (step + 1 > state.nextStep) state.nextStep = step + 1
    const seq = state.nextSeq++
    state.count += 1
    // `>=`: among equal steps the latest logged point is the last one.
    if (step >= state.lastStep) {
      state.lastStep = step
      state.lastTime = time
      state.lastValue = value
      state.lastText = text
    }
    if (text !== null) {
      state.hasText = true
    } else {
      state.hasNumber = true
      if (value !== null) {
        if (state.min === null || value < state.min) state.min = value
        if (state.max === null || value > state.max) state.max = value
      }
    }
    rows[i] = { metricId: state.id, step, seq, time, value, text }
  }
  return rows
}

/** The summary of a metric that has no point yet (its row is created just before its first batch). */
export function emptyMetricState(id: number, name: string): MetricState {
  return {
    id,
    name,
    count: 0,
    nextStep: 0,
    lastStep: -1,
    lastTime: 0,
    lastValue: null,
    lastText: null,
    min: null,
    max: null,
    hasNumber: false,
    hasText: false,
    nextSeq: 0,
    smallChunks: 0,
    version: 0,
  }
}

/** The wire summary of a stored metric. */
export function toMetricSummary(
  state: Omit<MetricState, 'id' | 'nextStep' | 'nextSeq' | 'smallChunks' | 'version'>,
): MetricSummary {
  return {
    name: state.name,
    kind: state.hasNumber && state.hasText ? 'mixed' : state.hasText ? 'text' : 'number',
    count: state.count,
    lastStep: state.lastStep,
    lastTime: state.lastTime,
    last: state.count === 0 ? null : decodeValue({ value: state.lastValue, text: state.lastText }),
    min: decodeOptionalNumber(state.min),
    max: decodeOptionalNumber(state.max),
  }
}
