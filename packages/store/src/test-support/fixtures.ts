// Plain data for store tests, free of vitest so the worker processes can use it too.
import type { MetricPointIn } from '@wharf/contract'
import type { NewRun } from '../metadata-store.js'

/** A run to create with plain defaults (experiment "exp", NotStarted, no tags); `run` names it and overrides any field. */
export function newRunInput(run: Pick<NewRun, 'workspace' | 'id' | 'createdAt'> & Partial<NewRun>): NewRun {
  return {
    experiment: 'exp',
    displayName: 'a run',
    description: '',
    status: 'NotStarted',
    startedAt: null,
    tags: {},
    properties: {},
    parentRunId: null,
    computeTarget: 'local',
    scriptName: null,
    command: null,
    snapshotId: null,
    definition: null,
    ...run,
  }
}

/** Points in each batch of a {@link crashBatchPoints} series. */
export const CRASH_BATCH_POINTS = 40

/**
 * Batch number `batch` of the series the crash tests log: each value names its batch and place in it
 * (`batch * 1000 + i`), and steps repeat across batches, so a lost or doubled point shows in the
 * count at its step.
 */
export function crashBatchPoints(metric: string, batch: number): MetricPointIn[] {
  return Array.from({ length: CRASH_BATCH_POINTS }, (_, i) => ({
    name: metric,
    step: (batch * 7 + i * 13) % 997,
    value: batch * 1000 + i,
  }))
}
