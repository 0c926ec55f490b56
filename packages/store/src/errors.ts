import { WharfError, isWharfError, printable } from '@wharf/contract'
import type { RunStatus } from '@wharf/contract'
import { errorCode } from './dialects/capabilities.js'

/** WORKSPACE_NOT_FOUND for `name`. */
export function workspaceNotFound(name: string): WharfError {
  return new WharfError(
    'WORKSPACE_NOT_FOUND',
    `workspace "${printable(name)}" not found; wharf workspace list shows the workspaces`,
    { details: { workspace: name } },
  )
}

/** WORKSPACE_EXISTS for `name`. */
export function workspaceExists(name: string, cause: unknown): WharfError {
  return new WharfError('WORKSPACE_EXISTS', `workspace "${printable(name)}" already exists; choose another name`, {
    details: { workspace: name },
    cause,
  })
}

/** A `*_NOT_FOUND` error for something named in a workspace, whose message ends with the way to find it. */
function notFoundInWorkspace(
  code: 'EXPERIMENT_NOT_FOUND' | 'RUN_NOT_FOUND' | 'DATASTORE_NOT_FOUND',
  thing: { kind: string; detail: string; workspace: string; name: string; hint: string },
): WharfError {
  return new WharfError(
    code,
    `${thing.kind} "${printable(thing.name)}" not found in workspace "${printable(thing.workspace)}"; ${thing.hint}`,
    { details: { workspace: thing.workspace, [thing.detail]: thing.name } },
  )
}

/** EXPERIMENT_NOT_FOUND for `name` in `workspace`. */
export function experimentNotFound(workspace: string, name: string): WharfError {
  return notFoundInWorkspace('EXPERIMENT_NOT_FOUND', {
    kind: 'experiment',
    detail: 'experiment',
    workspace,
    name,
    hint: 'an experiment is created by its first run, and wharf history list shows the runs',
  })
}

/** EXPERIMENT_EXISTS for `name` in `workspace` (a deleted experiment keeps its name until it is purged). */
export function experimentExists(workspace: string, name: string, cause: unknown): WharfError {
  return new WharfError(
    'EXPERIMENT_EXISTS',
    `experiment "${printable(name)}" already exists in workspace "${printable(workspace)}" (perhaps deleted); choose another name, or restore it`,
    { cause, details: { workspace, experiment: name } },
  )
}

/** MODEL_NOT_FOUND for the logged model `id` in `workspace`. */
export function modelNotFound(workspace: string, id: string): WharfError {
  return new WharfError(
    'MODEL_NOT_FOUND',
    `logged model "${printable(id)}" not found in workspace "${printable(workspace)}"; the run that logged it lists its models`,
    { details: { workspace, modelId: id } },
  )
}

/** RUN_NOT_FOUND for `runId` in `workspace`. */
export function runNotFound(workspace: string, runId: string): WharfError {
  return notFoundInWorkspace('RUN_NOT_FOUND', {
    kind: 'run',
    detail: 'runId',
    workspace,
    name: runId,
    hint: 'wharf history list shows the runs',
  })
}

/** RUN_EXISTS for `runId`. */
export function runExists(runId: string, cause: unknown): WharfError {
  return new WharfError(
    'RUN_EXISTS',
    `run "${printable(runId)}" already exists; choose another run id, or leave it out to get a new one`,
    { details: { runId }, cause },
  )
}

/** INVALID_STATUS_TRANSITION from `from` to `to`. */
export function invalidTransition(runId: string, from: RunStatus, to: RunStatus): WharfError {
  return new WharfError(
    'INVALID_STATUS_TRANSITION',
    `run "${printable(runId)}" is ${from} and cannot become ${to}; a run only moves forward ` +
      '(NotStarted, Queued, Preparing, Running, Finalizing), completes from Running or Finalizing, ' +
      'and never leaves Completed, Failed or Canceled',
    { details: { runId, from, to } },
  )
}

/** RUN_FINISHED: the artifacts of a finished run never change. */
export function runFinished(runId: string, status: RunStatus): WharfError {
  return new WharfError(
    'RUN_FINISHED',
    `run "${printable(runId)}" is ${status}, so its artifacts can no longer change; ` +
      'upload artifacts before the run ends, or start a new run',
    { details: { runId, status } },
  )
}

/** PROPERTY_IMMUTABLE: a property keeps its first value. */
export function propertyImmutable(runId: string, key: string, current: string): WharfError {
  return new WharfError(
    'PROPERTY_IMMUTABLE',
    `property "${printable(key)}" of run "${printable(runId)}" is already "${printable(current)}"; ` +
      'properties are add-only, use a tag for a value that changes',
    { details: { runId, key } },
  )
}

/** METRIC_NOT_FOUND for `name` in `runId`. */
export function metricNotFound(runId: string, name: string): WharfError {
  return new WharfError(
    'METRIC_NOT_FOUND',
    `metric "${printable(name)}" not found in run "${printable(runId)}"; ` +
      `wharf history info ${printable(runId)} lists its metrics`,
    { details: { runId, name } },
  )
}

/** DATASTORE_NOT_FOUND for `name` in `workspace`. */
export function datastoreNotFound(workspace: string, name: string): WharfError {
  return notFoundInWorkspace('DATASTORE_NOT_FOUND', {
    kind: 'datastore',
    detail: 'datastore',
    workspace,
    name,
    hint: 'wharf datastore list shows the registered ones',
  })
}

/** DATASTORE_EXISTS for `name` in `workspace`. */
export function datastoreExists(workspace: string, name: string, cause?: unknown): WharfError {
  return new WharfError(
    'DATASTORE_EXISTS',
    `datastore "${printable(name)}" already exists in workspace "${printable(workspace)}"; ` +
      'choose another name, or ask to overwrite the registration',
    { details: { workspace, datastore: name }, cause },
  )
}

/** INVALID_ARGUMENT for a page token this listing did not issue. */
export function invalidPageToken(): WharfError {
  return new WharfError(
    'INVALID_ARGUMENT',
    'page token is not valid for this listing; repeat the request without pageToken to start from the first page',
    { details: { field: 'pageToken' } },
  )
}

/**
 * Passes WharfErrors through; anything else (a driver error, whose message may quote SQL) becomes
 * INTERNAL with a message that names the operation and keeps the original as `cause`.
 */
export function toStoreError(operation: string, error: unknown): WharfError {
  if (isWharfError(error)) return error
  const code = errorCode(error)
  return new WharfError('INTERNAL', `the metadata store failed to ${operation}; the server log has the cause`, {
    details: code === undefined ? { operation } : { operation, databaseCode: code },
    cause: error,
  })
}

/** ASSET_NOT_FOUND for `name` (or one version of it) in `workspace`. */
export function assetNotFound(workspace: string, name: string, version?: number | 'latest' | { alias: string }): WharfError {
  const numbered = typeof version === 'number'
  const what = numbered ? `version ${version} of asset "${printable(name)}"` : `asset "${printable(name)}"`
  return new WharfError(
    'ASSET_NOT_FOUND',
    `${what} not found in workspace "${printable(workspace)}"; wharf asset list shows the assets` +
      (numbered ? ` and wharf asset show ${printable(name)} its versions` : ''),
    { details: { workspace, asset: name, ...(version === undefined || typeof version === 'object' ? {} : { version }) } },
  )
}

/** ASSET_ALIAS_NOT_FOUND for `alias` of asset `name` (which exists) in `workspace`. */
export function assetAliasNotFound(workspace: string, name: string, alias: string): WharfError {
  return new WharfError(
    'ASSET_ALIAS_NOT_FOUND',
    `asset "${printable(name)}" has no alias "${printable(alias)}" in workspace "${printable(workspace)}"; ` +
      `wharf asset alias list ${printable(name)} shows its aliases`,
    { details: { workspace, asset: name, alias } },
  )
}

/** SNAPSHOT_NOT_FOUND for `id` in `workspace`. */
export function snapshotNotFound(workspace: string, id: string): WharfError {
  return new WharfError(
    'SNAPSHOT_NOT_FOUND',
    `snapshot "${printable(id)}" not found in workspace "${printable(workspace)}"; create it first (createSnapshot with the manifest of the source folder), then use the id it answers`,
    { details: { workspace, snapshotId: id } },
  )
}

/** SNAPSHOT_INCOMPLETE: some contents of snapshot `id` were never uploaded. */
export function snapshotIncomplete(workspace: string, id: string): WharfError {
  return new WharfError(
    'SNAPSHOT_INCOMPLETE',
    `snapshot "${printable(id)}" of workspace "${printable(workspace)}" is missing file contents; upload each content createSnapshot lists as missing, then create the snapshot again until it answers complete`,
    { details: { workspace, snapshotId: id } },
  )
}

/** WRITE_CONFLICT: an append to a live log that would leave a gap. */
export function logGap(change: { runId: string; name: string; offset: number; size: number }): WharfError {
  return new WharfError(
    'WRITE_CONFLICT',
    `log "${printable(change.name)}" of run "${printable(change.runId)}" has ${change.size} bytes; an append at offset ${change.offset} would leave a gap. Append from offset ${change.size}`,
    { details: { runId: change.runId, log: change.name, expectedOffset: change.size, offset: change.offset } },
  )
}
