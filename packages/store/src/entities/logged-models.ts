import type { StoreDialect } from '../dialects/capabilities.js'
import { modelNotFound } from '../errors.js'
import type { LoggedModel, LoggedModelChange, LoggedModelQuery, NewLoggedModel } from '../metadata-store.js'
import { parseStringMap, stringifyStringMap, toLoggedModel } from '../rows.js'
import { guard, requireRunId, requireWorkspace } from './shared.js'
import type { Db } from './shared.js'

/** The logged model's row; `lock` locks it for a read-modify-write of its JSON, where rows lock (FOR NO KEY UPDATE, as runs). */
async function requireModelRow(db: Db, ref: { workspace: string; id: string }, lock = false) {
  const row = await db
    .selectFrom('logged_models')
    .selectAll()
    .where('workspace', '=', ref.workspace)
    .where('id', '=', ref.id)
    .$if(lock, (qb) => qb.forNoKeyUpdate())
    .executeTakeFirst()
  if (row === undefined) throw modelNotFound(ref.workspace, ref.id)
  return row
}

/** Records a logged model; WORKSPACE_NOT_FOUND, RUN_NOT_FOUND for its source run. */
export function createLoggedModel(ctx: StoreDialect, input: NewLoggedModel): Promise<LoggedModel> {
  return guard('create a logged model', async () => {
    await requireWorkspace(ctx.db, input.workspace)
    if (input.sourceRunId !== null) await requireRunId(ctx.db, { workspace: input.workspace, runId: input.sourceRunId })
    const row = {
      id: input.id,
      workspace: input.workspace,
      experiment_id: input.experimentId,
      name: input.name,
      source_run_id: input.sourceRunId,
      model_type: input.modelType,
      status: input.status,
      status_message: null,
      tags: stringifyStringMap(input.tags),
      params: stringifyStringMap(input.params),
      created_at: input.createdAt,
      updated_at: input.createdAt,
      deleted_at: null,
    }
    await ctx.db.insertInto('logged_models').values(row).execute()
    return toLoggedModel(row)
  })
}

/** The logged model; MODEL_NOT_FOUND. */
export function getLoggedModel(ctx: StoreDialect, ref: { workspace: string; id: string }): Promise<LoggedModel> {
  return guard('read a logged model', async () => toLoggedModel(await requireModelRow(ctx.db, ref)))
}

/** Changes status, tags, params (added) or lifecycle of a logged model in one transaction; MODEL_NOT_FOUND. */
export function changeLoggedModel(ctx: StoreDialect, change: LoggedModelChange): Promise<LoggedModel> {
  return guard('change a logged model', () =>
    ctx.db.transaction().execute(async (trx) => {
      // Locked: concurrent tag or param changes must each see the other's, not overwrite them.
      const row = await requireModelRow(trx, change, ctx.capabilities.rowLocks)
      const tags = parseStringMap(row.tags)
      for (const [key, value] of Object.entries(change.setTags ?? {})) tags.set(key, value)
      for (const key of change.removeTags ?? []) tags.delete(key)
      const params = parseStringMap(row.params)
      for (const [key, value] of Object.entries(change.addParams ?? {})) params.set(key, value)
      const next = {
        ...row,
        status: change.status ?? row.status,
        status_message: change.statusMessage ?? row.status_message,
        tags: stringifyStringMap(tags),
        params: stringifyStringMap(params),
        deleted_at: change.deleted === true ? (row.deleted_at ?? change.at) : row.deleted_at,
        updated_at: change.at,
      }
      await trx
        .updateTable('logged_models')
        .set({
          status: next.status,
          status_message: next.status_message,
          tags: next.tags,
          params: next.params,
          deleted_at: next.deleted_at,
          updated_at: next.updated_at,
        })
        .where('id', '=', row.id)
        .execute()
      return toLoggedModel(next)
    }),
  )
}

/** The logged models of some experiments (all of the workspace when none are named), newest first, deleted ones left out. */
export function listLoggedModels(ctx: StoreDialect, query: LoggedModelQuery): Promise<LoggedModel[]> {
  return guard('list logged models', async () => {
    await requireWorkspace(ctx.db, query.workspace)
    const rows = await ctx.db
      .selectFrom('logged_models')
      .selectAll()
      .where('workspace', '=', query.workspace)
      .where('deleted_at', 'is', null)
      .$if(query.experimentIds !== undefined, (qb) => qb.where('experiment_id', 'in', query.experimentIds ?? []))
      .$if(query.sourceRunId !== undefined, (qb) => qb.where('source_run_id', '=', query.sourceRunId ?? ''))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute()
    return rows.map(toLoggedModel)
  })
}
