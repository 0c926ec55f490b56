import type { Selectable } from 'kysely'
import type {
  Artifact,
  AssetFile,
  AssetVersion,
  Experiment,
  Run,
  RunDefinition,
  RunError,
  RunStatus,
  Workspace,
} from '@wharf/contract'
import type { DatastoreRecord, ExperimentDetails, LoggedModel } from './metadata-store.js'
import type { MetricState } from './metric-batch.js'
import type {
  ArtifactsTable,
  AssetFilesTable,
  AssetVersionsTable,
  DatastoresTable,
  ExperimentsTable,
  LoggedModelsTable,
  MetricsTable,
  RunsTable,
  WorkspacesTable,
} from './schema.js'

/** When a run entered each status it has been in. */
export type RunStatusTimes = Run['statusTimes']

/** A run row with its experiment's name, as every run query selects it. */
export type RunRow = Selectable<RunsTable> & { experiment_name: string }

/** The wire workspace of a row. */
export function toWorkspace(row: Selectable<WorkspacesTable>): Workspace {
  return {
    name: row.name,
    defaultDatastore: row.default_datastore,
    artifactDatastore: row.artifact_datastore,
    createdAt: row.created_at,
  }
}

/** The wire experiment of a row. */
export function toExperiment(row: Selectable<ExperimentsTable>): Experiment {
  return { id: Number(row.id), workspace: row.workspace, name: row.name, createdAt: row.created_at }
}

/** The experiment of a row with its tags and lifecycle. */
export function toExperimentDetails(row: Selectable<ExperimentsTable>): ExperimentDetails {
  return {
    ...toExperiment(row),
    tags: JSON.parse(row.tags) as Record<string, string>,
    updatedAt: row.updated_at ?? row.created_at,
    deletedAt: row.deleted_at,
  }
}

/** The logged model of a row. */
export function toLoggedModel(row: Selectable<LoggedModelsTable>): LoggedModel {
  return {
    id: row.id,
    workspace: row.workspace,
    experimentId: Number(row.experiment_id),
    name: row.name,
    sourceRunId: row.source_run_id,
    modelType: row.model_type,
    status: row.status,
    statusMessage: row.status_message,
    tags: JSON.parse(row.tags) as Record<string, string>,
    params: JSON.parse(row.params) as Record<string, string>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deletedAt: row.deleted_at,
  }
}

/** Parses a JSON text column holding a string map. */
export function parseStringMap(text: string): Map<string, string> {
  return new Map(Object.entries(JSON.parse(text) as Record<string, string>))
}

/** Serialises a string map for a JSON text column (Object.fromEntries keeps keys such as `__proto__` as data). */
export function stringifyStringMap(map: ReadonlyMap<string, string> | Record<string, string>): string {
  return JSON.stringify(map instanceof Map ? Object.fromEntries(map) : map)
}

/** The wire run of a row. */
export function toRun(row: RunRow): Run {
  return {
    id: row.id,
    workspace: row.workspace,
    experiment: row.experiment_name,
    displayName: row.display_name,
    description: row.description,
    status: row.status as RunStatus,
    createdAt: row.created_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    error: row.error === null ? null : (JSON.parse(row.error) as RunError),
    tags: JSON.parse(row.tags) as Record<string, string>,
    properties: JSON.parse(row.properties) as Record<string, string>,
    parentRunId: row.parent_run_id,
    computeTarget: row.compute_target,
    scriptName: row.script_name,
    command: row.command === null ? null : (JSON.parse(row.command) as string[]),
    snapshotId: row.snapshot_id,
    definition: row.definition === null ? null : (JSON.parse(row.definition) as RunDefinition),
    statusTimes: statusTimesOf(row),
    heartbeatAt: row.heartbeat_at,
    cancelRequestedAt: row.cancel_requested_at,
    // Only while deleted, so runs that never were keep the shape they always had.
    ...(row.deleted_at === null || row.deleted_at === undefined ? {} : { deletedAt: row.deleted_at }),
  }
}

/** A run's status times: as stored, or (a row from before they were kept) what its other times tell. */
export function statusTimesOf(
  row: Pick<RunRow, 'status_times' | 'status' | 'created_at' | 'started_at' | 'ended_at'>,
): RunStatusTimes {
  if (row.status_times !== null) return JSON.parse(row.status_times) as RunStatusTimes
  const status = row.status as RunStatus
  const times: RunStatusTimes = {}
  if (row.started_at !== null) times.Running = row.started_at
  if (row.ended_at !== null) times[status] = row.ended_at
  if (times[status] === undefined) times[status] = row.created_at
  return times
}

/** The status times after entering `status` at `at` (the first entry of a status is kept). */
export function withStatusTime(times: RunStatusTimes, status: RunStatus, at: string): string {
  return JSON.stringify({ ...times, [status]: times[status] ?? at })
}

/** The wire artifact of a row. */
export function toArtifact(row: Selectable<ArtifactsTable>): Artifact {
  return {
    runId: row.run_id,
    path: row.path,
    size: Number(row.size),
    sha256: row.sha256,
    contentType: row.content_type,
    createdAt: row.created_at,
    datastore: row.datastore,
    key: row.key,
  }
}

/** The row of a wire artifact. */
export function fromArtifact(artifact: Artifact): Selectable<ArtifactsTable> {
  return {
    run_id: artifact.runId,
    path: artifact.path,
    size: artifact.size,
    sha256: artifact.sha256,
    content_type: artifact.contentType,
    created_at: artifact.createdAt,
    datastore: artifact.datastore,
    key: artifact.key,
  }
}

/** The store record of a datastore row. */
export function toDatastoreRecord(row: Selectable<DatastoresTable>): DatastoreRecord {
  return {
    workspace: row.workspace,
    name: row.name,
    kind: row.kind as DatastoreRecord['kind'],
    settings: JSON.parse(row.settings) as DatastoreRecord['settings'],
    authType: row.auth_type,
    secret: row.secret,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

/** The row of a datastore record, in `workspace`. */
export function fromDatastoreRecord(record: DatastoreRecord, workspace: string): Selectable<DatastoresTable> {
  return {
    workspace,
    name: record.name,
    kind: record.kind,
    settings: JSON.stringify(record.settings),
    auth_type: record.authType,
    secret: record.secret,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  }
}

/** The ingest state of a metric row. */
export function toMetricState(row: Selectable<MetricsTable>): MetricState {
  return {
    id: Number(row.id),
    name: row.name,
    count: Number(row.count),
    nextStep: Number(row.next_step),
    lastStep: Number(row.last_step),
    lastTime: row.last_time,
    lastValue: row.last_value,
    lastText: row.last_text,
    min: row.min_value,
    max: row.max_value,
    hasNumber: Number(row.has_number) !== 0,
    hasText: Number(row.has_text) !== 0,
    nextSeq: Number(row.next_seq),
    smallChunks: Number(row.small_chunks),
    version: Number(row.version),
  }
}

/** The wire asset file of a row. */
export function toAssetFile(row: Selectable<AssetFilesTable>): AssetFile {
  return {
    path: row.path,
    size: Number(row.size),
    sha256: row.sha256,
    contentType: row.content_type,
    datastore: row.datastore,
    key: row.key,
  }
}

/** The wire asset version of a row with its files (empty in listings). */
export function toAssetVersion(row: Selectable<AssetVersionsTable>, files: AssetFile[]): AssetVersion {
  return {
    workspace: row.workspace,
    name: row.name,
    version: Number(row.version),
    description: row.description,
    tags: JSON.parse(row.tags) as Record<string, string>,
    sourceRunId: row.source_run_id,
    artifactPath: row.artifact_path,
    copied: Number(row.copied) !== 0,
    fileCount: Number(row.file_count),
    size: Number(row.size),
    createdAt: row.created_at,
    files,
  }
}
