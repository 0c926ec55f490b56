import type { Selectable } from 'kysely'
import type { StoreDialect } from '../dialects/capabilities.js'
import { datastoreExists, datastoreNotFound } from '../errors.js'
import type { DatastoreRecord, WorkspaceItemRef } from '../metadata-store.js'
import { fromDatastoreRecord, toDatastoreRecord } from '../rows.js'
import type { DatastoresTable } from '../schema.js'
import { guard, requireWorkspace } from './shared.js'
import type { Db } from './shared.js'

/** The row of datastore `name` in `workspace`, or undefined. */
export function findDatastoreRow(db: Db, datastore: WorkspaceItemRef): Promise<Selectable<DatastoresTable> | undefined> {
  return db
    .selectFrom('datastores')
    .selectAll()
    .where((eb) => eb.and({ workspace: datastore.workspace, name: datastore.name }))
    .executeTakeFirst()
}

/** Registers a datastore; DATASTORE_EXISTS unless `overwrite` (which keeps the first creation time); WORKSPACE_NOT_FOUND. */
export function putDatastore(
  ctx: StoreDialect,
  record: DatastoreRecord,
  options: { overwrite: boolean },
): Promise<DatastoreRecord> {
  return guard('register a datastore', () =>
    ctx.db.transaction().execute(async (trx) => {
      await requireWorkspace(trx, record.workspace)
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
          if (ctx.capabilities.isUniqueViolation(error)) throw datastoreExists(record.workspace, record.name, error)
          throw error
        }
      }
      const stored = await findDatastoreRow(trx, record)
      if (stored === undefined) throw new Error(`datastore "${record.name}" was not stored`)
      return toDatastoreRecord(stored)
    }),
  )
}

/** The datastore `name` of `workspace`, or undefined. */
export function findDatastore(ctx: StoreDialect, datastore: WorkspaceItemRef): Promise<DatastoreRecord | undefined> {
  return guard('read a datastore', async () => {
    const row = await findDatastoreRow(ctx.db, datastore)
    return row === undefined ? undefined : toDatastoreRecord(row)
  })
}

/** The datastore `name` of `workspace`; DATASTORE_NOT_FOUND. */
export async function getDatastore(ctx: StoreDialect, datastore: WorkspaceItemRef): Promise<DatastoreRecord> {
  const record = await findDatastore(ctx, datastore)
  if (record === undefined) throw datastoreNotFound(datastore.workspace, datastore.name)
  return record
}

/** The datastores of `workspace` by name; WORKSPACE_NOT_FOUND. */
export function listDatastores(ctx: StoreDialect, workspace: string): Promise<DatastoreRecord[]> {
  return guard('list datastores', async () => {
    await requireWorkspace(ctx.db, workspace)
    const rows = await ctx.db.selectFrom('datastores').selectAll().where('workspace', '=', workspace).orderBy('name').execute()
    return rows.map(toDatastoreRecord)
  })
}

/** Removes the registration only; DATASTORE_NOT_FOUND. */
export function deleteDatastore(ctx: StoreDialect, datastore: WorkspaceItemRef): Promise<void> {
  const { workspace, name } = datastore
  return guard('remove a datastore', async () => {
    const result = await ctx.db
      .deleteFrom('datastores')
      .where('workspace', '=', workspace)
      .where('name', '=', name)
      .executeTakeFirst()
    if (result.numDeletedRows === 0n) throw datastoreNotFound(workspace, name)
  })
}
