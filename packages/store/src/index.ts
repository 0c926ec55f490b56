export { createMetadataStore } from './create-metadata-store.js'
export {
  STORE_KINDS,
  toDatastoreView,
  type StoreKind,
  type StoreConfig,
  type DatastoreRecord,
  type NewWorkspace,
  type NewRun,
  type RunOrder,
  type TagFilter,
  type ListRunsOptions,
  type IngestBatch,
  type ReadSeriesOptions,
  type ReadBucketsOptions,
  type ListArtifactsOptions,
  type RunTransition,
  type MetadataStore,
} from './metadata-store.js'
