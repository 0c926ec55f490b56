import type { Selectable } from 'kysely'
import type { SnapshotFile } from '@wharf/contract'
import type { StoreDialect } from '../dialects/capabilities.js'
import { snapshotIncomplete, snapshotNotFound } from '../errors.js'
import type { NewSnapshot, NewSnapshotBlob, SnapshotBlobsQuery, SnapshotRef, StoredSnapshot } from '../metadata-store.js'
import type { SnapshotsTable } from '../schema.js'
import { guard, requireWorkspace } from './shared.js'
import type { Db } from './shared.js'

/** How many hashes one `in (…)` list carries: well under both engines' parameter limits. */
const HASHES_PER_QUERY = 500

function toSnapshot(row: Selectable<SnapshotsTable>): StoredSnapshot {
  return {
    workspace: row.workspace,
    id: row.id,
    datastore: row.datastore,
    createdAt: row.created_at,
    totalBytes: Number(row.total_bytes),
    files: JSON.parse(row.files) as SnapshotFile[],
    complete: Number(row.complete) !== 0,
  }
}

function findSnapshotRow(db: Db, snapshot: SnapshotRef): Promise<Selectable<SnapshotsTable> | undefined> {
  return db
    .selectFrom('snapshots')
    .selectAll()
    .where('workspace', '=', snapshot.workspace)
    .where('id', '=', snapshot.id)
    .executeTakeFirst()
}

/** Throws SNAPSHOT_NOT_FOUND or SNAPSHOT_INCOMPLETE unless the snapshot is recorded and complete. */
export async function requireCompleteSnapshot(db: Db, snapshot: SnapshotRef): Promise<void> {
  const row = await db
    .selectFrom('snapshots')
    .select('complete')
    .where('workspace', '=', snapshot.workspace)
    .where('id', '=', snapshot.id)
    .executeTakeFirst()
  if (row === undefined) throw snapshotNotFound(snapshot.workspace, snapshot.id)
  if (Number(row.complete) === 0) throw snapshotIncomplete(snapshot.workspace, snapshot.id)
}

/**
 * Records a snapshot unless its id is recorded already (content-addressed: the same id is the same
 * files), and marks a recorded incomplete one complete when this one is. WORKSPACE_NOT_FOUND.
 */
export function putSnapshot(ctx: StoreDialect, input: NewSnapshot): Promise<{ snapshot: StoredSnapshot; created: boolean }> {
  return guard('record a snapshot', () =>
    ctx.db.transaction().execute(async (trx) => {
      await requireWorkspace(trx, input.workspace)
      const inserted = await trx
        .insertInto('snapshots')
        .values({
          workspace: input.workspace,
          id: input.id,
          datastore: input.datastore,
          files: JSON.stringify(input.files),
          file_count: input.files.length,
          total_bytes: input.totalBytes,
          complete: input.complete ? 1 : 0,
          created_at: input.createdAt,
        })
        .onConflict((oc) => oc.columns(['workspace', 'id']).doNothing())
        .executeTakeFirst()
      const created = Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0
      if (!created && input.complete) {
        await trx
          .updateTable('snapshots')
          .set({ complete: 1 })
          .where('workspace', '=', input.workspace)
          .where('id', '=', input.id)
          .where('complete', '=', 0)
          .execute()
      }
      const row = await findSnapshotRow(trx, input)
      if (row === undefined) throw new Error(`snapshot "${input.id}" was not stored`)
      return { snapshot: toSnapshot(row), created }
    }),
  )
}

/** The snapshot, or undefined. */
export function findSnapshot(ctx: StoreDialect, snapshot: SnapshotRef): Promise<StoredSnapshot | undefined> {
  return guard('read a snapshot', async () => {
    const row = await findSnapshotRow(ctx.db, snapshot)
    return row === undefined ? undefined : toSnapshot(row)
  })
}

/** A complete snapshot; SNAPSHOT_NOT_FOUND, or SNAPSHOT_INCOMPLETE while contents of it are missing. */
export function getSnapshot(ctx: StoreDialect, snapshot: SnapshotRef): Promise<StoredSnapshot> {
  return guard('read a snapshot', async () => {
    const row = await findSnapshotRow(ctx.db, snapshot)
    if (row === undefined) throw snapshotNotFound(snapshot.workspace, snapshot.id)
    if (Number(row.complete) === 0) throw snapshotIncomplete(snapshot.workspace, snapshot.id)
    return toSnapshot(row)
  })
}

/** The sizes of the contents of `sha256s` the datastore holds, by SHA-256. */
export function findSnapshotBlobs(ctx: StoreDialect, query: SnapshotBlobsQuery): Promise<Map<string, number>> {
  return guard('read snapshot contents', async () => {
    const held = new Map<string, number>()
    const wanted = [...new Set(query.sha256s)]
    for (let at = 0; at < wanted.length; at += HASHES_PER_QUERY) {
      const rows = await ctx.db
        .selectFrom('snapshot_blobs')
        .select(['sha256', 'size'])
        .where('workspace', '=', query.workspace)
        .where('datastore', '=', query.datastore)
        .where('sha256', 'in', wanted.slice(at, at + HASHES_PER_QUERY))
        .execute()
      for (const row of rows) held.set(row.sha256, Number(row.size))
    }
    return held
  })
}

/** Notes that a datastore holds a content; true when it was not noted before. */
export function recordSnapshotBlob(ctx: StoreDialect, blob: NewSnapshotBlob): Promise<boolean> {
  return guard('record a snapshot content', async () => {
    const result = await ctx.db
      .insertInto('snapshot_blobs')
      .values({
        workspace: blob.workspace,
        datastore: blob.datastore,
        sha256: blob.sha256,
        size: blob.size,
        created_at: blob.createdAt,
      })
      .onConflict((oc) => oc.columns(['workspace', 'datastore', 'sha256']).doNothing())
      .executeTakeFirst()
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0
  })
}
