import { Migrator } from 'kysely'
import { WharfError } from '@wharf/contract'
import { errorCode } from './dialects/capabilities.js'
import type { StoreDialect } from './dialects/capabilities.js'
import { findArtifact, listArtifacts, putArtifact } from './entities/artifacts.js'
import {
  createAssetVersion,
  deleteAssetAlias,
  getAssetVersion,
  listAssetAliases,
  listAssetVersions,
  listAssets,
  setAssetAlias,
  updateAssetVersion,
} from './entities/assets.js'
import { deleteDatastore, findDatastore, getDatastore, listDatastores, putDatastore } from './entities/datastores.js'
import {
  changeExperiment,
  createExperiment,
  ensureExperiment,
  getExperiment,
  getExperimentDetails,
  listExperimentDetails,
  listExperiments,
} from './entities/experiments.js'
import { changeLoggedModel, createLoggedModel, getLoggedModel, listLoggedModels } from './entities/logged-models.js'
import {
  compactMetrics,
  ingestMetrics,
  listMetrics,
  metricStorage,
  readMetricBuckets,
  readMetricColumns,
  readMetricSeries,
} from './entities/metrics.js'
import { appendRunLog, listRunLogs, readRunLog } from './entities/run-logs.js'
import {
  addProperties,
  createRun,
  failSilentRuns,
  getRun,
  heartbeatRun,
  listRuns,
  requestRunCancel,
  setRunDeleted,
  transitionRun,
  updateRun,
  updateTags,
} from './entities/runs.js'
import { findSnapshot, findSnapshotBlobs, getSnapshot, putSnapshot, recordSnapshotBlob } from './entities/snapshots.js'
import { createWorkspace, findWorkspace, getWorkspace, listWorkspaces, setDefaultDatastore } from './entities/workspaces.js'
import type { MetadataStore } from './metadata-store.js'
import { createMigrations } from './migrations/index.js'

/** The entity functions, each `(ctx, ...input)`, that make up the store's methods. */
const ENTITY_FUNCTIONS = {
  createWorkspace,
  findWorkspace,
  getWorkspace,
  listWorkspaces,
  setDefaultDatastore,
  ensureExperiment,
  getExperiment,
  listExperiments,
  createExperiment,
  getExperimentDetails,
  listExperimentDetails,
  changeExperiment,
  createRun,
  getRun,
  listRuns,
  updateRun,
  transitionRun,
  heartbeatRun,
  requestRunCancel,
  failSilentRuns,
  setRunDeleted,
  updateTags,
  addProperties,
  ingestMetrics,
  listMetrics,
  readMetricSeries,
  readMetricColumns,
  readMetricBuckets,
  compactMetrics,
  metricStorage,
  putArtifact,
  findArtifact,
  listArtifacts,
  createAssetVersion,
  getAssetVersion,
  listAssets,
  listAssetVersions,
  setAssetAlias,
  updateAssetVersion,
  deleteAssetAlias,
  listAssetAliases,
  putSnapshot,
  findSnapshot,
  getSnapshot,
  findSnapshotBlobs,
  recordSnapshotBlob,
  appendRunLog,
  readRunLog,
  listRunLogs,
  createLoggedModel,
  getLoggedModel,
  changeLoggedModel,
  listLoggedModels,
  putDatastore,
  findDatastore,
  getDatastore,
  listDatastores,
  deleteDatastore,
}

/** `functions` with their first parameter (the store's context) given. */
type BoundTo<Ctx, F> = {
  [K in keyof F]: F[K] extends (ctx: Ctx, ...input: infer A) => infer R ? (...input: A) => R : never
}

function bindAll<Ctx, F extends Record<string, (ctx: Ctx, ...input: never[]) => unknown>>(
  ctx: Ctx,
  functions: F,
): BoundTo<Ctx, F> {
  const bound = Object.entries(functions).map(([name, fn]) => [name, (...input: never[]) => fn(ctx, ...input)])
  return Object.fromEntries(bound) as BoundTo<Ctx, F>
}

async function migrate(dialect: StoreDialect): Promise<void> {
  const migrations = createMigrations(dialect.capabilities.schema)
  const migrator = new Migrator({
    db: dialect.db,
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

/**
 * The metadata store on Kysely: one implementation for every engine, whose queries live in one module per
 * entity (`entities/`), each function taking the opened `dialect` and one options object; engine
 * differences live in the dialect. Nothing is opened or migrated here.
 */
export function createKyselyMetadataStore(dialect: StoreDialect): MetadataStore {
  return {
    kind: dialect.kind,
    migrate: () => migrate(dialect),
    close: async () => {
      await dialect.series.close()
      await dialect.db.destroy()
    },
    ...bindAll(dialect, ENTITY_FUNCTIONS),
  }
}
