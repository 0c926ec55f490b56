import type { Generated } from 'kysely'

/** Workspaces: a name and the datastores it writes to by default. */
export interface WorkspacesTable {
  name: string
  default_datastore: string
  artifact_datastore: string
  created_at: string
}

/** Datastore registrations; `settings` is JSON text, `secret` the server's ciphertext. */
export interface DatastoresTable {
  workspace: string
  name: string
  kind: string
  settings: string
  auth_type: string
  secret: string | null
  created_at: string
  updated_at: string
}

/** Experiments, unique by (workspace, name). */
export interface ExperimentsTable {
  id: Generated<number>
  workspace: string
  name: string
  created_at: string
  /** JSON text string map (migration 0006). */
  tags: Generated<string>
  /** Last change of name, tags or lifecycle; null until the first. */
  updated_at: string | null
  /** Soft delete: set while the experiment is deleted. */
  deleted_at: string | null
}

/** Runs; `tags`, `properties`, `command` and `error` are JSON text. */
export interface RunsTable {
  id: string
  workspace: string
  experiment_id: number
  display_name: string
  description: string
  status: string
  created_at: string
  started_at: string | null
  ended_at: string | null
  error: string | null
  tags: string
  properties: string
  parent_run_id: string | null
  compute_target: string
  script_name: string | null
  command: string | null
  /** A submitted run's source snapshot. */
  snapshot_id: string | null
  /** A submitted run's definition, JSON text. */
  definition: string | null
  /** JSON text map status → ISO time it was entered; null for rows from before migration 0004. */
  status_times: string | null
  heartbeat_at: string | null
  cancel_requested_at: string | null
  /** Soft delete: set while the run is deleted (migration 0006). */
  deleted_at: string | null
}

/**
 * One row per (run, metric name) with the running summary. Values use the point encoding (see
 * `metric-values.ts`): a REAL that is null with a null text is NaN.
 */
export interface MetricsTable {
  id: Generated<number>
  run_id: string
  name: string
  count: number
  next_step: number
  last_step: number
  last_time: number
  last_value: number | null
  last_text: string | null
  min_value: number | null
  max_value: number | null
  has_number: number
  has_text: number
  /** Arrival sequence of the next point: orders points of equal step by arrival. */
  next_seq: Generated<number>
  /** Bumped by every ingest and merge that changes the metric's chunks: chart reads cache by it. */
  version: Generated<number>
  /** Bumped by every merge: a cached chunk list older than it is read again whole. */
  merge_generation: Generated<number>
  /** Chunks below the merge size: a merge starts when they pile up. */
  small_chunks: Generated<number>
}

/** Raw metric points, one row each: the layout before chunks (migration 0005 moves them into chunks). */
export interface MetricPointsTable {
  id: Generated<number>
  metric_id: number
  step: number
  time: number
  value: number | null
  text: string | null
}

/**
 * One chunk of a metric's points: their bounds (what reads select by), the metric version that added
 * it, and its summary (see `series/summary.ts`). The encoded points are in `metric_chunk_data`, so a
 * scan of summaries reads small rows.
 */
export interface MetricChunksTable {
  id: Generated<number>
  metric_id: number
  min_step: number
  max_step: number
  min_time: number
  max_time: number
  point_count: number
  added_version: number
  summary: Uint8Array
}

/** The encoded points of a chunk (see `series/codec.ts`). */
export interface MetricChunkDataTable {
  chunk_id: number
  data: Uint8Array
}

/** Each writer's own step counter per metric, for points logged without a step. */
export interface MetricWriterStepsTable {
  metric_id: number
  writer_id: string
  next_step: number
}

/** Every accepted batch of a writer, so a retry is recognised. */
export interface WriterBatchesTable {
  run_id: string
  writer_id: string
  sequence: number
  point_count: number
  created_at: string
}

/** Artifacts by (run, path). */
export interface ArtifactsTable {
  run_id: string
  path: string
  size: number
  sha256: string
  content_type: string
  created_at: string
  datastore: string
  key: string
}

/** One version of an asset; `tags` is JSON text, `copied` 0 or 1, `file_count`/`size` over its files. */
export interface AssetVersionsTable {
  id: Generated<number>
  workspace: string
  name: string
  version: number
  description: string
  tags: string
  source_run_id: string
  artifact_path: string
  copied: number
  file_count: number
  size: number
  created_at: string
}

/** An alias of an asset: a name that points at one of its versions, by (workspace, asset, alias). */
export interface AssetAliasesTable {
  workspace: string
  name: string
  alias: string
  version: number
  updated_at: string
}

/** The files of an asset version, by (version row, path inside the asset). */
export interface AssetFilesTable {
  asset_version_id: number
  path: string
  size: number
  sha256: string
  content_type: string
  datastore: string
  key: string
}

/** A source snapshot's manifest by (workspace, id); `files` is JSON text, `complete` 0 or 1. */
export interface SnapshotsTable {
  workspace: string
  id: string
  datastore: string
  files: string
  file_count: number
  total_bytes: number
  complete: number
  created_at: string
}

/** The snapshot file contents a datastore holds, by SHA-256. */
export interface SnapshotBlobsTable {
  workspace: string
  datastore: string
  sha256: string
  size: number
  created_at: string
}

/** One live log of a run and its size in bytes. */
export interface RunLogsTable {
  run_id: string
  name: string
  size: number
  updated_at: string
}

/** The bytes of a live log, as appended: [start_offset, end_offset). */
export interface RunLogChunksTable {
  run_id: string
  name: string
  start_offset: number
  end_offset: number
  bytes: Uint8Array
}

/** A model logged from a run (MLflow 3's logged models); `tags` and `params` are JSON text string maps. */
export interface LoggedModelsTable {
  id: string
  workspace: string
  experiment_id: number
  name: string
  source_run_id: string | null
  model_type: string | null
  status: string
  status_message: string | null
  tags: string
  params: string
  created_at: string
  updated_at: string
  deleted_at: string | null
}

/** The tables of the metadata store, as Kysely sees them. */
export interface StoreDatabase {
  workspaces: WorkspacesTable
  datastores: DatastoresTable
  experiments: ExperimentsTable
  runs: RunsTable
  metrics: MetricsTable
  metric_points: MetricPointsTable
  metric_chunks: MetricChunksTable
  metric_chunk_data: MetricChunkDataTable
  metric_writer_steps: MetricWriterStepsTable
  writer_batches: WriterBatchesTable
  artifacts: ArtifactsTable
  asset_versions: AssetVersionsTable
  asset_files: AssetFilesTable
  asset_aliases: AssetAliasesTable
  snapshots: SnapshotsTable
  snapshot_blobs: SnapshotBlobsTable
  run_logs: RunLogsTable
  run_log_chunks: RunLogChunksTable
  logged_models: LoggedModelsTable
}
