import type {
  Artifact,
  AssetAlias,
  AssetFile,
  AssetSummary,
  AssetVersion,
  Datastore,
  DatastoreKind,
  Experiment,
  IngestResult,
  MetricBuckets,
  MetricColumnsPage,
  MetricPoint,
  MetricPointIn,
  MetricSummary,
  Page,
  Run,
  RunError,
  RunOrderField,
  RunStatus,
  RunWithMetrics,
  Heartbeat,
  RunDefinition,
  RunLogSummary,
  Snapshot,
  SnapshotFile,
  Workspace,
} from '@wharf/contract'

/** The database engines the store runs on. */
export const STORE_KINDS = ['sqlite', 'postgres'] as const
export type StoreKind = (typeof STORE_KINDS)[number]

/** Where the metadata lives: a SQLite file (or `:memory:`), or a PostgreSQL URL. */
export type StoreConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; poolSize?: number }

/** A datastore as the store keeps it: the secret is ciphertext the server encrypted; never sent out. */
export interface DatastoreRecord {
  workspace: string
  name: string
  kind: DatastoreKind
  settings: Record<string, string | number | boolean>
  authType: string
  /** Encrypted secret (opaque to the store), or null when the datastore has none. */
  secret: string | null
  createdAt: string
  updatedAt: string
}

/** A new workspace with the datastores it starts with. */
export interface NewWorkspace {
  name: string
  defaultDatastore: string
  artifactDatastore: string
  createdAt: string
  datastores: DatastoreRecord[]
}

/** A run to create; the server fills every field (ids, times, defaults). */
export interface NewRun {
  workspace: string
  experiment: string
  id: string
  displayName: string
  description: string
  status: RunStatus
  createdAt: string
  /** Set when the run is created already Running. */
  startedAt: string | null
  tags: Record<string, string>
  properties: Record<string, string>
  parentRunId: string | null
  computeTarget: string
  scriptName: string | null
  command: string[] | null
  /** A submitted run's source snapshot: it must be a complete snapshot of the workspace. */
  snapshotId: string | null
  definition: RunDefinition | null
}

/** How to order a run listing: by one of its times, or by a metric's last numeric value. */
export type RunOrder = { kind: 'time'; field: RunOrderField } | { kind: 'metric'; name: string }

/** A tag filter: the key must be present, and equal `value` when given. */
export interface TagFilter {
  key: string
  value?: string
}

export interface ListRunsOptions {
  workspace: string
  experiment?: string
  statuses?: RunStatus[]
  tags?: TagFilter[]
  parentRunId?: string
  /** Only runs without a parent. */
  rootOnly?: boolean
  orderBy: RunOrder
  order: 'asc' | 'desc'
  pageSize: number
  pageToken?: string
  /** Attach each run's metrics' last values. */
  includeMetrics: boolean
}

/** A validated batch of metric points for one run. */
export interface IngestBatch {
  workspace: string
  runId: string
  writerId?: string
  sequence?: number
  points: MetricPointIn[]
  /** Server receive time (epoch ms), the default `time` of points without one. */
  receivedAt: number
  /** The most distinct metric names the run may have (limit `metricNamesPerRun`). */
  maxMetricNames: number
}

/** A run of a workspace. */
export interface RunRef {
  workspace: string
  runId: string
}

/** Something named within a workspace: an experiment, an asset or a datastore. */
export interface WorkspaceItemRef {
  workspace: string
  name: string
}

/** One metric of a run, by name. */
export interface MetricRef extends RunRef {
  name: string
}

/** One artifact of a run, by path. */
export interface ArtifactRef extends RunRef {
  path: string
}

/** A page request of a listing. */
export interface PageRequest {
  pageSize: number
  pageToken?: string
}

/** A page of a listing of one workspace (experiments, assets). */
export interface WorkspacePageRequest extends PageRequest {
  workspace: string
}

/** An experiment to find or create. */
export interface NewExperiment extends WorkspaceItemRef {
  createdAt: string
}

/** A new display name and/or description for a run. */
export interface RunPatch extends RunRef {
  displayName?: string
  description?: string
}

/** Tags to set then remove on a run, and how many it may have in all. */
export interface TagChange extends RunRef {
  set: Record<string, string>
  remove: string[]
  maxTags: number
  /**
   * Tags whose new value is made from the current one (undefined when unset) while the run is locked,
   * so concurrent changes of a tag that holds a list each add to it; applied after `set` and `remove`.
   */
  merge?: Record<string, (current: string | undefined) => string>
}

/** Properties to add to a run, and how many it may have in all. */
export interface PropertyChange extends RunRef {
  properties: Record<string, string>
  maxProperties: number
}

/** A page of a metric's raw points, optionally within a step range. */
export interface ReadSeriesOptions extends MetricRef, PageRequest {
  fromStep?: number
  toStep?: number
}

/**
 * A metric downsampled into at most `buckets` equal ranges of steps (`axis` 'step', the default) or of
 * time (`axis` 'time', epoch ms), optionally within a step range and, on the time axis, a time range.
 */
export interface ReadBucketsOptions extends MetricRef {
  axis?: 'step' | 'time'
  fromStep?: number
  toStep?: number
  fromTime?: number
  toTime?: number
  buckets: number
}

/** How one metric's points are stored: for tests, the bench and operators. */
export interface MetricStorageStats {
  /** Stored chunks of the series. */
  chunks: number
  /** Chunks below the merge size, waiting to be merged. */
  smallChunks: number
  /** Points in all chunks. */
  points: number
  /** Encoded bytes of all chunks (the points' payload, without the engine's row and index overhead). */
  bytes: number
}

/** A page of a run's artifacts, optionally under a string prefix of their paths. */
export interface ListArtifactsOptions extends RunRef, PageRequest {
  prefix?: string
}

/** An artifact to record for a run of `workspace`. */
export interface PutArtifactOptions {
  workspace: string
  artifact: Artifact
}

/** What {@link MetadataStore.putArtifact} stored, and the record it replaced (undefined for a new path). */
export interface RecordedArtifact {
  artifact: Artifact
  replaced: Artifact | undefined
}

/** A move of a run to `status`. */
export interface RunTransition extends RunRef {
  status: RunStatus
  error?: RunError
  /** ISO time of the change; sets startedAt on entering Running and endedAt on entering a terminal status. */
  at: string
}

/** A moment in a run's life: a heartbeat, or a cancel request. */
export interface RunEvent extends RunRef {
  /** ISO time. */
  at: string
}

/** Runs whose runner fell silent: live, with a last heartbeat before `heartbeatBefore`. */
export interface SilentRunsSweep {
  /** ISO time; a run whose last heartbeat is older is failed. */
  heartbeatBefore: string
  /** ISO time of the change. */
  at: string
}

/** A snapshot manifest as stored, with whether every content of it was held when it was recorded. */
export interface StoredSnapshot extends Snapshot {
  workspace: string
  complete: boolean
}

/** A snapshot to record; the caller computed its id from its files. */
export interface NewSnapshot {
  workspace: string
  id: string
  datastore: string
  files: SnapshotFile[]
  totalBytes: number
  complete: boolean
  createdAt: string
}

/** One snapshot of a workspace, by id. */
export interface SnapshotRef {
  workspace: string
  id: string
}

/** Which of `sha256s` a datastore holds. */
export interface SnapshotBlobsQuery {
  workspace: string
  datastore: string
  sha256s: readonly string[]
}

/** A snapshot content a datastore now holds. */
export interface NewSnapshotBlob {
  workspace: string
  datastore: string
  sha256: string
  size: number
  createdAt: string
}

/** One live log of a run, by name. */
export interface RunLogRef extends RunRef {
  name: string
}

/** Bytes to append to a live log at `offset`. */
export interface RunLogAppend extends RunLogRef {
  offset: number
  bytes: Uint8Array
  /** ISO time. */
  at: string
}

/** A byte range of a live log to read. */
export interface RunLogRead extends RunLogRef {
  offset: number
  /** Bytes at most. */
  limit: number
}

/** Bytes of a live log from the asked offset (fewer than asked at its end), its size, and the run's status. */
export interface RunLogBytes {
  bytes: Buffer
  size: number
  runStatus: RunStatus
}

/** One version of an asset: by number, its highest with `'latest'`, or the one an alias points at. */
export interface AssetVersionRef extends WorkspaceItemRef {
  version: AssetVersionSelector
}

/** A change to a version's description and tags (its files never change). */
export interface AssetVersionChange extends WorkspaceItemRef {
  /** By number, `latest` or alias, resolved inside the change's transaction. */
  version: AssetVersionSelector
  description?: string
  /** Tags set (added or replaced), then `removeTags` removed. */
  setTags?: Record<string, string>
  removeTags?: readonly string[]
  /** The most tags the version may have after the change (LIMIT_EXCEEDED past it). */
  maxTags: number
}

/** How a version of an asset is asked for. */
export type AssetVersionSelector = number | 'latest' | { alias: string }

/** An alias of an asset. */
export interface AssetAliasRef extends WorkspaceItemRef {
  alias: string
}

/** Point an alias at a version. */
export interface NewAssetAlias extends AssetAliasRef {
  version: number
  updatedAt: string
  /** The most aliases the asset may have (LIMIT_EXCEEDED for a new one past it); none when absent. */
  maxAliases?: number
  /**
   * A run token's run: the version, and the one the alias points at now, must have been made from it
   * (FORBIDDEN otherwise), so a script names what it made but never repoints another run's version.
   */
  ownerRunId?: string
}

/** A page of the versions of one asset. */
export interface ListAssetVersionsOptions extends WorkspaceItemRef, PageRequest {}

/** A new asset version; the store assigns the version number and sums the files. */
export interface NewAssetVersion {
  workspace: string
  name: string
  description: string
  tags: Record<string, string>
  sourceRunId: string
  artifactPath: string
  /** True when the files are copies made for the asset, false when they are the run's own artifacts. */
  copied: boolean
  createdAt: string
  files: AssetFile[]
}

/** An experiment with what the MLflow API keeps of it: tags, last change, and its soft delete. */
export interface ExperimentDetails extends Experiment {
  tags: Record<string, string>
  /** The last change of name, tags or lifecycle (the creation time until then). */
  updatedAt: string
  /** Set while the experiment is deleted. */
  deletedAt: string | null
}

/** An experiment to create with its tags. */
export interface NewExperimentWithTags extends NewExperiment {
  tags: Record<string, string>
}

/** An experiment by id or by name. */
export type ExperimentLookup = { workspace: string } & ({ id: number } | { name: string })

/** Changes to an experiment: a new name, tags to set then remove, deleted or restored; `at` is the ISO time. */
export interface ExperimentChange {
  workspace: string
  id: number
  name?: string
  setTags?: Record<string, string>
  removeTags?: string[]
  deleted?: boolean
  at: string
}

/** Deletes (soft) or restores a run at `at`. */
export interface RunDeletion extends RunRef {
  deleted: boolean
  at: string
}

/** A model logged from a run (MLflow 3's logged models); its files are artifacts of its source run. */
export interface LoggedModel {
  id: string
  workspace: string
  experimentId: number
  name: string
  sourceRunId: string | null
  modelType: string | null
  /** The MLflow status name (LOGGED_MODEL_PENDING, LOGGED_MODEL_READY, ...). */
  status: string
  statusMessage: string | null
  tags: Record<string, string>
  params: Record<string, string>
  createdAt: string
  updatedAt: string
  deletedAt: string | null
}

/** A logged model to record; the caller made its id. */
export interface NewLoggedModel {
  id: string
  workspace: string
  experimentId: number
  name: string
  sourceRunId: string | null
  modelType: string | null
  status: string
  tags: Record<string, string>
  params: Record<string, string>
  createdAt: string
}

/** Changes to a logged model; params are only added. */
export interface LoggedModelChange {
  workspace: string
  id: string
  status?: string
  statusMessage?: string
  setTags?: Record<string, string>
  removeTags?: string[]
  addParams?: Record<string, string>
  deleted?: boolean
  at: string
}

/** Which logged models to list. */
export interface LoggedModelQuery {
  workspace: string
  experimentIds?: number[]
  sourceRunId?: string
}

/**
 * The metadata store: workspaces, experiments, runs, metrics, artifacts and datastores, behind one
 * interface implemented once on Kysely for SQLite and PostgreSQL. A method with more than one input takes
 * one options object. Methods named `get*` throw the matching `*_NOT_FOUND` WharfError; `find*` return undefined. Every write that spans rows is one
 * transaction. Safe to share between concurrent requests, and (on PostgreSQL) between server replicas.
 */
export interface MetadataStore {
  readonly kind: StoreKind

  /** Brings the schema up to date; idempotent and safe to call from several processes at once. */
  migrate(): Promise<void>
  /** Closes connections; later calls fail. */
  close(): Promise<void>

  /** Creates a workspace and its datastores in one transaction; WORKSPACE_EXISTS if the name is taken. */
  createWorkspace(input: NewWorkspace): Promise<Workspace>
  findWorkspace(name: string): Promise<Workspace | undefined>
  /** Throws WORKSPACE_NOT_FOUND. */
  getWorkspace(name: string): Promise<Workspace>
  listWorkspaces(): Promise<Workspace[]>
  /** Throws WORKSPACE_NOT_FOUND or DATASTORE_NOT_FOUND. */
  setDefaultDatastore(datastore: WorkspaceItemRef): Promise<Workspace>

  /** Returns the experiment, creating it first if needed (idempotent under concurrency). */
  ensureExperiment(experiment: NewExperiment): Promise<Experiment>
  /** Throws EXPERIMENT_NOT_FOUND. */
  getExperiment(experiment: WorkspaceItemRef): Promise<Experiment>
  /** Experiments ordered by name. */
  listExperiments(page: WorkspacePageRequest): Promise<Page<Experiment>>
  /** Creates an experiment with tags; EXPERIMENT_EXISTS when the name is taken (also by a deleted one). */
  createExperiment(input: NewExperimentWithTags): Promise<ExperimentDetails>
  /** The experiment by id or name with its tags and lifecycle; EXPERIMENT_NOT_FOUND. */
  getExperimentDetails(lookup: ExperimentLookup): Promise<ExperimentDetails>
  /** Every experiment of a workspace (deleted ones too) with tags and lifecycle, by id. */
  listExperimentDetails(workspace: string): Promise<ExperimentDetails[]>
  /** Renames, retags, deletes or restores an experiment in one transaction; EXPERIMENT_NOT_FOUND, EXPERIMENT_EXISTS. */
  changeExperiment(change: ExperimentChange): Promise<ExperimentDetails>

  /**
   * Creates a run (and its experiment on first use). RUN_EXISTS if the id is taken; RUN_NOT_FOUND if
   * `parentRunId` names no run of the workspace.
   */
  createRun(input: NewRun): Promise<Run>
  /** Throws RUN_NOT_FOUND. */
  getRun(run: RunRef): Promise<Run>
  listRuns(options: ListRunsOptions): Promise<Page<RunWithMetrics>>
  /** Changes display name and/or description. */
  updateRun(patch: RunPatch): Promise<Run>
  /** Moves a run along its lifecycle (contract `canTransition`); INVALID_STATUS_TRANSITION otherwise. */
  transitionRun(change: RunTransition): Promise<Run>
  /**
   * The runner's heartbeat: sets the run's heartbeatAt (unless it has ended) and answers its status and
   * whether a cancel was asked. RUN_NOT_FOUND.
   */
  heartbeatRun(event: RunEvent): Promise<Heartbeat>
  /**
   * Asks to cancel a run. A finished run is left as it is; a live run no runner ever reported for is
   * Canceled at once; otherwise the request is recorded (once) for its runner. Idempotent. RUN_NOT_FOUND.
   */
  requestRunCancel(event: RunEvent): Promise<Run>
  /**
   * Fails (RUNNER_LOST) every live run whose runner reported once but not since `heartbeatBefore`, and
   * returns their ids. Each change is conditional on the run being as read, so replicas sweeping at
   * once each fail a run at most once between them.
   */
  failSilentRuns(sweep: SilentRunsSweep): Promise<string[]>
  /** Deletes (soft) or restores a run; idempotent. RUN_NOT_FOUND. */
  setRunDeleted(change: RunDeletion): Promise<Run>
  /** Sets then removes tags; LIMIT_EXCEEDED past `maxTags` tags in all. */
  updateTags(change: TagChange): Promise<Run>
  /** Adds properties; PROPERTY_IMMUTABLE if a key exists with another value; LIMIT_EXCEEDED past `maxProperties`. */
  addProperties(change: PropertyChange): Promise<Run>

  /**
   * Stores a batch in one transaction and only then resolves. A batch whose (runId, writerId, sequence)
   * was stored before is not stored again: the result says `duplicate: true`. Points without a step get
   * the metric's next step (one past the highest step so far), in batch order. Accepts points for runs
   * in any status (a late replay must not lose data). RUN_NOT_FOUND; LIMIT_EXCEEDED past `maxMetricNames`.
   */
  ingestMetrics(batch: IngestBatch): Promise<IngestResult>
  /** Summaries of every metric of a run, by name. Throws RUN_NOT_FOUND. */
  listMetrics(run: RunRef): Promise<MetricSummary[]>
  /** Raw points by ascending step (ties in logging order), paged. RUN_NOT_FOUND, METRIC_NOT_FOUND. */
  readMetricSeries(options: ReadSeriesOptions): Promise<Page<MetricPoint>>
  /** The same pages as {@link readMetricSeries}, in columns (what the binary series read sends). */
  readMetricColumns(options: ReadSeriesOptions): Promise<MetricColumnsPage>
  /**
   * Numeric points of one metric downsampled over [fromStep, toStep] (default: the whole series) into
   * at most `buckets` equal step ranges; empty ranges are left out. RUN_NOT_FOUND, METRIC_NOT_FOUND.
   */
  readMetricBuckets(options: ReadBucketsOptions): Promise<MetricBuckets>
  /**
   * Merges small chunks of metric series into large ones (of one run when `runId` is given), each
   * series in its own transaction, so a crash leaves every point stored exactly once. Ingest starts
   * merges in the background on its own; this waits for them and merges what is left. Returns the
   * number of series merged.
   */
  compactMetrics(options?: { workspace: string; runId: string }): Promise<number>
  /** How one metric's points are stored. RUN_NOT_FOUND, METRIC_NOT_FOUND. */
  metricStorage(metric: MetricRef): Promise<MetricStorageStats>

  /**
   * Records (or replaces) an artifact of a live run, and says which record it replaced, decided in the
   * same transaction: of puts of one path racing on any number of replicas, each replaced record is
   * reported to exactly one of them (so its bytes can be removed). RUN_FINISHED when the run is in a
   * terminal status at commit time, so a finished run's artifacts never change.
   */
  putArtifact(options: PutArtifactOptions): Promise<RecordedArtifact>
  findArtifact(artifact: ArtifactRef): Promise<Artifact | undefined>
  /** Artifacts of a run by path, filtered by a string prefix of the path, paged. Throws RUN_NOT_FOUND. */
  listArtifacts(options: ListArtifactsOptions): Promise<Page<Artifact>>

  /**
   * Stores the next version of asset `name` (one past its highest, 1 for a new name) with its files, in
   * one transaction. Versions are distinct and consecutive however many promotes of a name run at once,
   * on every engine and across server replicas. WORKSPACE_NOT_FOUND; RUN_NOT_FOUND for `sourceRunId`.
   */
  createAssetVersion(input: NewAssetVersion): Promise<AssetVersion>
  /**
   * One version with its files by path, the highest with `'latest'`, or the one an alias points at.
   * ASSET_NOT_FOUND; ASSET_ALIAS_NOT_FOUND; WORKSPACE_NOT_FOUND.
   */
  getAssetVersion(asset: AssetVersionRef): Promise<AssetVersion>
  /**
   * Points an alias at a version of the asset, making it or moving it; ASSET_NOT_FOUND when the asset
   * or that version does not exist. Two calls racing for one alias leave one of them, never two rows.
   */
  setAssetAlias(alias: NewAssetAlias): Promise<AssetAlias>
  /**
   * Changes a version's description and tags, in one transaction (its files never change); answers the
   * version with its files. ASSET_NOT_FOUND; LIMIT_EXCEEDED past `maxTags`.
   */
  updateAssetVersion(change: AssetVersionChange): Promise<AssetVersion>
  /** Removes an alias; false when the asset had no such alias. ASSET_NOT_FOUND when the asset does not exist. */
  deleteAssetAlias(alias: AssetAliasRef): Promise<boolean>
  /** The aliases of an asset by alias name (none for an asset without any). ASSET_NOT_FOUND. */
  listAssetAliases(asset: WorkspaceItemRef): Promise<AssetAlias[]>
  /** Assets by name, each with its latest version, paged. WORKSPACE_NOT_FOUND. */
  listAssets(page: WorkspacePageRequest): Promise<Page<AssetSummary>>
  /** Versions of one asset newest first, without their files (`files` is empty), paged. ASSET_NOT_FOUND. */
  listAssetVersions(options: ListAssetVersionsOptions): Promise<Page<AssetVersion>>

  /**
   * Records a snapshot unless its id is recorded already, and marks a recorded incomplete one complete
   * when `complete`. `created` is true when this call inserted it. WORKSPACE_NOT_FOUND.
   */
  putSnapshot(snapshot: NewSnapshot): Promise<{ snapshot: StoredSnapshot; created: boolean }>
  findSnapshot(snapshot: SnapshotRef): Promise<StoredSnapshot | undefined>
  /** A complete snapshot; SNAPSHOT_NOT_FOUND, or SNAPSHOT_INCOMPLETE while contents of it are missing. */
  getSnapshot(snapshot: SnapshotRef): Promise<StoredSnapshot>
  /** The sizes of the contents of `sha256s` the datastore holds, by SHA-256. */
  findSnapshotBlobs(query: SnapshotBlobsQuery): Promise<Map<string, number>>
  /** Notes that a datastore holds a content; true when it was not noted before. Idempotent. */
  recordSnapshotBlob(blob: NewSnapshotBlob): Promise<boolean>

  /**
   * Appends bytes to a live log at `offset` and answers its size. Bytes already stored (a retried
   * append) are ignored; an offset past the size is WRITE_CONFLICT naming the size. RUN_NOT_FOUND.
   */
  appendRunLog(append: RunLogAppend): Promise<{ size: number }>
  /** Up to `limit` bytes of a live log from `offset` (none past its end; a log never written is empty). RUN_NOT_FOUND. */
  readRunLog(read: RunLogRead): Promise<RunLogBytes>
  /** The live logs of a run, by name. RUN_NOT_FOUND. */
  listRunLogs(run: RunRef): Promise<RunLogSummary[]>

  /** Records a logged model; RUN_NOT_FOUND for its source run. */
  createLoggedModel(input: NewLoggedModel): Promise<LoggedModel>
  /** MODEL_NOT_FOUND. */
  getLoggedModel(ref: { workspace: string; id: string }): Promise<LoggedModel>
  /** Changes a logged model in one transaction; MODEL_NOT_FOUND. */
  changeLoggedModel(change: LoggedModelChange): Promise<LoggedModel>
  /** Logged models (not deleted) of some experiments or of a run, newest first. */
  listLoggedModels(query: LoggedModelQuery): Promise<LoggedModel[]>

  /** DATASTORE_EXISTS unless `overwrite`; WORKSPACE_NOT_FOUND. */
  putDatastore(record: DatastoreRecord, options: { overwrite: boolean }): Promise<DatastoreRecord>
  findDatastore(datastore: WorkspaceItemRef): Promise<DatastoreRecord | undefined>
  /** Throws DATASTORE_NOT_FOUND. */
  getDatastore(datastore: WorkspaceItemRef): Promise<DatastoreRecord>
  listDatastores(workspace: string): Promise<DatastoreRecord[]>
  /** Removes the registration only. DATASTORE_NOT_FOUND. */
  deleteDatastore(datastore: WorkspaceItemRef): Promise<void>
}

/** The public read shape of a datastore record: never the secret. */
export function toDatastoreView(record: DatastoreRecord, workspace: Workspace): Datastore {
  return {
    workspace: record.workspace,
    name: record.name,
    kind: record.kind,
    settings: record.settings,
    authType: record.authType,
    hasSecret: record.secret !== null,
    isDefault: workspace.defaultDatastore === record.name,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  }
}
