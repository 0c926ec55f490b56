import path from 'node:path'
import { WharfError, printable, type Run as RunInfo, type RunDefinition } from '@wharf/contract'
import type { SubmitRequest } from '@wharf/sdk'
import type { ComputeTarget } from './compute/compute-target.js'
import { localComputeTarget } from './compute/local.js'
import type { WorkspaceConnection } from './connection.js'
import { createSnapshot } from './snapshot/upload.js'

/** Options of {@link submitRun} beyond the SDK's request, for callers that choose where runs go. */
export interface SubmitOptions {
  /** Wharf's folder on this machine; default the parent of the workspace's spool folder ($WHARF_HOME). */
  wharfHome?: string
  /** The compute targets by name; default `local` only. */
  computeTargets?: readonly ComputeTarget[]
  /** With the default `local` target: keep the run's working folder after it ends. */
  keepWorkingFolder?: boolean
}

/**
 * Submits a run: snapshots the source folder (only new contents are uploaded), creates the run Queued
 * with its definition, mints its run token and launches its runner on the compute target. Resolves
 * with the created run; a launch that fails leaves the run Failed with the reason (Canceled when
 * `request.signal` aborted it), and rejects.
 * INVALID_ARGUMENT for an unknown compute target; LIMIT_EXCEEDED for a source folder over the limits.
 */
export async function submitRun(
  workspace: WorkspaceConnection,
  request: SubmitRequest,
  options: SubmitOptions = {},
): Promise<RunInfo> {
  const { signal } = request
  const client = workspace.client
  const wharfHome = options.wharfHome ?? path.dirname(workspace.spoolDir)
  const targets = options.computeTargets ?? [
    localComputeTarget({ wharfHome, ...(options.keepWorkingFolder === true ? { keepWorkingFolder: true } : {}) }),
  ]
  const target = targets.find((candidate) => candidate.name === request.computeTarget)
  if (target === undefined) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `there is no compute target "${printable(request.computeTarget)}"; use ${targets.map((t) => `"${t.name}"`).join(' or ')}`,
    )
  }
  const definition: RunDefinition = {
    ...request.definition,
    sourceDirectoryDataStore: request.definition.sourceDirectoryDataStore ?? 'workspaceblobstore',
  }
  const snapshot = await createSnapshot(client, request.sourceDirectory, {
    datastore: definition.sourceDirectoryDataStore,
    ...(signal ? { signal } : {}),
  })
  const run = await client.createRun(
    {
      experiment: request.experiment,
      status: 'Queued',
      computeTarget: target.name,
      ...(definition.script !== null ? { scriptName: definition.script } : {}),
      command: definition.command,
      snapshotId: snapshot.summary.id,
      definition,
      ...(request.displayName !== undefined ? { displayName: request.displayName } : {}),
      ...(request.description !== undefined ? { description: request.description } : {}),
      ...(request.tags !== undefined ? { tags: request.tags } : {}),
    },
    signal ? { signal } : {},
  )
  try {
    const { token } = await client.call('mintRunToken', { params: { runId: run.id }, body: {}, signal })
    await target.launch({
      runId: run.id,
      env: {
        WHARF_TRACKING_URI: workspace.url,
        WHARF_WORKSPACE: workspace.name,
        WHARF_RUN_ID: run.id,
        WHARF_RUN_TOKEN: token,
      },
      sourceDirectory: request.sourceDirectory,
      ...(signal ? { signal } : {}),
    })
  } catch (error) {
    // The submitter gave up (Ctrl-C) before the runner started: the run is canceled, not failed.
    const ending = signal?.aborted
      ? client.setRunStatus(run.id, 'Canceled')
      : client.setRunStatus(run.id, 'Failed', {
          error: {
            code: 'LAUNCH_FAILED',
            message: `the run could not be started on compute target "${target.name}": ${error instanceof Error ? error.message : String(error)}`,
          },
        })
    await ending.catch(() => undefined)
    throw error
  }
  return run
}
