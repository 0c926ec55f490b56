import { Migrator, sql } from 'kysely'
import type { Expression, Kysely, SqlBool, Transaction } from 'kysely'
import { WharfError, assertWithinLimit, canTransition, isTerminalStatus, printable } from '@wharf/contract'
import type {
  Artifact,
  AssetSummary,
  AssetVersion,
  Experiment,
  IngestResult,
  MetricBucket,
  MetricBuckets,
  MetricPoint,
  MetricSummary,
  Page,
  Run,
  RunOrderField,
  RunWithMetrics,
  Workspace,
} from '@wharf/contract'
import { errorCode } from './dialects/capabilities.js'
import type { DialectCapabilities, MetricIngester, StoreDialect } from './dialects/capabilities.js'
import {
  assetNotFound,
  datastoreExists,
  datastoreNotFound,
  experimentNotFound,
  invalidTransition,
  metricNotFound,
  propertyImmutable,
  runExists,
  runFinished,
  runNotFound,
  toStoreError,
  workspaceExists,
  workspaceNotFound,
} from './errors.js'
import type {
  DatastoreRecord,
  IngestBatch,
  ListArtifactsOptions,
  RecordedArtifact,
  ListRunsOptions,
  MetadataStore,
  NewAssetVersion,
  NewRun,
  NewWorkspace,
  PageRequest,
  ReadBucketsOptions,
  ReadSeriesOptions,
  RunTransition,
  StoreKind,
} from './metadata-store.js'
import { toMetricSummary } from './metric-batch.js'
import { decodeNumber, decodePoint, decodeValue } from './metric-values.js'
import { createMigrations } from './migrations/index.js'
import { decodePageToken, encodePageToken } from './page-token.js'
import {
  fromArtifact,
  fromDatastoreRecord,
  parseStringMap,
  stringifyStringMap,
  toArtifact,
  toAssetFile,
  toAssetVersion,
  toDatastoreRecord,
  toExperiment,
  toMetricState,
  toRun,
  toWorkspace,
} from './rows.js'
import type { RunRow } from './rows.js'
import type { StoreDatabase } from './schema.js'

type Db = Kysely<StoreDatabase> | Transaction<StoreDatabase>

const TIME_COLUMNS = {
  createdAt: 'created_at',
  startedAt: 'started_at',
  endedAt: 'ended_at',
} as const satisfies Record<RunOrderField, string>

// Sort keys for runs without the time: ISO times start with a digit, so '~' sorts after every time and
// '' before every time, which puts the runs without it last in either direction.
const MISSING_TIME_LAST = { asc: '~', desc: '' } as const

/** Rows per INSERT of asset files: 7 columns each stays far below every engine's bound-parameter cap. */
const FILE_ROWS_PER_INSERT = 500

/** The largest finite double: `abs(value) <= it` is a finiteness test both engines evaluate alike. */
const MAX_FINITE = Number.MAX_VALUE

interface BucketRow {
  bucket: number
  n: number
  min_value: number | null
  max_value: number | null
  non_finite: number
  first_value: number | null
  last_value: number | null
}

/** The metadata store on Kysely: one implementation for every engine; engine differences live in `dialect`. */
export class KyselyMetadataStore implements MetadataStore {
  readonly kind: StoreKind
  readonly #db: Kysely<StoreDatabase>
  readonly #caps: DialectCapabilities
  readonly #ingest: MetricIngester

  constructor(dialect: StoreDialect) {
    this.kind = dialect.kind
    this.#db = dialect.db
    this.#caps = dialect.capabilities
    this.#ingest = dialect.ingest
  }

  async migrate(): Promise<void> {
    const migrations = createMigrations(this.#caps.schema)
    const migrator = new Migrator({
      db: this.#db,
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
    await this.#db.destroy()
  }

  // ---------------------------------------------------------------------------------------------
  // Workspaces

  createWorkspace(input: NewWorkspace): Promise<Workspace> {
    return this.#guard('create a workspace', () =>
      this.#db.transaction().execute(async (trx) => {
        const row = {
          name: input.name,
          default_datastore: input.defaultDatastore,
          artifact_datastore: input.artifactDatastore,
          created_at: input.createdAt,
        }
        try {
          await trx.insertInto('workspaces').values(row).execute()
        } catch (error) {
          if (this.#caps.isUniqueViolation(error)) throw workspaceExists(input.name, error)
          throw error
        }
        if (input.datastores.length > 0) {
          await trx
            .insertInto('datastores')
            .values(input.datastores.map((record) => fromDatastoreRecord(record, input.name)))
            .execute()
        }
        return toWorkspace(row)
      }),
    )
  }

  findWorkspace(name: string): Promise<Workspace | undefined> {
    return this.#guard('read a workspace', async () => {
      const row = await this.#db.selectFrom('workspaces').selectAll().where('name', '=', name).executeTakeFirst()
      return row === undefined ? undefined : toWorkspace(row)
    })
  }

  async getWorkspace(name: string): Promise<Workspace> {
    const workspace = await this.findWorkspace(name)
    if (workspace === undefined) throw workspaceNotFound(name)
    return workspace
  }

  listWorkspaces(): Promise<Workspace[]> {
    return this.#guard('list workspaces', async () => {
      const rows = await this.#db.selectFrom('workspaces').selectAll().orderBy('name').execute()
      return rows.map(toWorkspace)
    })
  }

  setDefaultDatastore(workspace: string, datastore: string): Promise<Workspace> {
    return this.#guard('set the default datastore', () =>
      this.#db.transaction().execute(async (trx) => {
        await this.#requireWorkspace(trx, workspace)
        const found = await trx
          .selectFrom('datastores')
          .select('name')
          .where('workspace', '=', workspace)
          .where('name', '=', datastore)
          .executeTakeFirst()
        if (found === undefined) throw datastoreNotFound(workspace, datastore)
        const row = await trx
          .updateTable('workspaces')
          .set({ default_datastore: datastore })
          .where('name', '=', workspace)
          .returningAll()
          .executeTakeFirstOrThrow()
        return toWorkspace(row)
      }),
    )
  }

  // ---------------------------------------------------------------------------------------------
  // Experiments

  ensureExperiment(workspace: string, name: string, createdAt: string): Promise<Experiment> {
    return this.#guard('create an experiment', async () => {
      await this.#requireWorkspace(this.#db, workspace)
      const id = await this.#ensureExperimentId(this.#db, { workspace, name, createdAt })
      const row = await this.#db.selectFrom('experiments').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
      return toExperiment(row)
    })
  }

  getExperiment(workspace: string, name: string): Promise<Experiment> {
    return this.#guard('read an experiment', async () => {
      const row = await this.#db
        .selectFrom('experiments')
        .selectAll()
        .where('workspace', '=', workspace)
        .where('name', '=', name)
        .executeTakeFirst()
      if (row === undefined) {
        await this.#requireWorkspace(this.#db, workspace)
        throw experimentNotFound(workspace, name)
      }
      return toExperiment(row)
    })
  }

  listExperiments(workspace: string, page: { pageSize: number; pageToken?: string }): Promise<Page<Experiment>> {
    return this.#guard('list experiments', async () => {
      await this.#requireWorkspace(this.#db, workspace)
      const after =
        page.pageToken === undefined ? undefined : decodePageToken(page.pageToken, 'experiments', { name: 'string' })
      const rows = await this.#db
        .selectFrom('experiments')
        .selectAll()
        .where('workspace', '=', workspace)
        .$if(after !== undefined, (qb) => qb.where('name', '>', after?.name ?? ''))
        .orderBy('name')
        .limit(page.pageSize + 1)
        .execute()
      return toPage(rows.map(toExperiment), page.pageSize, (last) =>
        encodePageToken('experiments', { name: last.name }),
      )
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Runs

  createRun(input: NewRun): Promise<Run> {
    return this.#guard('create a run', () =>
      this.#db.transaction().execute(async (trx) => {
        await this.#requireWorkspace(trx, input.workspace)
        if (input.parentRunId !== null) {
          const parent = await trx
            .selectFrom('runs')
            .select('id')
            .where('id', '=', input.parentRunId)
            .where('workspace', '=', input.workspace)
            .executeTakeFirst()
          if (parent === undefined) throw runNotFound(input.workspace, input.parentRunId)
        }
        const experimentId = await this.#ensureExperimentId(trx, {
          workspace: input.workspace,
          name: input.experiment,
          createdAt: input.createdAt,
        })
        const row = {
          id: input.id,
          workspace: input.workspace,
          experiment_id: experimentId,
          display_name: input.displayName,
          description: input.description,
          status: input.status,
          created_at: input.createdAt,
          started_at: input.startedAt,
          ended_at: null,
          error: null,
          tags: stringifyStringMap(input.tags),
          properties: stringifyStringMap(input.properties),
          parent_run_id: input.parentRunId,
          compute_target: input.computeTarget,
          script_name: input.scriptName,
          command: input.command === null ? null : JSON.stringify(input.command),
        }
        try {
          await trx.insertInto('runs').values(row).execute()
        } catch (error) {
          if (this.#caps.isUniqueViolation(error)) throw runExists(input.id, error)
          throw error
        }
        return toRun({ ...row, experiment_name: input.experiment })
      }),
    )
  }

  getRun(workspace: string, runId: string): Promise<Run> {
    return this.#guard('read a run', async () => toRun(await this.#requireRun(this.#db, { workspace, runId })))
  }

  listRuns(options: ListRunsOptions): Promise<Page<RunWithMetrics>> {
    return this.#guard('list runs', async () => {
      await this.#requireWorkspace(this.#db, options.workspace)
      const { orderBy, order, pageSize } = options
      let query = this.#filteredRuns(options)
      let tokenAfter: (last: RunRow) => string
      if (orderBy.kind === 'time') {
        const scope = `runs:${orderBy.field}:${order}`
        const column = TIME_COLUMNS[orderBy.field]
        const key = sql<string>`coalesce(${sql.ref(`runs.${column}`)}, ${MISSING_TIME_LAST[order]})`
        if (options.pageToken !== undefined) {
          const after = decodePageToken(options.pageToken, scope, { key: 'string', id: 'string' })
          const cmp = order === 'asc' ? '>' : '<'
          query = query.where((eb) =>
            eb.or([eb(key, cmp, after.key), eb.and([eb(key, '=', after.key), eb('runs.id', cmp, after.id)])]),
          )
        }
        query = query.orderBy(key, order).orderBy('runs.id', order)
        tokenAfter = (last) => encodePageToken(scope, { key: last[column] ?? MISSING_TIME_LAST[order], id: last.id })
      } else {
        // Offset paging: a metric's last value changes while a run logs, so there is no stable key.
        const scope = `runs:metric:${orderBy.name}:${order}`
        const offset =
          options.pageToken === undefined ? 0 : decodePageToken(options.pageToken, scope, { offset: 'number' }).offset
        query = query
          .leftJoin('metrics as order_metric', (join) =>
            join.onRef('order_metric.run_id', '=', 'runs.id').on('order_metric.name', '=', orderBy.name),
          )
          .orderBy(sql`case when order_metric.last_value is null then 1 else 0 end`)
          .orderBy('order_metric.last_value', order)
          .orderBy('runs.id', order)
          .offset(offset)
        tokenAfter = () => encodePageToken(scope, { offset: offset + pageSize })
      }
      const page = toPage(await query.limit(pageSize + 1).execute(), pageSize, tokenAfter)
      const metrics = options.includeMetrics ? await this.#lastValues(page.items.map((row) => row.id)) : undefined
      return {
        items: page.items.map((row) => ({ ...toRun(row), metrics: metrics?.get(row.id) ?? {} })),
        ...(page.nextPageToken === undefined ? {} : { nextPageToken: page.nextPageToken }),
      }
    })
  }

  updateRun(workspace: string, runId: string, patch: { displayName?: string; description?: string }): Promise<Run> {
    return this.#guard('update a run', () =>
      this.#db.transaction().execute(async (trx) => {
        const run = await this.#requireRun(trx, { workspace, runId }, { lock: true })
        const changes = {
          ...(patch.displayName === undefined ? {} : { display_name: patch.displayName }),
          ...(patch.description === undefined ? {} : { description: patch.description }),
        }
        if (Object.keys(changes).length === 0) return toRun(run)
        await trx.updateTable('runs').set(changes).where('id', '=', runId).execute()
        return toRun({ ...run, ...changes })
      }),
    )
  }

  transitionRun(workspace: string, runId: string, change: RunTransition): Promise<Run> {
    return this.#guard('change the status of a run', () =>
      this.#db.transaction().execute(async (trx) => {
        const run = await this.#requireRun(trx, { workspace, runId }, { lock: true })
        const from = toRun(run).status
        const to = change.status
        if (!canTransition(from, to)) throw invalidTransition(runId, from, to)
        // Staying put changes nothing, so a retried request is harmless.
        if (from === to) return toRun(run)
        const changes = {
          status: to,
          ...(to === 'Running' && run.started_at === null ? { started_at: change.at } : {}),
          ...(isTerminalStatus(to) ? { ended_at: change.at } : {}),
          ...(change.error === undefined ? {} : { error: JSON.stringify(change.error) }),
        }
        await trx.updateTable('runs').set(changes).where('id', '=', runId).execute()
        return toRun({ ...run, ...changes })
      }),
    )
  }

  updateTags(
    workspace: string,
    runId: string,
    change: { set: Record<string, string>; remove: string[]; maxTags: number },
  ): Promise<Run> {
    return this.#guard('update the tags of a run', () =>
      this.#db.transaction().execute(async (trx) => {
        const run = await this.#requireRun(trx, { workspace, runId }, { lock: true })
        const tags = parseStringMap(run.tags)
        for (const [key, value] of Object.entries(change.set)) tags.set(key, value)
        for (const key of change.remove) tags.delete(key)
        assertWithinLimit({ tagsPerRun: change.maxTags }, 'tagsPerRun', {
          what: `the number of tags on run "${printable(runId)}"`,
          actual: tags.size,
        })
        const text = stringifyStringMap(tags)
        await trx.updateTable('runs').set({ tags: text }).where('id', '=', runId).execute()
        return toRun({ ...run, tags: text })
      }),
    )
  }

  addProperties(
    workspace: string,
    runId: string,
    change: { properties: Record<string, string>; maxProperties: number },
  ): Promise<Run> {
    return this.#guard('add properties to a run', () =>
      this.#db.transaction().execute(async (trx) => {
        const run = await this.#requireRun(trx, { workspace, runId }, { lock: true })
        const properties = parseStringMap(run.properties)
        for (const [key, value] of Object.entries(change.properties)) {
          const current = properties.get(key)
          if (current !== undefined && current !== value) throw propertyImmutable(runId, key, current)
          properties.set(key, value)
        }
        assertWithinLimit({ propertiesPerRun: change.maxProperties }, 'propertiesPerRun', {
          what: `the number of properties on run "${printable(runId)}"`,
          actual: properties.size,
        })
        const text = stringifyStringMap(properties)
        await trx.updateTable('runs').set({ properties: text }).where('id', '=', runId).execute()
        return toRun({ ...run, properties: text })
      }),
    )
  }

  // ---------------------------------------------------------------------------------------------
  // Metrics

  ingestMetrics(batch: IngestBatch): Promise<IngestResult> {
    return this.#guard('store a metric batch', () => this.#ingest(batch))
  }

  listMetrics(workspace: string, runId: string): Promise<MetricSummary[]> {
    return this.#guard('list the metrics of a run', async () => {
      await this.#requireRunId(workspace, runId)
      const rows = await this.#db
        .selectFrom('metrics')
        .selectAll()
        .where('run_id', '=', runId)
        .orderBy('name')
        .execute()
      return rows.map((row) => toMetricSummary(toMetricState(row)))
    })
  }

  // eslint-disable-next-line max-params -- the MetadataStore interface fixes this signature
  readMetricSeries(
    workspace: string,
    runId: string,
    name: string,
    options: ReadSeriesOptions,
  ): Promise<Page<MetricPoint>> {
    return this.#guard('read a metric series', async () => {
      const metric = await this.#requireMetric(workspace, runId, name)
      const scope = `series:${runId}:${name}`
      const after =
        options.pageToken === undefined
          ? undefined
          : decodePageToken(options.pageToken, scope, { step: 'number', id: 'number' })
      const rows = await this.#db
        .selectFrom('metric_points')
        .select(['id', 'step', 'time', 'value', 'text'])
        .where('metric_id', '=', metric.id)
        .$if(options.fromStep !== undefined, (qb) => qb.where('step', '>=', options.fromStep ?? 0))
        .$if(options.toStep !== undefined, (qb) => qb.where('step', '<=', options.toStep ?? 0))
        .$if(after !== undefined, (qb) =>
          qb.where((eb) =>
            eb.or([
              eb('step', '>', after?.step ?? 0),
              eb.and([eb('step', '=', after?.step ?? 0), eb('id', '>', after?.id ?? 0)]),
            ]),
          ),
        )
        .orderBy('step')
        .orderBy('id')
        .limit(options.pageSize + 1)
        .execute()
      const page = toPage(rows, options.pageSize, (last) =>
        encodePageToken(scope, { step: Number(last.step), id: Number(last.id) }),
      )
      return {
        items: page.items.map((row) =>
          decodePoint({ step: Number(row.step), time: row.time, value: row.value, text: row.text }),
        ),
        ...(page.nextPageToken === undefined ? {} : { nextPageToken: page.nextPageToken }),
      }
    })
  }

  // eslint-disable-next-line max-params -- the MetadataStore interface fixes this signature
  readMetricBuckets(
    workspace: string,
    runId: string,
    name: string,
    options: ReadBucketsOptions,
  ): Promise<MetricBuckets> {
    return this.#guard('read metric buckets', async () => {
      const metric = await this.#requireMetric(workspace, runId, name)
      const fromStep = options.fromStep ?? 0
      const toStep = options.toStep ?? Math.max(metric.lastStep, 0)
      const bucketCount = Math.max(1, Math.floor(options.buckets))
      const bucketWidth = Math.max(1, Math.ceil((toStep - fromStep + 1) / bucketCount))
      const result: MetricBuckets = { name, fromStep, toStep, bucketWidth, buckets: [] }
      if (toStep < fromStep) return result
      // One pass groups the range into buckets; first/last then come from the (metric_id, step) index,
      // one lookup per bucket, with ties at a step broken by logging order.
      const { rows } = await sql<BucketRow>`
        with agg as (
          select cast((step - cast(${fromStep} as bigint)) / cast(${bucketWidth} as bigint) as bigint) as bucket,
            count(*) as n,
            min(case when abs("value") <= ${MAX_FINITE} then "value" end) as min_value,
            max(case when abs("value") <= ${MAX_FINITE} then "value" end) as max_value,
            count(*) - count(case when abs("value") <= ${MAX_FINITE} then 1 end) as non_finite,
            min(step) as first_step,
            max(step) as last_step
          from metric_points
          where metric_id = ${metric.id} and step >= ${fromStep} and step <= ${toStep} and "text" is null
          group by 1
        )
        select bucket, n, min_value, max_value, non_finite,
          (select p."value" from metric_points p
            where p.metric_id = ${metric.id} and p.step = agg.first_step and p."text" is null
            order by p.id asc limit 1) as first_value,
          (select p."value" from metric_points p
            where p.metric_id = ${metric.id} and p.step = agg.last_step and p."text" is null
            order by p.id desc limit 1) as last_value
        from agg
        order by bucket`.execute(this.#db)
      result.buckets = rows.map((row): MetricBucket => {
        const bucket = Number(row.bucket)
        const start = fromStep + bucket * bucketWidth
        return {
          fromStep: start,
          toStep: Math.min(toStep, start + bucketWidth - 1),
          count: Number(row.n),
          min: row.min_value,
          max: row.max_value,
          first: decodeNumber(row.first_value),
          last: decodeNumber(row.last_value),
          nonFinite: Number(row.non_finite),
        }
      })
      return result
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Artifacts

  putArtifact(workspace: string, artifact: Artifact): Promise<RecordedArtifact> {
    return this.#guard('record an artifact', () =>
      this.#db.transaction().execute(async (trx) => {
        // A share lock on the run holds off a concurrent move to a terminal status until this commits.
        const run = await this.#requireRun(trx, { workspace, runId: artifact.runId }, { share: true })
        const status = toRun(run).status
        if (isTerminalStatus(status)) throw runFinished(artifact.runId, status)
        const row = fromArtifact(artifact)
        const { run_id: _runId, path: _path, ...changes } = row
        // Insert, or else lock the row that is there and replace it: an upsert cannot say what it replaced.
        // On PostgreSQL a racing insert of the same path makes this one wait for its commit and then do
        // nothing, so the lock below always finds the row that this put replaces, and no other put does.
        const inserted = await trx
          .insertInto('artifacts')
          .values(row)
          .onConflict((oc) => oc.columns(['run_id', 'path']).doNothing())
          .executeTakeFirst()
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return { artifact: toArtifact(row), replaced: undefined }
        const previous = await trx
          .selectFrom('artifacts')
          .selectAll()
          .where('run_id', '=', row.run_id)
          .where('path', '=', row.path)
          .$if(this.#caps.rowLocks, (qb) => qb.forUpdate())
          .executeTakeFirstOrThrow()
        await trx.updateTable('artifacts').set(changes).where('run_id', '=', row.run_id).where('path', '=', row.path).execute()
        return { artifact: toArtifact(row), replaced: toArtifact(previous) }
      }),
    )
  }

  findArtifact(workspace: string, runId: string, path: string): Promise<Artifact | undefined> {
    return this.#guard('read an artifact', async () => {
      const row = await this.#db
        .selectFrom('artifacts')
        .innerJoin('runs', 'runs.id', 'artifacts.run_id')
        .selectAll('artifacts')
        .where('runs.workspace', '=', workspace)
        .where('artifacts.run_id', '=', runId)
        .where('artifacts.path', '=', path)
        .executeTakeFirst()
      return row === undefined ? undefined : toArtifact(row)
    })
  }

  listArtifacts(workspace: string, runId: string, options: ListArtifactsOptions): Promise<Page<Artifact>> {
    return this.#guard('list artifacts', async () => {
      await this.#requireRunId(workspace, runId)
      const prefix = options.prefix ?? ''
      const scope = `artifacts:${runId}:${prefix}`
      const after =
        options.pageToken === undefined ? undefined : decodePageToken(options.pageToken, scope, { path: 'string' })
      const rows = await this.#db
        .selectFrom('artifacts')
        .selectAll()
        .where('run_id', '=', runId)
        .$if(prefix !== '', (qb) =>
          // The range bound lets the primary key index narrow the scan; substr is the exact test.
          qb
            .where('path', '>=', prefix)
            .where(sql<boolean>`substr(path, 1, ${[...prefix].length}) = ${prefix}`),
        )
        .$if(after !== undefined, (qb) => qb.where('path', '>', after?.path ?? ''))
        .orderBy('path')
        .limit(options.pageSize + 1)
        .execute()
      return toPage(rows.map(toArtifact), options.pageSize, (last) => encodePageToken(scope, { path: last.path }))
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Assets

  createAssetVersion(input: NewAssetVersion): Promise<AssetVersion> {
    return this.#guard('create an asset version', () =>
      this.#db.transaction().execute(async (trx) => {
        // Locking the workspace row serialises promotes within a workspace, so max+1 cannot be read by
        // two transactions at once (SQLite already holds its write lock from BEGIN IMMEDIATE). A NO KEY
        // UPDATE lock does not block the key-share locks that inserting runs and metrics take.
        const workspace = await trx
          .selectFrom('workspaces')
          .select('name')
          .where('name', '=', input.workspace)
          .$if(this.#caps.rowLocks, (qb) => qb.forNoKeyUpdate())
          .executeTakeFirst()
        if (workspace === undefined) throw workspaceNotFound(input.workspace)
        await this.#requireRunIdIn(trx, input.workspace, input.sourceRunId)
        const highest = await trx
          .selectFrom('asset_versions')
          .select((eb) => eb.fn.max('version').as('version'))
          .where('workspace', '=', input.workspace)
          .where('name', '=', input.name)
          .executeTakeFirst()
        const row = {
          workspace: input.workspace,
          name: input.name,
          version: Number(highest?.version ?? 0) + 1,
          description: input.description,
          tags: stringifyStringMap(input.tags),
          source_run_id: input.sourceRunId,
          artifact_path: input.artifactPath,
          copied: input.copied ? 1 : 0,
          file_count: input.files.length,
          size: input.files.reduce((sum, file) => sum + file.size, 0),
          created_at: input.createdAt,
        }
        const { id } = await trx.insertInto('asset_versions').values(row).returning('id').executeTakeFirstOrThrow()
        const files = [...input.files].sort((a, b) => compareCodePoints(a.path, b.path))
        for (let at = 0; at < files.length; at += FILE_ROWS_PER_INSERT) {
          await trx
            .insertInto('asset_files')
            .values(
              files.slice(at, at + FILE_ROWS_PER_INSERT).map((file) => ({
                asset_version_id: Number(id),
                path: file.path,
                size: file.size,
                sha256: file.sha256,
                content_type: file.contentType,
                datastore: file.datastore,
                key: file.key,
              })),
            )
            .execute()
        }
        return toAssetVersion({ id: Number(id), ...row }, files)
      }),
    )
  }

  getAssetVersion(workspace: string, name: string, version: number | 'latest'): Promise<AssetVersion> {
    return this.#guard('read an asset version', async () => {
      const row = await this.#db
        .selectFrom('asset_versions')
        .selectAll()
        .where('workspace', '=', workspace)
        .where('name', '=', name)
        .$if(version !== 'latest', (qb) => qb.where('version', '=', version === 'latest' ? 0 : version))
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst()
      if (row === undefined) {
        await this.#requireWorkspace(this.#db, workspace)
        const exists = await this.#assetExists(workspace, name)
        throw assetNotFound(workspace, name, exists ? version : undefined)
      }
      const files = await this.#db
        .selectFrom('asset_files')
        .selectAll()
        .where('asset_version_id', '=', Number(row.id))
        .orderBy('path')
        .execute()
      return toAssetVersion(row, files.map(toAssetFile))
    })
  }

  listAssets(workspace: string, page: PageRequest): Promise<Page<AssetSummary>> {
    return this.#guard('list assets', async () => {
      await this.#requireWorkspace(this.#db, workspace)
      const after = page.pageToken === undefined ? undefined : decodePageToken(page.pageToken, 'assets', { name: 'string' })
      const latest = this.#db
        .selectFrom('asset_versions')
        .select((eb) => ['name', eb.fn.max('version').as('latest'), eb.fn.countAll<number>().as('count')])
        .where('workspace', '=', workspace)
        .$if(after !== undefined, (qb) => qb.where('name', '>', after?.name ?? ''))
        .groupBy('name')
        .as('latest')
      const rows = await this.#db
        .selectFrom('asset_versions as v')
        .innerJoin(latest, (join) => join.onRef('latest.name', '=', 'v.name').onRef('latest.latest', '=', 'v.version'))
        .select(['v.name', 'v.version', 'v.description', 'v.created_at', 'latest.count'])
        .where('v.workspace', '=', workspace)
        .orderBy('v.name')
        .limit(page.pageSize + 1)
        .execute()
      const summaries = rows.map(
        (row): AssetSummary => ({
          name: row.name,
          latestVersion: Number(row.version),
          versionCount: Number(row.count),
          description: row.description,
          updatedAt: row.created_at,
        }),
      )
      return toPage(summaries, page.pageSize, (last) => encodePageToken('assets', { name: last.name }))
    })
  }

  listAssetVersions(workspace: string, name: string, page: PageRequest): Promise<Page<AssetVersion>> {
    return this.#guard('list asset versions', async () => {
      const scope = `asset-versions:${name}`
      const after = page.pageToken === undefined ? undefined : decodePageToken(page.pageToken, scope, { version: 'number' })
      const rows = await this.#db
        .selectFrom('asset_versions')
        .selectAll()
        .where('workspace', '=', workspace)
        .where('name', '=', name)
        .$if(after !== undefined, (qb) => qb.where('version', '<', after?.version ?? 0))
        .orderBy('version', 'desc')
        .limit(page.pageSize + 1)
        .execute()
      if (rows.length === 0 && !(await this.#assetExists(workspace, name))) {
        await this.#requireWorkspace(this.#db, workspace)
        throw assetNotFound(workspace, name)
      }
      return toPage(
        rows.map((row) => toAssetVersion(row, [])),
        page.pageSize,
        (last) => encodePageToken(scope, { version: last.version }),
      )
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Datastores

  putDatastore(record: DatastoreRecord, options: { overwrite: boolean }): Promise<DatastoreRecord> {
    return this.#guard('register a datastore', () =>
      this.#db.transaction().execute(async (trx) => {
        await this.#requireWorkspace(trx, record.workspace)
        const row = fromDatastoreRecord(record, record.workspace)
        if (options.overwrite) {
          // The registration keeps its first creation time.
          const { workspace: _workspace, name: _name, created_at: _createdAt, ...changes } = row
          await trx
            .insertInto('datastores')
            .values(row)
            .onConflict((oc) => oc.columns(['workspace', 'name']).doUpdateSet(changes))
            .execute()
        } else {
          try {
            await trx.insertInto('datastores').values(row).execute()
          } catch (error) {
            if (this.#caps.isUniqueViolation(error)) throw datastoreExists(record.workspace, record.name, error)
            throw error
          }
        }
        const stored = await trx
          .selectFrom('datastores')
          .selectAll()
          .where('workspace', '=', record.workspace)
          .where('name', '=', record.name)
          .executeTakeFirstOrThrow()
        return toDatastoreRecord(stored)
      }),
    )
  }

  findDatastore(workspace: string, name: string): Promise<DatastoreRecord | undefined> {
    return this.#guard('read a datastore', async () => {
      const row = await this.#db
        .selectFrom('datastores')
        .selectAll()
        .where('workspace', '=', workspace)
        .where('name', '=', name)
        .executeTakeFirst()
      return row === undefined ? undefined : toDatastoreRecord(row)
    })
  }

  async getDatastore(workspace: string, name: string): Promise<DatastoreRecord> {
    const record = await this.findDatastore(workspace, name)
    if (record === undefined) throw datastoreNotFound(workspace, name)
    return record
  }

  listDatastores(workspace: string): Promise<DatastoreRecord[]> {
    return this.#guard('list datastores', async () => {
      await this.#requireWorkspace(this.#db, workspace)
      const rows = await this.#db
        .selectFrom('datastores')
        .selectAll()
        .where('workspace', '=', workspace)
        .orderBy('name')
        .execute()
      return rows.map(toDatastoreRecord)
    })
  }

  deleteDatastore(workspace: string, name: string): Promise<void> {
    return this.#guard('remove a datastore', async () => {
      const result = await this.#db
        .deleteFrom('datastores')
        .where('workspace', '=', workspace)
        .where('name', '=', name)
        .executeTakeFirst()
      if (result.numDeletedRows === 0n) throw datastoreNotFound(workspace, name)
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  async #guard<T>(operation: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body()
    } catch (error) {
      throw toStoreError(operation, error)
    }
  }

  async #requireWorkspace(db: Db, workspace: string): Promise<void> {
    const row = await db.selectFrom('workspaces').select('name').where('name', '=', workspace).executeTakeFirst()
    if (row === undefined) throw workspaceNotFound(workspace)
  }

  async #ensureExperimentId(
    db: Db,
    experiment: { workspace: string; name: string; createdAt: string },
  ): Promise<number> {
    // Insert-if-absent then read, so concurrent first uses of a name agree on one experiment.
    await db
      .insertInto('experiments')
      .values({ workspace: experiment.workspace, name: experiment.name, created_at: experiment.createdAt })
      .onConflict((oc) => oc.columns(['workspace', 'name']).doNothing())
      .execute()
    const row = await db
      .selectFrom('experiments')
      .select('id')
      .where('workspace', '=', experiment.workspace)
      .where('name', '=', experiment.name)
      .executeTakeFirstOrThrow()
    return Number(row.id)
  }

  #runs(db: Db) {
    return db
      .selectFrom('runs')
      .innerJoin('experiments', 'experiments.id', 'runs.experiment_id')
      .selectAll('runs')
      .select('experiments.name as experiment_name')
  }

  async #requireRun(
    db: Db,
    { workspace, runId }: { workspace: string; runId: string },
    lock: { lock?: boolean; share?: boolean } = {},
  ): Promise<RunRow> {
    const row = await this.#runs(db)
      .where('runs.id', '=', runId)
      .where('runs.workspace', '=', workspace)
      .$if(this.#caps.rowLocks && lock.lock === true, (qb) => qb.forNoKeyUpdate('runs'))
      .$if(this.#caps.rowLocks && lock.share === true, (qb) => qb.forShare('runs'))
      .executeTakeFirst()
    if (row === undefined) throw runNotFound(workspace, runId)
    return row
  }

  async #requireRunId(workspace: string, runId: string): Promise<void> {
    await this.#requireRunIdIn(this.#db, workspace, runId)
  }

  async #requireRunIdIn(db: Db, workspace: string, runId: string): Promise<void> {
    const row = await db
      .selectFrom('runs')
      .select('id')
      .where('id', '=', runId)
      .where('workspace', '=', workspace)
      .executeTakeFirst()
    if (row === undefined) throw runNotFound(workspace, runId)
  }

  async #assetExists(workspace: string, name: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('asset_versions')
      .select('id')
      .where('workspace', '=', workspace)
      .where('name', '=', name)
      .limit(1)
      .executeTakeFirst()
    return row !== undefined
  }

  async #requireMetric(workspace: string, runId: string, name: string): Promise<{ id: number; lastStep: number }> {
    const row = await this.#db
      .selectFrom('runs')
      .leftJoin('metrics', (join) => join.onRef('metrics.run_id', '=', 'runs.id').on('metrics.name', '=', name))
      .select(['metrics.id', 'metrics.last_step'])
      .where('runs.id', '=', runId)
      .where('runs.workspace', '=', workspace)
      .executeTakeFirst()
    if (row === undefined) throw runNotFound(workspace, runId)
    if (row.id === null || row.last_step === null) throw metricNotFound(runId, name)
    return { id: Number(row.id), lastStep: Number(row.last_step) }
  }

  #filteredRuns(options: ListRunsOptions) {
    const tagValue = (key: string) => this.#caps.tagValue(sql.ref<string>('runs.tags'), key)
    return this.#runs(this.#db)
      .where('runs.workspace', '=', options.workspace)
      .$if(options.experiment !== undefined, (qb) => qb.where('experiments.name', '=', options.experiment ?? ''))
      .$if((options.statuses?.length ?? 0) > 0, (qb) => qb.where('runs.status', 'in', options.statuses ?? []))
      .$if(options.parentRunId !== undefined, (qb) => qb.where('runs.parent_run_id', '=', options.parentRunId ?? ''))
      .$if(options.rootOnly === true, (qb) => qb.where('runs.parent_run_id', 'is', null))
      .where((eb) =>
        eb.and(
          (options.tags ?? []).map((tag): Expression<SqlBool> =>
            tag.value === undefined ? eb(tagValue(tag.key), 'is not', null) : eb(tagValue(tag.key), '=', tag.value),
          ),
        ),
      )
  }

  /** The last values of every metric of `runIds`, in one query. */
  async #lastValues(runIds: string[]): Promise<Map<string, RunWithMetrics['metrics']>> {
    const byRun = new Map<string, RunWithMetrics['metrics']>()
    if (runIds.length === 0) return byRun
    const rows = await this.#db
      .selectFrom('metrics')
      .select(['run_id', 'name', 'count', 'last_value', 'last_text'])
      .where('run_id', 'in', runIds)
      .orderBy('run_id')
      .orderBy('name')
      .execute()
    for (const row of rows) {
      let metrics = byRun.get(row.run_id)
      if (metrics === undefined) {
        metrics = {}
        byRun.set(row.run_id, metrics)
      }
      const value = Number(row.count) === 0 ? null : decodeValue({ value: row.last_value, text: row.last_text })
      Object.defineProperty(metrics, row.name, { value, enumerable: true, writable: true, configurable: true })
    }
    return byRun
  }
}

/** Cuts a page from `rows` fetched with one extra row; the extra row says whether a next page exists. */
function toPage<T>(rows: T[], pageSize: number, tokenAfter: (last: T) => string): Page<T> {
  if (rows.length <= pageSize) return { items: rows }
  const items = rows.slice(0, pageSize)
  const last = items[items.length - 1]
  return last === undefined ? { items } : { items, nextPageToken: tokenAfter(last) }
}


/** Orders strings by code point (UTF-8 byte order), as the key columns compare on every engine. */
function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}
