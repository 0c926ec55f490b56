import { sql } from 'kysely'
import type { Expression, SqlBool, Updateable } from 'kysely'
import { assertWithinLimit, canTransition, isTerminalStatus, mapPage, printable } from '@wharf/contract'
import type { Heartbeat, Page, Run, RunError, RunOrderField, RunStatus, RunWithMetrics } from '@wharf/contract'
import type { StoreDialect } from '../dialects/capabilities.js'
import { invalidTransition, propertyImmutable, runExists, runNotFound } from '../errors.js'
import { requireCompleteSnapshot } from './snapshots.js'
import type {
  ListRunsOptions,
  NewRun,
  PropertyChange,
  RunEvent,
  RunDeletion,
  RunPatch,
  RunRef,
  RunTransition,
  SilentRunsSweep,
  TagChange,
} from '../metadata-store.js'
import { decodePageToken, encodePageToken } from '../page-token.js'
import { parseStringMap, statusTimesOf, stringifyStringMap, toRun, withStatusTime } from '../rows.js'
import type { RunRow } from '../rows.js'
import type { RunsTable } from '../schema.js'
import { ensureExperimentRow } from './experiments.js'
import { lastValuesOf } from './metrics.js'
import { guard, requireRunId, requireWorkspace, toPage } from './shared.js'
import type { Db } from './shared.js'

const TIME_COLUMNS = {
  createdAt: 'created_at',
  startedAt: 'started_at',
  endedAt: 'ended_at',
} as const satisfies Record<RunOrderField, string>

// Sort keys for runs without the time: ISO times start with a digit, so '~' sorts after every time and
// '' before every time, which puts the runs without it last in either direction.
const MISSING_TIME_LAST = { asc: '~', desc: '' } as const

/** How {@link requireRun} locks the row on engines with row locks. */
export interface RunLock {
  /** FOR NO KEY UPDATE: the caller changes the run. */
  lock?: boolean
  /** FOR SHARE: holds off changes of the run until the caller commits. */
  share?: boolean
}

function selectRuns(db: Db) {
  return db
    .selectFrom('runs')
    .innerJoin('experiments', 'experiments.id', 'runs.experiment_id')
    .selectAll('runs')
    .select('experiments.name as experiment_name')
}

/** The run's row with its experiment name, locked as `lock` asks; RUN_NOT_FOUND. */
export async function requireRun(ctx: StoreDialect, db: Db, run: RunRef & RunLock): Promise<RunRow> {
  const row = await selectRuns(db)
    .where('runs.id', '=', run.runId)
    .where('runs.workspace', '=', run.workspace)
    .$if(ctx.capabilities.rowLocks && run.lock === true, (qb) => qb.forNoKeyUpdate('runs'))
    .$if(ctx.capabilities.rowLocks && run.share === true, (qb) => qb.forShare('runs'))
    .executeTakeFirst()
  if (row === undefined) throw runNotFound(run.workspace, run.runId)
  return row
}

/**
 * Creates a run (and its experiment on first use). RUN_EXISTS if the id is taken; RUN_NOT_FOUND if
 * `parentRunId` names no run of the workspace; WORKSPACE_NOT_FOUND.
 */
export function createRun(ctx: StoreDialect, input: NewRun): Promise<Run> {
  return guard('create a run', () =>
    ctx.db.transaction().execute(async (trx) => {
      await requireWorkspace(trx, input.workspace)
      if (input.parentRunId !== null) await requireRunId(trx, { workspace: input.workspace, runId: input.parentRunId })
      if (input.snapshotId !== null) await requireCompleteSnapshot(trx, { workspace: input.workspace, id: input.snapshotId })
      const experiment = await ensureExperimentRow(trx, {
        workspace: input.workspace,
        name: input.experiment,
        createdAt: input.createdAt,
      })
      const row = {
        id: input.id,
        workspace: input.workspace,
        experiment_id: Number(experiment.id),
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
        snapshot_id: input.snapshotId,
        definition: input.definition === null ? null : JSON.stringify(input.definition),
        // A run created Running entered it when it started (a run recorded offline started before it was created).
        status_times: JSON.stringify({
          [input.status]: input.status === 'Running' ? (input.startedAt ?? input.createdAt) : input.createdAt,
        }),
        heartbeat_at: null,
        cancel_requested_at: null,
        deleted_at: null,
      }
      try {
        await trx.insertInto('runs').values(row).execute()
      } catch (error) {
        if (ctx.capabilities.isUniqueViolation(error)) throw runExists(input.id, error)
        throw error
      }
      return toRun({ ...row, experiment_name: input.experiment })
    }),
  )
}

/** The run; RUN_NOT_FOUND. */
export function getRun(ctx: StoreDialect, run: RunRef): Promise<Run> {
  return guard('read a run', async () => toRun(await requireRun(ctx, ctx.db, run)))
}

function filteredRuns(ctx: StoreDialect, options: ListRunsOptions) {
  const tagValue = (key: string) => ctx.capabilities.tagValue(sql.ref<string>('runs.tags'), key)
  return selectRuns(ctx.db)
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

/** Runs filtered and ordered as `options` asks, paged; WORKSPACE_NOT_FOUND. */
export function listRuns(ctx: StoreDialect, options: ListRunsOptions): Promise<Page<RunWithMetrics>> {
  return guard('list runs', async () => {
    await requireWorkspace(ctx.db, options.workspace)
    const { orderBy, order, pageSize } = options
    let query = filteredRuns(ctx, options)
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
      const offset = options.pageToken === undefined ? 0 : decodePageToken(options.pageToken, scope, { offset: 'number' }).offset
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
    const metrics = options.includeMetrics
      ? await lastValuesOf(
          ctx.db,
          page.items.map((row) => row.id),
        )
      : undefined
    return mapPage(page, (row) => ({ ...toRun(row), metrics: metrics?.get(row.id) ?? {} }))
  })
}

/**
 * Locks the run, asks `decide` which columns to change, changes them and returns the run as it is then;
 * when `decide` changes nothing, nothing is written (so a retried request is harmless).
 */
function changeRun(
  ctx: StoreDialect,
  change: { operation: string; run: RunRef },
  decide: (run: RunRow) => Updateable<RunsTable>,
): Promise<Run> {
  return guard(change.operation, () =>
    ctx.db.transaction().execute(async (trx) => {
      const run = await requireRun(ctx, trx, { ...change.run, lock: true })
      const changes = decide(run)
      if (Object.keys(changes).length === 0) return toRun(run)
      await trx.updateTable('runs').set(changes).where('id', '=', change.run.runId).execute()
      return toRun({ ...run, ...changes })
    }),
  )
}

/** Changes display name and/or description; RUN_NOT_FOUND. */
export function updateRun(ctx: StoreDialect, patch: RunPatch): Promise<Run> {
  return changeRun(ctx, { operation: 'update a run', run: patch }, () => ({
    ...(patch.displayName === undefined ? {} : { display_name: patch.displayName }),
    ...(patch.description === undefined ? {} : { description: patch.description }),
  }))
}

/** Moves a run along its lifecycle (contract `canTransition`); INVALID_STATUS_TRANSITION otherwise. */
export function transitionRun(ctx: StoreDialect, change: RunTransition): Promise<Run> {
  return changeRun(ctx, { operation: 'change the status of a run', run: change }, (run) => {
    const from = toRun(run).status
    const to = change.status
    if (!canTransition(from, to)) throw invalidTransition(change.runId, from, to)
    // Staying put changes nothing, so a retried request is harmless.
    if (from === to) return {}
    return {
      status: to,
      status_times: withStatusTime(statusTimesOf(run), to, change.at),
      ...(to === 'Running' && run.started_at === null ? { started_at: change.at } : {}),
      ...(isTerminalStatus(to) ? { ended_at: change.at } : {}),
      ...(change.error === undefined ? {} : { error: JSON.stringify(change.error) }),
    }
  })
}

/** The columns that end a run in `status` at `at` (with `error`), from the row as read. */
function endColumns(run: RunRow, change: { status: RunStatus; at: string; error?: RunError }): Updateable<RunsTable> {
  return {
    status: change.status,
    ended_at: change.at,
    status_times: withStatusTime(statusTimesOf(run), change.status, change.at),
    ...(change.error === undefined ? {} : { error: JSON.stringify(change.error) }),
  }
}

/** The runner's heartbeat: heartbeatAt now (unless the run ended); its status and whether a cancel was asked. */
export async function heartbeatRun(ctx: StoreDialect, event: RunEvent): Promise<Heartbeat> {
  const run = await changeRun(ctx, { operation: 'record a heartbeat', run: event }, (row) =>
    isTerminalStatus(row.status as RunStatus) ? {} : { heartbeat_at: event.at },
  )
  return { status: run.status, cancelRequested: run.cancelRequestedAt !== null }
}

/**
 * Asks to cancel a run: a finished run is left as it is; a live run no runner ever reported for ends
 * Canceled now; otherwise the first request's time is kept for its runner, which ends the run.
 */
export function requestRunCancel(ctx: StoreDialect, event: RunEvent): Promise<Run> {
  return changeRun(ctx, { operation: 'cancel a run', run: event }, (row) => {
    if (isTerminalStatus(row.status as RunStatus)) return {}
    if (row.heartbeat_at === null) return endColumns(row, { status: 'Canceled', at: event.at })
    return row.cancel_requested_at === null ? { cancel_requested_at: event.at } : {}
  })
}

/** The statuses a runner supervises: a run in one of them whose runner falls silent is failed. */
const SUPERVISED_STATUSES = ['Queued', 'Preparing', 'Running', 'Finalizing'] as const satisfies readonly RunStatus[]

/**
 * Fails every supervised run whose last heartbeat is before `heartbeatBefore` with RUNNER_LOST, each
 * change conditional on the status and heartbeat as read: a heartbeat that arrives meanwhile, or another
 * replica's sweep, wins, and the run is failed once. Returns the ids this call failed.
 */
export function failSilentRuns(ctx: StoreDialect, sweep: SilentRunsSweep): Promise<string[]> {
  return guard('fail runs whose runner stopped reporting', async () => {
    const silent = await selectRuns(ctx.db)
      .where('runs.heartbeat_at', 'is not', null)
      .where('runs.heartbeat_at', '<', sweep.heartbeatBefore)
      .where('runs.status', 'in', SUPERVISED_STATUSES)
      .execute()
    const failed: string[] = []
    for (const row of silent) {
      const error: RunError = {
        code: 'RUNNER_LOST',
        message:
          `the runner supervising this run stopped reporting (last heartbeat ${row.heartbeat_at ?? 'unknown'}); ` +
          'the script may have been killed with it. Logs up to then are kept; resubmit the run',
      }
      const result = await ctx.db
        .updateTable('runs')
        .set(endColumns(row, { status: 'Failed', at: sweep.at, error }))
        .where('id', '=', row.id)
        .where('status', '=', row.status)
        .where('heartbeat_at', '=', row.heartbeat_at ?? '')
        .executeTakeFirst()
      if (Number(result.numUpdatedRows) > 0) failed.push(row.id)
    }
    return failed
  })
}

/** Sets then removes tags; LIMIT_EXCEEDED past `maxTags` tags in all. */
export function updateTags(ctx: StoreDialect, change: TagChange): Promise<Run> {
  return changeRun(ctx, { operation: 'update the tags of a run', run: change }, (run) => {
    const tags = parseStringMap(run.tags)
    for (const [key, value] of Object.entries(change.set)) tags.set(key, value)
    for (const key of change.remove) tags.delete(key)
    for (const [key, merge] of Object.entries(change.merge ?? {})) tags.set(key, merge(tags.get(key)))
    assertWithinLimit({ tagsPerRun: change.maxTags }, 'tagsPerRun', {
      what: `the number of tags on run "${printable(change.runId)}"`,
      actual: tags.size,
    })
    return { tags: stringifyStringMap(tags) }
  })
}

/** Adds properties; PROPERTY_IMMUTABLE if a key exists with another value; LIMIT_EXCEEDED past `maxProperties`. */
export function addProperties(ctx: StoreDialect, change: PropertyChange): Promise<Run> {
  return changeRun(ctx, { operation: 'add properties to a run', run: change }, (run) => {
    const properties = parseStringMap(run.properties)
    for (const [key, value] of Object.entries(change.properties)) {
      const current = properties.get(key)
      if (current !== undefined && current !== value) throw propertyImmutable(change.runId, key, current)
      properties.set(key, value)
    }
    assertWithinLimit({ propertiesPerRun: change.maxProperties }, 'propertiesPerRun', {
      what: `the number of properties on run "${printable(change.runId)}"`,
      actual: properties.size,
    })
    return { properties: stringifyStringMap(properties) }
  })
}

/** Deletes (soft: the run stays readable, flagged) or restores a run; idempotent. RUN_NOT_FOUND. */
export function setRunDeleted(ctx: StoreDialect, change: RunDeletion): Promise<Run> {
  return changeRun(ctx, { operation: change.deleted ? 'delete a run' : 'restore a run', run: change }, (run) => {
    if (change.deleted) return run.deleted_at === null ? { deleted_at: change.at } : {}
    return run.deleted_at === null ? {} : { deleted_at: null }
  })
}
