import { Migrator } from 'kysely'
import { WharfError } from '@wharf/contract'
import type {
  Artifact,
  AssetSummary,
  AssetVersion,
  Experiment,
  IngestResult,
  MetricBuckets,
  MetricPoint,
  MetricSummary,
  Page,
  Run,
  RunWithMetrics,
  Workspace,
} from '@wharf/contract'
import { errorCode } from './dialects/capabilities.js'
import type { StoreDialect } from './dialects/capabilities.js'
import { findArtifact, listArtifacts, putArtifact } from './entities/artifacts.js'
import { createAssetVersion, getAssetVersion, listAssetVersions, listAssets } from './entities/assets.js'
import { deleteDatastore, findDatastore, getDatastore, listDatastores, putDatastore } from './entities/datastores.js'
import { ensureExperiment, getExperiment, listExperiments } from './entities/experiments.js'
import { ingestMetrics, listMetrics, readMetricBuckets, readMetricSeries } from './entities/metrics.js'
import { addProperties, createRun, getRun, listRuns, transitionRun, updateRun, updateTags } from './entities/runs.js'
import { createWorkspace, findWorkspace, getWorkspace, listWorkspaces, setDefaultDatastore } from './entities/workspaces.js'
import type {
  ArtifactRef,
  AssetVersionRef,
  DatastoreRecord,
  IngestBatch,
  ListArtifactsOptions,
  ListAssetVersionsOptions,
  ListRunsOptions,
  MetadataStore,
  NewAssetVersion,
  NewExperiment,
  NewRun,
  NewWorkspace,
  PropertyChange,
  PutArtifactOptions,
  ReadBucketsOptions,
  ReadSeriesOptions,
  RecordedArtifact,
  RunPatch,
  RunRef,
  RunTransition,
  StoreKind,
  TagChange,
  WorkspaceItemRef,
  WorkspacePageRequest,
} from './metadata-store.js'
import { createMigrations } from './migrations/index.js'

/**
 * The metadata store on Kysely: one implementation for every engine, whose queries live in one module per
 * entity (`entities/`); engine differences live in `dialect`. Each method hands its options to its entity.
 */
export class KyselyMetadataStore implements MetadataStore {
  readonly kind: StoreKind
  readonly #ctx: StoreDialect

  constructor(dialect: StoreDialect) {
    this.kind = dialect.kind
    this.#ctx = dialect
  }

  async migrate(): Promise<void> {
    const migrations = createMigrations(this.#ctx.capabilities.schema)
    const migrator = new Migrator({
      db: this.#ctx.db,
      provider: { getMigrations: () => Promise.resolve(migrations) },
    })
    const { error } = await migrator.migrateToLatest()
    if (error === undefined) return
    const code = errorCode(error)
    throw new WharfError(
      'INTERNAL',
      `the metadata store could not bring the database schema up to date${code === undefined ? '' : ` (${code})`}; ` +
        'check that the database is reachable and that its user may create tables',
      { details: code === undefined ? {} : { databaseCode: code }, cause: error },
    )
  }

  async close(): Promise<void> {
    await this.#ctx.db.destroy()
  }

  createWorkspace(input: NewWorkspace): Promise<Workspace> {
    return createWorkspace(this.#ctx, input)
  }

  findWorkspace(name: string): Promise<Workspace | undefined> {
    return findWorkspace(this.#ctx, name)
  }

  getWorkspace(name: string): Promise<Workspace> {
    return getWorkspace(this.#ctx, name)
  }

  listWorkspaces(): Promise<Workspace[]> {
    return listWorkspaces(this.#ctx)
  }

  setDefaultDatastore(datastore: WorkspaceItemRef): Promise<Workspace> {
    return setDefaultDatastore(this.#ctx, datastore)
  }

  ensureExperiment(experiment: NewExperiment): Promise<Experiment> {
    return ensureExperiment(this.#ctx, experiment)
  }

  getExperiment(experiment: WorkspaceItemRef): Promise<Experiment> {
    return getExperiment(this.#ctx, experiment)
  }

  listExperiments(page: WorkspacePageRequest): Promise<Page<Experiment>> {
    return listExperiments(this.#ctx, page)
  }

  createRun(input: NewRun): Promise<Run> {
    return createRun(this.#ctx, input)
  }

  getRun(run: RunRef): Promise<Run> {
    return getRun(this.#ctx, run)
  }

  listRuns(options: ListRunsOptions): Promise<Page<RunWithMetrics>> {
    return listRuns(this.#ctx, options)
  }

  updateRun(patch: RunPatch): Promise<Run> {
    return updateRun(this.#ctx, patch)
  }

  transitionRun(change: RunTransition): Promise<Run> {
    return transitionRun(this.#ctx, change)
  }

  updateTags(change: TagChange): Promise<Run> {
    return updateTags(this.#ctx, change)
  }

  addProperties(change: PropertyChange): Promise<Run> {
    return addProperties(this.#ctx, change)
  }

  ingestMetrics(batch: IngestBatch): Promise<IngestResult> {
    return ingestMetrics(this.#ctx, batch)
  }

  listMetrics(run: RunRef): Promise<MetricSummary[]> {
    return listMetrics(this.#ctx, run)
  }

  readMetricSeries(options: ReadSeriesOptions): Promise<Page<MetricPoint>> {
    return readMetricSeries(this.#ctx, options)
  }

  readMetricBuckets(options: ReadBucketsOptions): Promise<MetricBuckets> {
    return readMetricBuckets(this.#ctx, options)
  }

  putArtifact(options: PutArtifactOptions): Promise<RecordedArtifact> {
    return putArtifact(this.#ctx, options)
  }

  findArtifact(artifact: ArtifactRef): Promise<Artifact | undefined> {
    return findArtifact(this.#ctx, artifact)
  }

  listArtifacts(options: ListArtifactsOptions): Promise<Page<Artifact>> {
    return listArtifacts(this.#ctx, options)
  }

  createAssetVersion(input: NewAssetVersion): Promise<AssetVersion> {
    return createAssetVersion(this.#ctx, input)
  }

  getAssetVersion(asset: AssetVersionRef): Promise<AssetVersion> {
    return getAssetVersion(this.#ctx, asset)
  }

  listAssets(page: WorkspacePageRequest): Promise<Page<AssetSummary>> {
    return listAssets(this.#ctx, page)
  }

  listAssetVersions(options: ListAssetVersionsOptions): Promise<Page<AssetVersion>> {
    return listAssetVersions(this.#ctx, options)
  }

  putDatastore(record: DatastoreRecord, options: { overwrite: boolean }): Promise<DatastoreRecord> {
    return putDatastore(this.#ctx, record, options)
  }

  findDatastore(datastore: WorkspaceItemRef): Promise<DatastoreRecord | undefined> {
    return findDatastore(this.#ctx, datastore)
  }

  getDatastore(datastore: WorkspaceItemRef): Promise<DatastoreRecord> {
    return getDatastore(this.#ctx, datastore)
  }

  listDatastores(workspace: string): Promise<DatastoreRecord[]> {
    return listDatastores(this.#ctx, workspace)
  }

  deleteDatastore(datastore: WorkspaceItemRef): Promise<void> {
    return deleteDatastore(this.#ctx, datastore)
  }
}
