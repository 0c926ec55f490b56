import { z } from 'zod'
import { DEFAULT_LIMITS, type LimitName } from './limits.js'
import { NON_FINITE_VALUES, assertMetricName, checkMetricPoint, parseMetricBatch } from './metric-validation.js'
import { RUN_STATUSES } from './run-status.js'

// ---------------------------------------------------------------------------------------------------
// Shared pieces

/** The JSON body of every error response. */
export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
})
export type ErrorBody = z.infer<typeof ErrorBodySchema>

/** Query parameters of a paged listing. */
export const PageQuerySchema = z.object({
  pageSize: z.coerce.number().int().min(1).optional(),
  pageToken: z.string().min(1).max(2000).optional(),
})
export type PageQuery = z.infer<typeof PageQuerySchema>

/** One page of a listing; `nextPageToken` is absent on the last page. */
export interface Page<T> {
  items: T[]
  nextPageToken?: string
}

/** A schema for one page of `item`. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextPageToken: z.string().optional() })
}

const StringMap = z.record(z.string(), z.string())

// ---------------------------------------------------------------------------------------------------
// Workspaces and experiments

export const WorkspaceSchema = z.object({
  name: z.string(),
  defaultDatastore: z.string(),
  artifactDatastore: z.string(),
  createdAt: z.string(),
})
export type Workspace = z.infer<typeof WorkspaceSchema>

export const CreateWorkspaceSchema = z.strictObject({ name: z.string() })
export type CreateWorkspaceRequest = z.infer<typeof CreateWorkspaceSchema>

export const ExperimentSchema = z.object({
  id: z.number().int(),
  workspace: z.string(),
  name: z.string(),
  createdAt: z.string(),
})
export type Experiment = z.infer<typeof ExperimentSchema>

export const CreateExperimentSchema = z.strictObject({ name: z.string() })
export type CreateExperimentRequest = z.infer<typeof CreateExperimentSchema>

// ---------------------------------------------------------------------------------------------------
// Runs

export const RunStatusSchema = z.enum(RUN_STATUSES)

export const RunErrorSchema = z.object({
  message: z.string(),
  code: z.string().optional(),
  details: z.string().optional(),
})
export type RunError = z.infer<typeof RunErrorSchema>

/** How a submitted run reaches one piece of data: mounted or downloaded before it starts, uploaded after it ends. */
export const DATA_REFERENCE_MODES = ['mount', 'download', 'upload'] as const
export type DataReferenceMode = (typeof DATA_REFERENCE_MODES)[number]

/** A name a data reference can have: it becomes part of an environment variable name. */
export const DATA_REFERENCE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/

/**
 * One data reference of a submitted run, as stored with it. `pathOnDatastore` null is the whole
 * datastore; `{runId}` in it is replaced by the run's id. `pathOnCompute` null is a folder the runner
 * picks; relative is relative to the run's working folder; absolute is taken as given.
 */
export const DataReferenceConfigSchema = z.strictObject({
  name: z.string().regex(DATA_REFERENCE_NAME),
  datastore: z.string().min(1).max(255),
  pathOnDatastore: z.string().min(1).max(1024).nullable(),
  mode: z.enum(DATA_REFERENCE_MODES),
  pathOnCompute: z.string().min(1).max(1024).nullable(),
  overwrite: z.boolean(),
})
export type DataReferenceConfig = z.infer<typeof DataReferenceConfigSchema>

/**
 * What a submitted run executes, stored with it so that any runner (this machine's, or a future cluster
 * target's) can start it from the run id alone. `command` is the argv before data-reference tokens are
 * replaced; `script` is the entry script relative to the snapshot, null for a `--command` run.
 */
export const RunDefinitionSchema = z.strictObject({
  script: z.string().min(1).max(1024).nullable(),
  command: z.array(z.string().max(32_768)).min(1).max(4096),
  dataReferences: z.array(DataReferenceConfigSchema).max(256),
  environmentVariables: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(32_768)),
  sourceDirectoryDataStore: z.string().min(1).max(255),
  /** The interpreter for a `.py` entry script, default `python3`. */
  python: z.string().min(1).max(4096).nullable(),
  maxRunDurationSeconds: z.number().int().min(1).max(2_592_000),
})
export type RunDefinition = z.infer<typeof RunDefinitionSchema>

export const RunSchema = z.object({
  id: z.string(),
  workspace: z.string(),
  experiment: z.string(),
  displayName: z.string(),
  description: z.string(),
  status: RunStatusSchema,
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  error: RunErrorSchema.nullable(),
  tags: StringMap,
  properties: StringMap,
  parentRunId: z.string().nullable(),
  computeTarget: z.string(),
  scriptName: z.string().nullable(),
  command: z.array(z.string()).nullable(),
  /** The source snapshot of a submitted run. */
  snapshotId: z.string().nullable(),
  /** What a submitted run executes; null for a run a script started itself. */
  definition: RunDefinitionSchema.nullable(),
  /** When the run entered each status it has been in. */
  statusTimes: z.partialRecord(RunStatusSchema, z.string()),
  /** The last heartbeat of the runner supervising a submitted run; null when no runner has reported. */
  heartbeatAt: z.string().nullable(),
  /** When a cancel was asked for a run still live; its runner stops the process and ends it Canceled. */
  cancelRequestedAt: z.string().nullable(),
  /** Set (the time) while the run is deleted through the MLflow API; a deleted run stays readable and restorable. */
  deletedAt: z.string().optional(),
})
export type Run = z.infer<typeof RunSchema>

export const CreateRunSchema = z.strictObject({
  experiment: z.string(),
  runId: z.string().optional(),
  displayName: z.string().optional(),
  description: z.string().optional(),
  status: z.enum(['NotStarted', 'Queued', 'Running']).optional(),
  tags: StringMap.optional(),
  properties: StringMap.optional(),
  parentRunId: z.string().optional(),
  computeTarget: z.string().min(1).max(256).optional(),
  scriptName: z.string().max(1024).optional(),
  command: z.array(z.string().max(32_768)).max(4096).optional(),
  /** When the run started, for a run recorded offline and created later (`wharf sync`); default now. */
  startedAt: z.iso.datetime().optional(),
  /** A submitted run's source snapshot (from createSnapshot; it must be complete). */
  snapshotId: z.string().min(1).max(128).optional(),
  /** A submitted run's definition; its runner reads it from the run. */
  definition: RunDefinitionSchema.optional(),
})
export type CreateRunRequest = z.infer<typeof CreateRunSchema>

export const UpdateRunSchema = z.strictObject({
  displayName: z.string().optional(),
  description: z.string().optional(),
})
export type UpdateRunRequest = z.infer<typeof UpdateRunSchema>

export const SetRunStatusSchema = z.strictObject({
  status: RunStatusSchema,
  error: RunErrorSchema.optional(),
  /** When the change happened, for a status recorded offline and sent later (`wharf sync`); default now. */
  at: z.iso.datetime().optional(),
})
export type SetRunStatusRequest = z.infer<typeof SetRunStatusSchema>

export const UpdateTagsSchema = z.strictObject({
  set: StringMap.optional(),
  remove: z.array(z.string()).optional(),
})
export type UpdateTagsRequest = z.infer<typeof UpdateTagsSchema>

export const AddPropertiesSchema = z.strictObject({ properties: StringMap })
export type AddPropertiesRequest = z.infer<typeof AddPropertiesSchema>

export const RUN_ORDER_FIELDS = ['createdAt', 'startedAt', 'endedAt'] as const
export type RunOrderField = (typeof RUN_ORDER_FIELDS)[number]

/**
 * Query of the run listing. `tag` takes `key` or `key=value` (repeatable); `orderBy` takes a time field
 * or `metric:<name>` to sort by that metric's last value (runs without the metric sort last).
 */
export const ListRunsQuerySchema = PageQuerySchema.extend({
  experiment: z.string().optional(),
  status: z.union([RunStatusSchema, z.array(RunStatusSchema)]).optional(),
  tag: z.union([z.string(), z.array(z.string())]).optional(),
  parentRunId: z.string().optional(),
  rootOnly: z.enum(['true', 'false']).optional(),
  orderBy: z.string().optional(),
  order: z.enum(['asc', 'desc']).optional(),
  includeMetrics: z.enum(['true', 'false']).optional(),
})
export type ListRunsQuery = z.infer<typeof ListRunsQuerySchema>

// ---------------------------------------------------------------------------------------------------
// Metrics

// A literal union rather than z.enum: enum types are emitted as object keys in .d.ts files, where the
// key "-Infinity" turns into a computed [-Infinity] that TypeScript drops.
const NonFiniteSchema = z.literal(NON_FINITE_VALUES)

// A step or a sequence number: a whole number from 0 to 2^53-1, as the fast parser checks it.
const StepSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

/**
 * Runs the one metric check of the contract (with the default limits) inside a zod schema, so the
 * schema and the server's fast parser accept and refuse the same inputs; its error becomes the issue.
 */
function refineWith(ctx: z.RefinementCtx, check: () => unknown): void {
  try {
    check()
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message })
  }
}

/**
 * One point of a metric on the wire. Exactly one of `value` (a number, or one of the non-finite
 * strings) and `text` (a string metric) is set. `step` defaults to the next step of that metric;
 * `time` (epoch milliseconds) to the time the server received it.
 */
export const MetricPointInSchema = z
  .strictObject({
    name: z.string(),
    value: z.union([z.number(), NonFiniteSchema]).optional(),
    text: z.string().optional(),
    step: StepSchema.optional(),
    time: z.number().optional(),
  })
  .superRefine((point, ctx) => {
    refineWith(ctx, () => {
      assertMetricName(point.name, DEFAULT_LIMITS)
      checkMetricPoint(point, { limits: DEFAULT_LIMITS, place: { row: 0 } })
    })
  })
export type MetricPointIn = z.infer<typeof MetricPointInSchema>

/**
 * One metric's points in columns: the compact form clients use on the hot path (number arrays parse
 * far faster than arrays of objects). `values` holds numbers (non-finite as strings), `texts` string
 * metrics; give one of them, or both with `null` where the other applies. `steps` and `times`, when
 * present, have the same length.
 */
export const MetricSeriesInSchema = z.strictObject({
  name: z.string(),
  values: z.array(z.union([z.number(), NonFiniteSchema, z.null()])).optional(),
  texts: z.array(z.string().nullable()).optional(),
  steps: z.array(StepSchema).optional(),
  times: z.array(z.number()).optional(),
})
export type MetricSeriesIn = z.infer<typeof MetricSeriesInSchema>

/**
 * A batch of points from one writer, as `points` (one object per point), `series` (columns per
 * metric), or both (`points` first). `writerId` and `sequence` together make the batch idempotent: a
 * batch the server has already stored is acknowledged again and not stored twice.
 */
export const MetricBatchSchema = z
  .strictObject({
    writerId: z.string().min(1).max(128).optional(),
    sequence: StepSchema.optional(),
    points: z.array(MetricPointInSchema).optional(),
    series: z.array(MetricSeriesInSchema).optional(),
  })
  .superRefine((batch, ctx) => refineWith(ctx, () => parseMetricBatch(batch, DEFAULT_LIMITS)))
export type MetricBatch = z.infer<typeof MetricBatchSchema>

export const IngestResultSchema = z.object({
  accepted: z.number().int(),
  duplicate: z.boolean(),
})
export type IngestResult = z.infer<typeof IngestResultSchema>

/** A metric value as read back: a number (non-finite as the strings above) or text. */
export const MetricValueSchema = z.union([z.number(), NonFiniteSchema, z.string()])

export const MetricSummarySchema = z.object({
  name: z.string(),
  /** `number` when every point is a number, `text` when every point is text, `mixed` otherwise. */
  kind: z.enum(['number', 'text', 'mixed']),
  count: z.number().int(),
  lastStep: z.number().int(),
  lastTime: z.number(),
  /** The value of the point with the highest step (the latest logged among equal steps). */
  last: MetricValueSchema.nullable(),
  min: z.union([z.number(), NonFiniteSchema]).nullable(),
  max: z.union([z.number(), NonFiniteSchema]).nullable(),
})
export type MetricSummary = z.infer<typeof MetricSummarySchema>

/** A run together with its metrics' last values, as run tables show it. */
export const RunWithMetricsSchema = RunSchema.extend({
  metrics: z.record(z.string(), MetricValueSchema.nullable()),
})
export type RunWithMetrics = z.infer<typeof RunWithMetricsSchema>

export const MetricPointSchema = z.object({
  step: z.number().int(),
  time: z.number(),
  value: z.union([z.number(), NonFiniteSchema]).optional(),
  text: z.string().optional(),
})
export type MetricPoint = z.infer<typeof MetricPointSchema>

/**
 * A raw series read. `format=msgpack` answers the page as MessagePack columns of float64 bytes (see
 * `encodeSeriesColumns`): writing and reading 100,000 doubles as JSON text costs far more than reading them.
 */
export const MetricSeriesQuerySchema = PageQuerySchema.extend({
  name: z.string().min(1),
  fromStep: z.coerce.number().int().min(0).optional(),
  toStep: z.coerce.number().int().min(0).optional(),
  format: z.enum(['json', 'msgpack']).optional(),
})
export type MetricSeriesQuery = z.infer<typeof MetricSeriesQuerySchema>

/**
 * A chart read: one metric over a step range (`axis=step`, the default) or a time range (`axis=time`,
 * epoch milliseconds), in at most `buckets` equal ranges.
 */
export const MetricBucketsQuerySchema = z.object({
  name: z.string().min(1),
  axis: z.enum(['step', 'time']).optional(),
  fromStep: z.coerce.number().int().min(0).optional(),
  toStep: z.coerce.number().int().min(0).optional(),
  fromTime: z.coerce.number().finite().optional(),
  toTime: z.coerce.number().finite().optional(),
  buckets: z.coerce.number().int().min(1).optional(),
})
export type MetricBucketsQuery = z.infer<typeof MetricBucketsQuerySchema>

/**
 * One bucket of a downsampled numeric series: the range it covers and the exact count, min, max, first
 * and last values of the points in it, so spikes stay visible at every zoom. Points are ordered by step,
 * then by arrival (on the time axis: by time, then step, then arrival); first and last follow that order.
 * Non-finite values are counted in `nonFinite`, never in min/max; first and last may be non-finite.
 * On the step axis `fromStep`/`toStep` are the bucket's bounds; on the time axis `fromTime`/`toTime`
 * are, and `fromStep`/`toStep` are the lowest and highest step of its points.
 */
export const MetricBucketSchema = z.object({
  fromStep: z.number().int(),
  toStep: z.number().int(),
  fromTime: z.number().optional(),
  toTime: z.number().optional(),
  count: z.number().int(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  first: z.union([z.number(), NonFiniteSchema]).nullable(),
  last: z.union([z.number(), NonFiniteSchema]).nullable(),
  nonFinite: z.number().int(),
})
export type MetricBucket = z.infer<typeof MetricBucketSchema>

/** A downsampled read: the range asked (defaults filled in), the bucket width in steps or ms, the non-empty buckets. */
export const MetricBucketsSchema = z.object({
  name: z.string(),
  axis: z.enum(['step', 'time']),
  fromStep: z.number().int(),
  toStep: z.number().int(),
  fromTime: z.number().optional(),
  toTime: z.number().optional(),
  bucketWidth: z.number(),
  buckets: z.array(MetricBucketSchema),
})
export type MetricBuckets = z.infer<typeof MetricBucketsSchema>

// ---------------------------------------------------------------------------------------------------
// Artifacts

export const ArtifactSchema = z.object({
  runId: z.string(),
  path: z.string(),
  size: z.number().int(),
  sha256: z.string(),
  contentType: z.string(),
  createdAt: z.string(),
  datastore: z.string(),
  key: z.string(),
})
export type Artifact = z.infer<typeof ArtifactSchema>

export const ListArtifactsQuerySchema = PageQuerySchema.extend({
  prefix: z.string().optional(),
})
export type ListArtifactsQuery = z.infer<typeof ListArtifactsQuerySchema>

// ---------------------------------------------------------------------------------------------------
// Assets: named, versioned sets of files promoted from a run's artifacts

/** One file of an asset version: its path inside the asset, size, digest, and where its bytes are. */
export const AssetFileSchema = z.object({
  path: z.string(),
  size: z.number().int(),
  sha256: z.string(),
  contentType: z.string(),
  datastore: z.string(),
  key: z.string(),
})
export type AssetFile = z.infer<typeof AssetFileSchema>

/**
 * One version of an asset: where it came from and every file in it. Its files never change; its
 * description and tags can be edited (updateAssetVersion).
 */
export const AssetVersionSchema = z.object({
  workspace: z.string(),
  name: z.string(),
  version: z.number().int().min(1),
  description: z.string(),
  tags: z.record(z.string(), z.string()),
  sourceRunId: z.string(),
  artifactPath: z.string(),
  /** True when the files were copied (the run was still live), false when they are the run's own. */
  copied: z.boolean(),
  fileCount: z.number().int(),
  size: z.number().int(),
  createdAt: z.string(),
  files: z.array(AssetFileSchema),
})
export type AssetVersion = z.infer<typeof AssetVersionSchema>

/** An asset as listed: its name, latest version and when it last changed. */
export const AssetSummarySchema = z.object({
  name: z.string(),
  latestVersion: z.number().int(),
  versionCount: z.number().int(),
  description: z.string(),
  updatedAt: z.string(),
})
export type AssetSummary = z.infer<typeof AssetSummarySchema>

/**
 * Promote a run's artifacts to an asset: `artifactPath` names one artifact or a folder of them
 * (`outputs/model` takes `outputs/model` and everything under `outputs/model/`). The same name again
 * adds a version.
 */
export const PromoteAssetSchema = z.strictObject({
  name: z.string(),
  runId: z.string(),
  artifactPath: z.string(),
  description: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
})
export type PromoteAssetRequest = z.infer<typeof PromoteAssetSchema>

/**
 * A named pointer to one version of an asset (`champion`, `production`): code that loads
 * `mnist-model@champion` gets whichever version the alias points at now. Moving it is one call.
 */
export const AssetAliasSchema = z.object({
  name: z.string(),
  alias: z.string(),
  version: z.number().int().min(1),
  updatedAt: z.string(),
})
export type AssetAlias = z.infer<typeof AssetAliasSchema>

/**
 * Tags the MLflow model registry keeps on a version: the `source` it was registered from and its logged
 * model's id. They say where the files came from, so no API sets or removes them after the fact.
 */
export const REGISTRY_TAGS = {
  source: 'mlflow.registry.source',
  modelId: 'mlflow.registry.modelId',
} as const

/** Edit a version's description, and set then remove tags; its files never change. */
export const UpdateAssetVersionSchema = z.strictObject({
  description: z.string().optional(),
  tags: UpdateTagsSchema.optional(),
})
export type UpdateAssetVersionRequest = z.infer<typeof UpdateAssetVersionSchema>

/** Point an alias at a version (made, or moved from where it pointed). */
export const SetAssetAliasSchema = z.strictObject({
  version: z.number().int().min(1),
})
export type SetAssetAliasRequest = z.infer<typeof SetAssetAliasSchema>

// ---------------------------------------------------------------------------------------------------
// Datastores: registered storage, secrets kept on the server

export const DATASTORE_KINDS = ['filesystem', 'azure_blob', 'azure_file', 's3'] as const
export type DatastoreKind = (typeof DATASTORE_KINDS)[number]

export const DatastoreSchema = z.object({
  workspace: z.string(),
  name: z.string(),
  kind: z.enum(DATASTORE_KINDS),
  settings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  authType: z.string(),
  hasSecret: z.boolean(),
  isDefault: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
})
export type Datastore = z.infer<typeof DatastoreSchema>

/** What every registration takes besides the storage coordinates. */
const RegisterFlags = {
  name: z.string(),
  /** Replace an existing registration of the same name (this is how keys are rotated). */
  overwrite: z.boolean().optional(),
  /** Create the container, share, bucket or folder when it does not exist. */
  createIfNotExists: z.boolean().optional(),
  /** Do not check that the storage exists and the credentials work (storage behind a firewall). */
  skipValidation: z.boolean().optional(),
}

/** Azure storage: `endpoint` is a suffix (`core.windows.net`) or a full service URL (Azurite). */
const AzureCoordinates = {
  accountName: z.string(),
  accountKey: z.string().optional(),
  sasToken: z.string().optional(),
  protocol: z.enum(['https', 'http']).optional(),
  endpoint: z.string().optional(),
}

/** A storage registration; secrets in it are encrypted at rest and never returned. */
export const RegisterDatastoreSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('azure_blob'), ...RegisterFlags, ...AzureCoordinates, containerName: z.string() }),
  z.strictObject({ kind: z.literal('azure_file'), ...RegisterFlags, ...AzureCoordinates, fileShareName: z.string() }),
  z.strictObject({
    kind: z.literal('s3'),
    ...RegisterFlags,
    bucket: z.string(),
    region: z.string().optional(),
    endpoint: z.string().optional(),
    accessKeyId: z.string().optional(),
    secretAccessKey: z.string().optional(),
    forcePathStyle: z.boolean().optional(),
  }),
  z.strictObject({ kind: z.literal('filesystem'), ...RegisterFlags, path: z.string() }),
])
export type RegisterDatastoreRequest = z.infer<typeof RegisterDatastoreSchema>

export const SetDefaultDatastoreSchema = z.strictObject({ name: z.string() })

/** One file in a datastore. `contentMd5` (base64) where the storage keeps one. */
export const DatastoreFileSchema = z.object({
  path: z.string(),
  size: z.number(),
  modifiedAt: z.string(),
  contentMd5: z.string().optional(),
})
export type DatastoreFile = z.infer<typeof DatastoreFileSchema>

/** A stored name that no path (and so no local file) can have, such as `a/../b` or `folder/`; `reason` says why. */
export const SkippedDatastoreFileSchema = DatastoreFileSchema.omit({ contentMd5: true }).extend({ reason: z.string() })
export type SkippedDatastoreFile = z.infer<typeof SkippedDatastoreFileSchema>

/** A page of datastore files; `skipped` lists the stored names in its stretch of the listing that are no paths. */
export const DatastoreFilePageSchema = pageSchema(DatastoreFileSchema).extend({
  skipped: z.array(SkippedDatastoreFileSchema).optional(),
})
export type DatastoreFilePage = z.infer<typeof DatastoreFilePageSchema>

export const ListDatastoreFilesQuerySchema = PageQuerySchema.extend({
  prefix: z.string().optional(),
})

export const UploadDatastoreFileQuerySchema = z.object({
  /** `true` replaces an existing file; otherwise an existing file is a 409 FILE_EXISTS. */
  overwrite: z.enum(['true', 'false']).optional(),
})

/** What an upload stored: size and digests computed while streaming. */
export const StoredFileSchema = z.object({
  path: z.string(),
  size: z.number(),
  sha256: z.string(),
  md5: z.string(),
})
export type StoredFile = z.infer<typeof StoredFileSchema>

export const DatastoreAccessRequestSchema = z.strictObject({
  /** `read` lists and reads; `write` also creates and replaces files. */
  operation: z.enum(['read', 'write']),
})

/**
 * How a client reaches a datastore's bytes: straight to Azure with a short-lived SAS limited to the
 * container (or share) and the operation; straight to a folder when client and server see the same
 * folder (same device and inode); otherwise through the server's file routes.
 */
export const DatastoreAccessSchema = z.discriminatedUnion('mode', [
  z.object({
    mode: z.literal('azure_sas'),
    kind: z.enum(['azure_blob', 'azure_file']),
    accountName: z.string(),
    /** The container or share. */
    containerName: z.string(),
    serviceUrl: z.string(),
    sasToken: z.string(),
    expiresOn: z.string(),
  }),
  z.object({ mode: z.literal('filesystem'), path: z.string(), device: z.number(), inode: z.number() }),
  z.object({ mode: z.literal('proxy') }),
])
export type DatastoreAccess = z.infer<typeof DatastoreAccessSchema>

/** The limits a server enforces, as its health answer tells clients (one whole number each). */
export const LimitsSchema = z.object(
  Object.fromEntries(Object.keys(DEFAULT_LIMITS).map((name) => [name, z.number().int().min(0)])) as Record<
    LimitName,
    z.ZodNumber
  >,
)

export const HealthSchema = z.object({
  status: z.literal('ok'),
  version: z.string(),
  store: z.enum(['sqlite', 'postgres']),
  /** What this server refuses beyond: clients check points against these before sending them. */
  limits: LimitsSchema,
})
export type Health = z.infer<typeof HealthSchema>

// ---------------------------------------------------------------------------------------------------
// Submitted runs: snapshots, runner heartbeat, cancel, run tokens, live logs

/** A lowercase hex SHA-256. */
export const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/)

/** One file of a source snapshot: its path (forward slashes, relative), content hash, size and mode. */
export const SnapshotFileSchema = z.strictObject({
  path: z.string().min(1).max(1024),
  sha256: Sha256Schema,
  size: z.number().int().min(0),
  /** Whether the file was executable in the source folder. */
  executable: z.boolean().optional(),
})
export type SnapshotFile = z.infer<typeof SnapshotFileSchema>

export const CreateSnapshotSchema = z.strictObject({
  /** The datastore that keeps the snapshot's bytes; default `workspaceblobstore`. */
  datastore: z.string().min(1).max(255).optional(),
  files: z.array(SnapshotFileSchema),
})
export type CreateSnapshotRequest = z.infer<typeof CreateSnapshotSchema>

/**
 * A snapshot, content-addressed: its id is the hash of its manifest, so the same files give the same
 * id. `missing` lists the contents the datastore does not hold yet: upload each with
 * uploadSnapshotBlob, then create again; the snapshot is usable once `complete`.
 */
export const SnapshotSummarySchema = z.object({
  id: z.string(),
  datastore: z.string(),
  fileCount: z.number().int(),
  totalBytes: z.number().int(),
  complete: z.boolean(),
  missing: z.array(Sha256Schema),
})
export type SnapshotSummary = z.infer<typeof SnapshotSummarySchema>

export const SnapshotSchema = z.object({
  id: z.string(),
  datastore: z.string(),
  createdAt: z.string(),
  totalBytes: z.number().int(),
  files: z.array(SnapshotFileSchema),
})
export type Snapshot = z.infer<typeof SnapshotSchema>

export const SnapshotBlobQuerySchema = z.object({ datastore: z.string().min(1).max(255).optional() })

export const SnapshotBlobSchema = z.object({
  sha256: Sha256Schema,
  size: z.number().int(),
  /** False when the datastore already held these bytes. */
  stored: z.boolean(),
})
export type SnapshotBlob = z.infer<typeof SnapshotBlobSchema>

/** The runner's heartbeat answer: whether someone asked to cancel the run. */
export const HeartbeatSchema = z.object({
  status: RunStatusSchema,
  cancelRequested: z.boolean(),
})
export type Heartbeat = z.infer<typeof HeartbeatSchema>

export const MintRunTokenSchema = z.strictObject({
  /** How long the token lasts; default the run's maxRunDurationSeconds plus a day. */
  expiresInSeconds: z
    .number()
    .int()
    .min(60)
    .max(40 * 24 * 3600)
    .optional(),
})

/**
 * A token that can write to one run only: its status, metrics, artifacts and logs; read its snapshot;
 * read the datastores its inputs name and write those its outputs name. Nothing else.
 */
export const RunTokenSchema = z.object({ token: z.string(), expiresOn: z.string() })
export type RunToken = z.infer<typeof RunTokenSchema>

/** A live log's name: `std_log.txt` (the script's stdout and stderr) or `runner.txt` (the runner's own). */
export const RunLogNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)

export const AppendRunLogQuerySchema = z.object({
  /** The byte offset this chunk starts at: a repeated append is ignored, a gap is a 409. */
  offset: z.coerce.number().int().min(0),
})

export const RunLogAppendSchema = z.object({ name: z.string(), size: z.number().int() })

export const ReadRunLogQuerySchema = z.object({
  offset: z.coerce.number().int().min(0).optional(),
  /** Bytes to return at most; default and ceiling 1 MiB. */
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1024 * 1024)
    .optional(),
  /** Wait up to this long for bytes past `offset` (or the run's end) before answering; default 0. */
  waitMs: z.coerce.number().int().min(0).max(60_000).optional(),
})

/**
 * A slice of a live log. `content` is UTF-8 text cut at a character boundary; read on from `nextOffset`.
 * `ended` is true once the run is in a terminal status and `nextOffset` reached `size`: nothing more comes.
 */
export const RunLogChunkSchema = z.object({
  name: z.string(),
  offset: z.number().int(),
  nextOffset: z.number().int(),
  size: z.number().int(),
  content: z.string(),
  runStatus: RunStatusSchema,
  ended: z.boolean(),
})
export type RunLogChunk = z.infer<typeof RunLogChunkSchema>

export const RunLogSummarySchema = z.object({ name: z.string(), size: z.number().int(), updatedAt: z.string() })
export type RunLogSummary = z.infer<typeof RunLogSummarySchema>
