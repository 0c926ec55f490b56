import type { Workspace } from '@wharf/contract'
import type { StoreDialect } from '../dialects/capabilities.js'
import { datastoreNotFound, workspaceExists, workspaceNotFound } from '../errors.js'
import type { NewWorkspace, WorkspaceItemRef } from '../metadata-store.js'
import { fromDatastoreRecord, toWorkspace } from '../rows.js'
import { findDatastoreRow } from './datastores.js'
import { guard, requireWorkspace } from './shared.js'

/** Creates a workspace and its datastores in one transaction; WORKSPACE_EXISTS if the name is taken. */
export function createWorkspace(ctx: StoreDialect, input: NewWorkspace): Promise<Workspace> {
  return guard('create a workspace', () =>
    ctx.db.transaction().execute(async (trx) => {
      const row = {
        name: input.name,
        default_datastore: input.defaultDatastore,
        artifact_datastore: input.artifactDatastore,
        created_at: input.createdAt,
      }
      try {
        await trx.insertInto('workspaces').values(row).execute()
      } catch (error) {
        if (ctx.capabilities.isUniqueViolation(error)) throw workspaceExists(input.name, error)
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

/** The workspace named `name`, or undefined. */
export function findWorkspace(ctx: StoreDialect, name: string): Promise<Workspace | undefined> {
  return guard('read a workspace', async () => {
    const row = await ctx.db.selectFrom('workspaces').selectAll().where('name', '=', name).executeTakeFirst()
    return row === undefined ? undefined : toWorkspace(row)
  })
}

/** The workspace named `name`; WORKSPACE_NOT_FOUND. */
export async function getWorkspace(ctx: StoreDialect, name: string): Promise<Workspace> {
  const workspace = await findWorkspace(ctx, name)
  if (workspace === undefined) throw workspaceNotFound(name)
  return workspace
}

/** Every workspace by name. */
export function listWorkspaces(ctx: StoreDialect): Promise<Workspace[]> {
  return guard('list workspaces', async () => {
    const rows = await ctx.db.selectFrom('workspaces').selectAll().orderBy('name').execute()
    return rows.map(toWorkspace)
  })
}

/** Makes datastore `name` the default of `workspace`; WORKSPACE_NOT_FOUND or DATASTORE_NOT_FOUND. */
export function setDefaultDatastore(ctx: StoreDialect, datastore: WorkspaceItemRef): Promise<Workspace> {
  const { workspace, name } = datastore
  return guard('set the default datastore', () =>
    ctx.db.transaction().execute(async (trx) => {
      await requireWorkspace(trx, workspace)
      if ((await findDatastoreRow(trx, datastore)) === undefined) throw datastoreNotFound(workspace, name)
      const row = await trx
        .updateTable('workspaces')
        .set({ default_datastore: name })
        .where('name', '=', workspace)
        .returningAll()
        .executeTakeFirstOrThrow()
      return toWorkspace(row)
    }),
  )
}
