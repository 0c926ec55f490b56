/**
 * Size and count limits the server enforces. Every limit is configurable (server config `limits`), and
 * an error that hits one names it, so a user knows which setting to raise.
 */
export interface Limits {
  /** Characters in a metric name. */
  metricNameLength: number
  /** Characters in a string metric value. */
  metricTextLength: number
  /** Points in one ingest batch. */
  pointsPerBatch: number
  /** Distinct metric names in one run. */
  metricNamesPerRun: number
  /** Bytes in one JSON request body. */
  jsonBodyBytes: number
  /** Tags on one run. */
  tagsPerRun: number
  /** Properties on one run. */
  propertiesPerRun: number
  /** Characters in a tag or property key. */
  keyLength: number
  /** Characters in a tag or property value. */
  valueLength: number
  /** Characters in a run's display name. */
  displayNameLength: number
  /** Characters in a run's description. */
  descriptionLength: number
  /** Characters in an error message stored on a failed run. */
  errorMessageLength: number
  /** Characters in an artifact path. */
  artifactPathLength: number
  /** Bytes in one artifact. */
  artifactBytes: number
  /** Items in one page of a listing. */
  pageSize: number
  /** Buckets in one downsampled metric read. */
  buckets: number
  /** Points in one page of a metric's raw series (a client asks with `pageSize`; the default is 1,000). */
  metricPageSize: number
  /** Bytes in one run's source snapshot (all files together). */
  snapshotBytes: number
  /** Files in one run's source snapshot. */
  snapshotFiles: number
  /** Bytes in one append to a run's live log. */
  logAppendBytes: number
  /** Aliases on one asset. */
  aliasesPerAsset: number
}

/** The limits a server starts with unless its config says otherwise. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  metricNameLength: 255,
  metricTextLength: 4096,
  pointsPerBatch: 10_000,
  metricNamesPerRun: 10_000,
  jsonBodyBytes: 16 * 1024 * 1024,
  tagsPerRun: 100,
  propertiesPerRun: 100,
  keyLength: 255,
  valueLength: 5000,
  displayNameLength: 256,
  descriptionLength: 5000,
  errorMessageLength: 10_000,
  artifactPathLength: 1024,
  artifactBytes: 1024 ** 4,
  pageSize: 1000,
  buckets: 10_000,
  metricPageSize: 100_000,
  snapshotBytes: 300 * 1024 * 1024,
  snapshotFiles: 2000,
  logAppendBytes: 1024 * 1024,
  aliasesPerAsset: 100,
})

/** The name of one limit, as used in config and in error details. */
export type LimitName = keyof Limits
