import type { Selectable } from 'kysely'
import type { Experiment, Page } from '@wharf/contract'
import type { StoreDialect } from '../dialects/capabilities.js'
import { experimentExists, experimentNotFound } from '../errors.js'
import type {
  ExperimentChange,
  ExperimentDetails,
  ExperimentLookup,
  NewExperiment,
  NewExperimentWithTags,
  WorkspaceItemRef,
  WorkspacePageRequest,
} from '../metadata-store.js'
import { decodePageToken, encodePageToken } from '../page-token.js'
import { parseStringMap, stringifyStringMap, toExperiment, toExperimentDetails } from '../rows.js'
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

/** The experiment's row; `lock` locks it for a read-modify-write of its tags, where rows lock (FOR NO KEY UPDATE, so inserts of runs checking their foreign key still pass). */
function findDetailsRow(db: Db, lookup: ExperimentLookup, lock = false): Promise<Selectable<ExperimentsTable> | undefined> {
  return db
    .selectFrom('experiments')
    .selectAll()
    .where('workspace', '=', lookup.workspace)
    .$if('id' in lookup, (qb) => qb.where('id', '=', 'id' in lookup ? lookup.id : 0))
    .$if('name' in lookup, (qb) => qb.where('name', '=', 'name' in lookup ? lookup.name : ''))
    .$if(lock, (qb) => qb.forNoKeyUpdate())
    .executeTakeFirst()
}

async function requireDetailsRow(db: Db, lookup: ExperimentLookup, lock = false): Promise<Selectable<ExperimentsTable>> {
  const row = await findDetailsRow(db, lookup, lock)
  if (row !== undefined) return row
  await requireWorkspace(db, lookup.workspace)
  throw experimentNotFound(lookup.workspace, 'id' in lookup ? `#${lookup.id}` : lookup.name)
}

/** The experiment with its tags and lifecycle; EXPERIMENT_NOT_FOUND, WORKSPACE_NOT_FOUND. */
export function getExperimentDetails(ctx: StoreDialect, lookup: ExperimentLookup): Promise<ExperimentDetails> {
  return guard('read an experiment', async () => toExperimentDetails(await requireDetailsRow(ctx.db, lookup)))
}

/** Every experiment of a workspace with its tags and lifecycle, deleted ones too, by id; WORKSPACE_NOT_FOUND. */
export function listExperimentDetails(ctx: StoreDialect, workspace: string): Promise<ExperimentDetails[]> {
  return guard('list experiments', async () => {
    await requireWorkspace(ctx.db, workspace)
    const rows = await ctx.db.selectFrom('experiments').selectAll().where('workspace', '=', workspace).orderBy('id').execute()
    return rows.map(toExperimentDetails)
  })
}

/** Creates an experiment with tags; EXPERIMENT_EXISTS when the name is taken (by a deleted one too), WORKSPACE_NOT_FOUND. */
export function createExperiment(ctx: StoreDialect, input: NewExperimentWithTags): Promise<ExperimentDetails> {
  return guard('create an experiment', async () => {
    await requireWorkspace(ctx.db, input.workspace)
    try {
      await ctx.db
        .insertInto('experiments')
        .values({
          workspace: input.workspace,
          name: input.name,
          created_at: input.createdAt,
          tags: stringifyStringMap(input.tags),
          updated_at: input.createdAt,
        })
        .execute()
    } catch (error) {
      if (ctx.capabilities.isUniqueViolation(error)) throw experimentExists(input.workspace, input.name, error)
      throw error
    }
    return toExperimentDetails(await requireDetailsRow(ctx.db, input))
  })
}

/**
 * Renames, sets and removes tags, deletes or restores an experiment in one transaction; a change that
 * changes nothing writes nothing. EXPERIMENT_NOT_FOUND; EXPERIMENT_EXISTS when the new name is taken.
 */
export function changeExperiment(ctx: StoreDialect, change: ExperimentChange): Promise<ExperimentDetails> {
  return guard('change an experiment', () =>
    ctx.db.transaction().execute(async (trx) => {
      // Locked: two concurrent tag changes must each see the other's tags, not both the old ones.
      const row = await requireDetailsRow(trx, { workspace: change.workspace, id: change.id }, ctx.capabilities.rowLocks)
      const tags = parseStringMap(row.tags)
      for (const [key, value] of Object.entries(change.setTags ?? {})) tags.set(key, value)
      for (const key of change.removeTags ?? []) tags.delete(key)
      const next = {
        name: change.name ?? row.name,
        tags: stringifyStringMap(tags),
        deleted_at: change.deleted === undefined ? row.deleted_at : change.deleted ? (row.deleted_at ?? change.at) : null,
      }
      if (next.name === row.name && next.tags === row.tags && next.deleted_at === row.deleted_at) return toExperimentDetails(row)
      try {
        await trx
          .updateTable('experiments')
          .set({ ...next, updated_at: change.at })
          .where('id', '=', row.id)
          .execute()
      } catch (error) {
        if (ctx.capabilities.isUniqueViolation(error)) throw experimentExists(change.workspace, next.name, error)
        throw error
      }
      return toExperimentDetails({ ...row, ...next, updated_at: change.at })
    }),
  )
}
