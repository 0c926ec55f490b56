import type { Selectable } from 'kysely'
import type { Experiment, Page } from '@wharf/contract'
import type { StoreDialect } from '../dialects/capabilities.js'
import { experimentNotFound } from '../errors.js'
import type { NewExperiment, WorkspaceItemRef, WorkspacePageRequest } from '../metadata-store.js'
import { decodePageToken, encodePageToken } from '../page-token.js'
import { toExperiment } from '../rows.js'
import type { ExperimentsTable } from '../schema.js'
import { guard, requireWorkspace, toPage } from './shared.js'
import type { Db } from './shared.js'

function findExperimentRow(db: Db, experiment: WorkspaceItemRef): Promise<Selectable<ExperimentsTable> | undefined> {
  return db
    .selectFrom('experiments')
    .selectAll()
    .where((eb) => eb.and({ workspace: experiment.workspace, name: experiment.name }))
    .executeTakeFirst()
}

/** The row of the experiment, created first if needed; concurrent first uses of a name agree on one. */
export async function ensureExperimentRow(db: Db, experiment: NewExperiment): Promise<Selectable<ExperimentsTable>> {
  // Insert-if-absent then read, so concurrent first uses of a name agree on one experiment.
  await db
    .insertInto('experiments')
    .values({ workspace: experiment.workspace, name: experiment.name, created_at: experiment.createdAt })
    .onConflict((oc) => oc.columns(['workspace', 'name']).doNothing())
    .execute()
  const row = await findExperimentRow(db, experiment)
  if (row === undefined) throw new Error(`experiment "${experiment.name}" was not stored`)
  return row
}

/** Returns the experiment, creating it first if needed (idempotent under concurrency); WORKSPACE_NOT_FOUND. */
export function ensureExperiment(ctx: StoreDialect, experiment: NewExperiment): Promise<Experiment> {
  return guard('create an experiment', async () => {
    await requireWorkspace(ctx.db, experiment.workspace)
    return toExperiment(await ensureExperimentRow(ctx.db, experiment))
  })
}

/** The experiment; EXPERIMENT_NOT_FOUND, WORKSPACE_NOT_FOUND. */
export function getExperiment(ctx: StoreDialect, experiment: WorkspaceItemRef): Promise<Experiment> {
  return guard('read an experiment', async () => {
    const row = await findExperimentRow(ctx.db, experiment)
    if (row === undefined) {
      await requireWorkspace(ctx.db, experiment.workspace)
      throw experimentNotFound(experiment.workspace, experiment.name)
    }
    return toExperiment(row)
  })
}

/** The experiments of a workspace by name, paged; WORKSPACE_NOT_FOUND. */
export function listExperiments(ctx: StoreDialect, page: WorkspacePageRequest): Promise<Page<Experiment>> {
  return guard('list experiments', async () => {
    await requireWorkspace(ctx.db, page.workspace)
    const after = page.pageToken === undefined ? undefined : decodePageToken(page.pageToken, 'experiments', { name: 'string' })
    const rows = await ctx.db
      .selectFrom('experiments')
      .selectAll()
      .where('workspace', '=', page.workspace)
      .$if(after !== undefined, (qb) => qb.where('name', '>', after?.name ?? ''))
      .orderBy('name')
      .limit(page.pageSize + 1)
      .execute()
    return toPage(rows.map(toExperiment), page.pageSize, (last) => encodePageToken('experiments', { name: last.name }))
  })
}
