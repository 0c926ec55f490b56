export { Workspace, type ConnectOptions } from './workspace.js'
export { Experiment, type StartLoggingOptions } from './experiment.js'
export { Run, type SpooledRunSummary, type MetricValue, type LogOptions, type ImageSource, type RegisterModelOptions } from './run.js'
export { Asset, type AssetDownloadOptions } from './asset.js'
export { getLogger, getContextRun, type Logger, type Waitable } from './run-context.js'
export { findWorkspaceConfig, CONFIG_FILE_NAMES, type WorkspaceConfig } from './config.js'
export { readEnvironment, type SdkEnvironment } from './environment.js'
export {
  MetricLogger,
  PendingLog,
  flushAllLoggers,
  type MetricLoggerOptions,
  type MetricLogOptions,
  type FlushOptions,
  type CloseOptions,
  type FlushAllResult,
} from './metric-logger.js'
export { replaySpool, type ReplaySpoolOptions, type ReplaySpoolResult, type SpoolClientSource } from './spool.js'
export type { RetryOptions } from './retry.js'
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
} from './datastore.js'
export { createProgressReporter, summaryLines, type ProgressReporter, type TransferSummary } from './progress.js'
export { formatBytes } from './format-bytes.js'
