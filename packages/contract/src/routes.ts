import { z } from 'zod'
import {
  AddPropertiesSchema,
  AssetSummarySchema,
  AssetVersionSchema,
  PromoteAssetSchema,
  AssetAliasSchema,
  SetAssetAliasSchema,
  UpdateAssetVersionSchema,
  ArtifactSchema,
  CreateExperimentSchema,
  CreateRunSchema,
  CreateWorkspaceSchema,
  DatastoreSchema,
  DatastoreAccessRequestSchema,
  DatastoreAccessSchema,
  DatastoreFilePageSchema,
  ListDatastoreFilesQuerySchema,
  RegisterDatastoreSchema,
  SetDefaultDatastoreSchema,
  StoredFileSchema,
  UploadDatastoreFileQuerySchema,
  ExperimentSchema,
  HealthSchema,
  IngestResultSchema,
  ListArtifactsQuerySchema,
  ListRunsQuerySchema,
  MetricBatchSchema,
  MetricBucketsQuerySchema,
  MetricBucketsSchema,
  MetricPointSchema,
  MetricSeriesQuerySchema,
  MetricSummarySchema,
  PageQuerySchema,
  RunSchema,
  RunWithMetricsSchema,
  SetRunStatusSchema,
  UpdateRunSchema,
  UpdateTagsSchema,
  WorkspaceSchema,
  pageSchema,
} from './schemas.js'
import type { Limits } from './limits.js'
import {
  AppendRunLogQuerySchema,
  CreateSnapshotSchema,
  HeartbeatSchema,
  MintRunTokenSchema,
  ReadRunLogQuerySchema,
  RunLogAppendSchema,
  RunLogChunkSchema,
  RunLogSummarySchema,
  RunTokenSchema,
  SnapshotBlobQuerySchema,
  SnapshotBlobSchema,
  SnapshotSchema,
  SnapshotSummarySchema,
} from './schemas.js'
import { parseMetricBatch } from './metric-validation.js'

/** The prefix of every API path. */
export const API_PREFIX = '/api/v1'

/** HTTP methods the API uses. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD'

/**
 * One route of the HTTP API: method, path (with `:param` segments, and a trailing `*` for a path that
 * may contain slashes), and the schemas of its query, JSON body and response. `binary` marks a raw
 * byte body or response. The server reads a route's query and body with these schemas where it mounts
 * the route, and its tests check every JSON answer against `response` and `status`.
 */
export interface RouteDef {
  method: HttpMethod
  path: string
  summary: string
  query?: z.ZodType
  body?: z.ZodType | 'binary'
  /**
   * A hand-written parser the server reads the JSON body with instead of `body` (the ingest hot path);
   * it accepts and refuses what `body` does, with the server's limits in place of the defaults.
   */
  bodyParser?: (input: unknown, limits: Limits) => unknown
  /**
   * The body may also come as MessagePack (`application/msgpack`), decoded and handed to `bodyParser`
   * like parsed JSON: the SDK's binary form of a metric batch (decision 0029).
   */
  msgpackBody?: true
  response: z.ZodType | 'binary'
  /** The status of a success, 200 unless given. */
  status?: number
  /** Another success status, and when it is sent (a create repeated safely answers 200). */
  alsoStatus?: { status: number; when: string }
  /**
   * What a run token (the token a submitted run's runner and script hold) may do here; a route without
   * it refuses run tokens with FORBIDDEN. `run`: only on the token's own run (`:runId`). `workspace`:
   * reads of the token's workspace that reveal no other run's data. `datastore-read` / `datastore-write`:
   * only a datastore the token's inputs (read) or outputs (write) name, and a file only inside their
   * paths (never `.wharf/` or another run's artifacts). `snapshot`: the token's run's
   * snapshot and the blobs it lists. `assets`: reads of the workspace's assets, which are published
   * for reuse (a script loads a registered model). `promote`: promote the token's own run's artifacts
   * (body `runId`), and point an alias at a version made from its own run.
   */
  runToken?: RunTokenAccess
}

/** What a run token may do on a route: see {@link RouteDef.runToken}. */
export type RunTokenAccess = 'run' | 'workspace' | 'datastore-read' | 'datastore-write' | 'snapshot' | 'assets' | 'promote'

const ws = `${API_PREFIX}/workspaces/:workspace`
const run = `${ws}/runs/:runId`

/** Every route of the API, by name. The server mounts them, the client calls them, OpenAPI lists them. */
export const ROUTES = {
  health: {
    method: 'GET',
    path: `${API_PREFIX}/health`,
    summary: 'Server health, version, store kind and the limits it enforces',
    response: HealthSchema,
    runToken: 'workspace',
  },
  listWorkspaces: {
    method: 'GET',
    path: `${API_PREFIX}/workspaces`,
    summary: 'List workspaces',
    response: z.object({ items: z.array(WorkspaceSchema) }),
  },
  createWorkspace: {
    method: 'POST',
    path: `${API_PREFIX}/workspaces`,
    summary: 'Create a workspace with its two default datastores',
    body: CreateWorkspaceSchema,
    response: WorkspaceSchema,
    status: 201,
  },
  getWorkspace: { method: 'GET', path: ws, summary: 'Get a workspace', response: WorkspaceSchema, runToken: 'workspace' },
  listDatastores: {
    method: 'GET',
    path: `${ws}/datastores`,
    summary: 'List the datastores of a workspace (secrets are never returned)',
    response: z.object({ items: z.array(DatastoreSchema) }),
  },
  getDatastore: {
    method: 'GET',
    path: `${ws}/datastores/:datastore`,
    summary: 'Get one datastore (secrets are never returned)',
    response: DatastoreSchema,
    runToken: 'datastore-read',
  },
  registerDatastore: {
    method: 'POST',
    path: `${ws}/datastores`,
    summary: 'Register storage (validated unless skipValidation; overwrite replaces, which rotates keys)',
    body: RegisterDatastoreSchema,
    response: DatastoreSchema,
    status: 201,
    alsoStatus: { status: 200, when: 'an existing registration was replaced (overwrite)' },
  },
  unregisterDatastore: {
    method: 'DELETE',
    path: `${ws}/datastores/:datastore`,
    summary: 'Remove a registration; the storage and its files are never touched',
    response: z.object({ name: z.string(), unregistered: z.literal(true) }),
  },
  setDefaultDatastore: {
    method: 'PUT',
    path: `${ws}/default-datastore`,
    summary: 'Make a registered datastore the default of the workspace',
    body: SetDefaultDatastoreSchema,
    response: WorkspaceSchema,
  },
  datastoreAccess: {
    method: 'POST',
    path: `${ws}/datastores/:datastore/access`,
    summary: 'How to reach the bytes: a short-lived SAS for Azure, a shared folder, or the file routes',
    body: DatastoreAccessRequestSchema,
    response: DatastoreAccessSchema,
    runToken: 'datastore-read',
  },
  listDatastoreFiles: {
    method: 'GET',
    path: `${ws}/datastores/:datastore/files`,
    summary: 'List files by path prefix, in path order, paged; stored names that are no paths come in `skipped`',
    query: ListDatastoreFilesQuerySchema,
    response: DatastoreFilePageSchema,
    runToken: 'datastore-read',
  },
  uploadDatastoreFile: {
    method: 'PUT',
    path: `${ws}/datastores/:datastore/files/content/*`,
    summary: 'Upload a file (streamed); an existing file is a 409 unless overwrite=true',
    query: UploadDatastoreFileQuerySchema,
    body: 'binary',
    response: StoredFileSchema,
    status: 201,
    runToken: 'datastore-write',
  },
  downloadDatastoreFile: {
    method: 'GET',
    path: `${ws}/datastores/:datastore/files/content/*`,
    summary: 'Download a file (streamed; HTTP Range supported)',
    response: 'binary',
    runToken: 'datastore-read',
  },
  deleteDatastoreFile: {
    method: 'DELETE',
    path: `${ws}/datastores/:datastore/files/content/*`,
    summary: 'Delete a file; FILE_NOT_FOUND (404) when there is no file at that path',
    response: z.object({ path: z.string(), deleted: z.literal(true) }),
  },
  listExperiments: {
    method: 'GET',
    path: `${ws}/experiments`,
    summary: 'List experiments, by name',
    query: PageQuerySchema,
    response: pageSchema(ExperimentSchema),
  },
  createExperiment: {
    method: 'POST',
    path: `${ws}/experiments`,
    summary: 'Get or create an experiment (idempotent)',
    body: CreateExperimentSchema,
    response: ExperimentSchema,
  },
  getExperiment: {
    method: 'GET',
    path: `${ws}/experiments/:experiment`,
    summary: 'Get an experiment',
    response: ExperimentSchema,
    runToken: 'workspace',
  },
  createRun: {
    method: 'POST',
    path: `${ws}/runs`,
    summary:
      'Create a run; its experiment is created on first use. A runId sent again with the same experiment returns that run (200), so creation can be retried',
    body: CreateRunSchema,
    response: RunSchema,
    status: 201,
    alsoStatus: { status: 200, when: 'the runId was sent again with the same experiment: the existing run' },
  },
  listRuns: {
    method: 'GET',
    path: `${ws}/runs`,
    summary: 'List runs: filter by experiment, status, tag or parent; sort by a time or a metric; paged',
    query: ListRunsQuerySchema,
    response: pageSchema(RunWithMetricsSchema),
  },
  getRun: { method: 'GET', path: run, summary: 'Get a run', response: RunSchema, runToken: 'run' },
  updateRun: {
    method: 'PATCH',
    path: run,
    summary: 'Change display name or description',
    body: UpdateRunSchema,
    response: RunSchema,
    runToken: 'run',
  },
  setRunStatus: {
    method: 'POST',
    path: `${run}/status`,
    summary: 'Move a run along its lifecycle (409 for an illegal move)',
    body: SetRunStatusSchema,
    response: RunSchema,
    runToken: 'run',
  },
  updateTags: {
    method: 'PATCH',
    path: `${run}/tags`,
    summary: 'Set and remove tags (tags are mutable)',
    body: UpdateTagsSchema,
    response: RunSchema,
    runToken: 'run',
  },
  addProperties: {
    method: 'POST',
    path: `${run}/properties`,
    summary: 'Add properties (add-only: changing one is a 409)',
    body: AddPropertiesSchema,
    response: RunSchema,
    runToken: 'run',
  },
  logMetrics: {
    method: 'POST',
    path: `${run}/metrics`,
    summary: 'Store a batch of metric points in one transaction; idempotent per (writerId, sequence)',
    body: MetricBatchSchema,
    bodyParser: parseMetricBatch,
    msgpackBody: true,
    response: IngestResultSchema,
    runToken: 'run',
  },
  listMetrics: {
    method: 'GET',
    path: `${run}/metrics`,
    summary: "Summaries (last, min, max, count) of a run's metrics",
    response: z.object({ items: z.array(MetricSummarySchema) }),
    runToken: 'run',
  },
  getMetricSeries: {
    method: 'GET',
    path: `${run}/metrics/series`,
    summary: 'Raw points of one metric, by step, paged',
    query: MetricSeriesQuerySchema,
    response: pageSchema(MetricPointSchema),
    runToken: 'run',
  },
  getMetricBuckets: {
    method: 'GET',
    path: `${run}/metrics/buckets`,
    summary: 'One metric downsampled to per-bucket min/max/first/last over a step range',
    query: MetricBucketsQuerySchema,
    response: MetricBucketsSchema,
    runToken: 'run',
  },
  listArtifacts: {
    method: 'GET',
    path: `${run}/artifacts`,
    summary: 'List artifacts by path prefix, paged',
    query: ListArtifactsQuerySchema,
    response: pageSchema(ArtifactSchema),
    runToken: 'run',
  },
  uploadArtifact: {
    method: 'PUT',
    path: `${run}/artifacts/content/*`,
    summary: 'Upload an artifact (streamed, any size); refused once the run has finished',
    body: 'binary',
    response: ArtifactSchema,
    status: 201,
    runToken: 'run',
  },
  downloadArtifact: {
    method: 'GET',
    path: `${run}/artifacts/content/*`,
    summary: 'Download an artifact (streamed; HTTP Range supported)',
    response: 'binary',
    runToken: 'run',
  },
  promoteAsset: {
    method: 'POST',
    path: `${ws}/assets`,
    summary: "Promote a run's artifact (or folder of artifacts) to a new version of a named asset",
    body: PromoteAssetSchema,
    response: AssetVersionSchema,
    status: 201,
    runToken: 'promote',
  },
  listAssets: {
    method: 'GET',
    path: `${ws}/assets`,
    summary: 'List assets by name, with their latest version',
    query: PageQuerySchema,
    response: pageSchema(AssetSummarySchema),
    runToken: 'assets',
  },
  listAssetVersions: {
    method: 'GET',
    path: `${ws}/assets/:asset/versions`,
    summary: 'List the versions of an asset, newest first (files left out)',
    query: PageQuerySchema,
    response: pageSchema(AssetVersionSchema),
    runToken: 'assets',
  },
  getAssetVersion: {
    method: 'GET',
    path: `${ws}/assets/:asset/versions/:version`,
    summary:
      'One version of an asset with its files; the version is a number, "latest" (the newest) or an alias (the version it points at)',
    response: AssetVersionSchema,
    runToken: 'assets',
  },
  updateAssetVersion: {
    method: 'PATCH',
    path: `${ws}/assets/:asset/versions/:version`,
    summary: "Edit a version's description and tags (its files never change); answers the version with its files",
    body: UpdateAssetVersionSchema,
    response: AssetVersionSchema,
  },
  listAssetAliases: {
    method: 'GET',
    path: `${ws}/assets/:asset/aliases`,
    summary: 'The aliases of an asset, by name, each with the version it points at',
    response: z.object({ items: z.array(AssetAliasSchema) }),
    runToken: 'assets',
  },
  setAssetAlias: {
    method: 'PUT',
    path: `${ws}/assets/:asset/aliases/:alias`,
    summary: 'Point an alias at a version of the asset: made when new, moved when it pointed elsewhere',
    body: SetAssetAliasSchema,
    response: AssetAliasSchema,
    runToken: 'promote',
  },
  deleteAssetAlias: {
    method: 'DELETE',
    path: `${ws}/assets/:asset/aliases/:alias`,
    summary: 'Remove an alias (the version stays); deleted is false when the asset had no such alias',
    response: z.object({ name: z.string(), alias: z.string(), deleted: z.boolean() }),
  },
  downloadAssetFile: {
    method: 'GET',
    path: `${ws}/assets/:asset/versions/:version/files/*`,
    summary: 'Download one file of an asset version (streamed; HTTP Range supported)',
    response: 'binary',
    runToken: 'assets',
  },
  createSnapshot: {
    method: 'POST',
    path: `${ws}/snapshots`,
    summary:
      'Record a source snapshot by its manifest (content-addressed: the same files give the same id); answers which contents to upload before it is complete',
    body: CreateSnapshotSchema,
    response: SnapshotSummarySchema,
    status: 201,
    alsoStatus: { status: 200, when: 'the same manifest was recorded before' },
  },
  getSnapshot: {
    method: 'GET',
    path: `${ws}/snapshots/:snapshotId`,
    summary: "A snapshot's manifest: every file's path, hash and size",
    response: SnapshotSchema,
    runToken: 'snapshot',
  },
  uploadSnapshotBlob: {
    method: 'PUT',
    path: `${ws}/snapshot-blobs/:sha256`,
    summary: 'Store one file content of a snapshot under its SHA-256 (checked); storing it twice is harmless',
    query: SnapshotBlobQuerySchema,
    body: 'binary',
    response: SnapshotBlobSchema,
    status: 201,
    alsoStatus: { status: 200, when: 'the datastore already held these bytes' },
  },
  downloadSnapshotBlob: {
    method: 'GET',
    path: `${ws}/snapshot-blobs/:sha256`,
    summary: 'Download one file content of a snapshot by its SHA-256',
    query: SnapshotBlobQuerySchema,
    response: 'binary',
    runToken: 'snapshot',
  },
  cancelRun: {
    method: 'POST',
    path: `${run}/cancel`,
    summary:
      'Cancel a run: a run with a live runner is stopped by it (SIGTERM, then SIGKILL) and ends Canceled; a run no runner holds ends Canceled at once; a finished run is left as it is',
    response: RunSchema,
    runToken: 'run',
  },
  runHeartbeat: {
    method: 'POST',
    path: `${run}/heartbeat`,
    summary: "The runner's sign of life; the answer says whether a cancel was asked. A run whose runner falls silent ends Failed",
    response: HeartbeatSchema,
    runToken: 'run',
  },
  mintRunToken: {
    method: 'POST',
    path: `${run}/token`,
    summary: 'A token that can write to this run only and read its inputs, for its runner and script',
    body: MintRunTokenSchema,
    response: RunTokenSchema,
    status: 201,
  },
  listRunLogs: {
    method: 'GET',
    path: `${run}/logs`,
    summary: "A run's live logs with their sizes",
    response: z.object({ items: z.array(RunLogSummarySchema) }),
    runToken: 'run',
  },
  appendRunLog: {
    method: 'POST',
    path: `${run}/logs/:log`,
    summary: 'Append bytes to a live log at a byte offset (a repeated append is ignored; a gap is a 409)',
    query: AppendRunLogQuerySchema,
    body: 'binary',
    response: RunLogAppendSchema,
    runToken: 'run',
  },
  readRunLog: {
    method: 'GET',
    path: `${run}/logs/:log`,
    summary: 'Read a live log from a byte offset, waiting up to waitMs for more; `ended` once the run ended and all was read',
    query: ReadRunLogQuerySchema,
    response: RunLogChunkSchema,
    runToken: 'run',
  },
} as const satisfies Record<string, RouteDef>

/** The name of one route. */
export type RouteName = keyof typeof ROUTES

/** Fills `:param` segments of a route path with URL-encoded values. */
export function routePath(path: string, params: Record<string, string>): string {
  return path.replace(/:([A-Za-z][A-Za-z0-9]*)/g, (_, name: string) => {
    const value = params[name]
    if (value === undefined) throw new Error(`missing path parameter "${name}" for ${path}`)
    return encodeURIComponent(value)
  })
}
