export { Workspace, type ConnectOptions } from './workspace.js'
export { Experiment, type StartLoggingOptions } from './runs/experiment.js'
export {
  Run,
  type SpooledRunSummary,
  type MetricValue,
  type LogOptions,
  type ImageSource,
  type RegisterModelOptions,
} from './runs/run.js'
export { Asset, type AssetDownloadOptions, type AssetUpdateOptions } from './data/asset.js'
export { getLogger, getContextRun, type Logger, type LoggerLogOptions, type Waitable } from './context.js'
export { findWorkspaceConfig, CONFIG_FILE_NAMES, type WorkspaceConfig } from './config/config-file.js'
export { readEnvironment, type SdkEnvironment } from './config/environment.js'
export {
  MetricLogger,
  PendingLog,
  flushAllLoggers,
  type MetricLoggerOptions,
  type MetricLogOptions,
  type FlushOptions,
  type CloseOptions,
  type FlushAllResult,
} from './logging/metric-logger.js'
export { replaySpool, type ReplaySpoolOptions, type ReplaySpoolResult } from './logging/spool-replay.js'
export type { SpoolClientSource } from './logging/spool-send.js'
export { retryRequest, resolveRetryPolicy, isRetryable, type RetryOptions, type RetryPolicy } from './retry.js'
export {
  Datastore,
  type RegisterOptions,
  type AzureStorageOptions,
  type RegisterS3Options,
  type TransferOptions,
  type UploadOptions,
  type UploadFilesOptions,
  type DownloadOptions,
  type DatastoreUploadResult,
  type DatastoreDownloadResult,
} from './data/datastore.js'
export {
  downloadVerified,
  requireAllPlaced,
  serverFile,
  type DownloadSource,
  type VerifiedDownloadOptions,
} from './data/download.js'
export { createProgressReporter, summaryLines, type ProgressReporter, type TransferSummary } from './data/progress.js'
export { formatBytes } from './data/format-bytes.js'
export type { SubmitRequest, RunnerModule } from './runs/submit-request.js'
export {
  DataReference,
  DATA_REFERENCE_ENV_PREFIX,
  defaultDataReferenceName,
  isDataReference,
  type DataReferenceOptions,
  type DataReferenceBindOptions,
} from './data/data-reference.js'
export {
  ScriptRunConfig,
  COMPUTE_TARGETS,
  MAX_RUN_DURATION_SECONDS,
  type ScriptRunConfigOptions,
  type RunArgument,
  type SubmittedDefinition,
} from './runs/script-run-config.js'
export { Estimator, type EstimatorOptions } from './runs/estimator.js'
export { readRunLog, listRunLogs, STD_LOG, type ReadRunLogOptions } from './runs/run-log.js'
