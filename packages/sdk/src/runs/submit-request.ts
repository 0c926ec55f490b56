import type { WorkspaceConnection } from '../config/connection.js'
import type { RunDefinition, Run as RunInfo } from '@wharf/contract'

/**
 * What `Experiment.submit` hands the runner package: everything a run needs, with data references
 * already turned into their stored configuration and the source folder made absolute.
 */
export interface SubmitRequest {
  experiment: string
  /** The source folder (absolute); its snapshot is what the run executes. */
  sourceDirectory: string
  /** The run's definition; `sourceDirectoryDataStore` defaults to `workspaceblobstore`. */
  definition: Omit<RunDefinition, 'sourceDirectoryDataStore'> & { sourceDirectoryDataStore?: string }
  /** The compute target: `local` (this machine) is the one there is. */
  computeTarget: string
  displayName?: string
  description?: string
  tags?: Record<string, string>
  signal?: AbortSignal
}

/** The part of `@wharf/runner` the SDK loads, and only when a run is submitted. */
export interface RunnerModule {
  /** Snapshots the source, creates the run (Queued), and starts its runner on the compute target. */
  submitRun(workspace: WorkspaceConnection, request: SubmitRequest): Promise<RunInfo>
}
