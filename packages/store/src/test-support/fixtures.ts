// Plain data for store tests, free of vitest so the worker processes can use it too.
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
