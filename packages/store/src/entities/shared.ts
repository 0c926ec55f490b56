import type { Kysely, Transaction } from 'kysely'
import type { Page } from '@wharf/contract'
import { runNotFound, toStoreError, workspaceNotFound } from '../errors.js'
import type { RunRef } from '../metadata-store.js'
import type { StoreDatabase } from '../schema.js'

/** The database, or a transaction on it: what the entity queries run on. */
export type Db = Kysely<StoreDatabase> | Transaction<StoreDatabase>

/** Runs `body`, turning anything but a WharfError into INTERNAL that names `operation` (see {@link toStoreError}). */
export async function guard<T>(operation: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body()
  } catch (error) {
    throw toStoreError(operation, error)
  }
}

/** Throws WORKSPACE_NOT_FOUND unless `workspace` exists. */
export async function requireWorkspace(db: Db, workspace: string): Promise<void> {
  const row = await db.selectFrom('workspaces').select('name').where('name', '=', workspace).executeTakeFirst()
  if (row === undefined) throw workspaceNotFound(workspace)
}

/** Throws RUN_NOT_FOUND unless `run.runId` is a run of `run.workspace`; reads only the key. */
export async function requireRunId(db: Db, run: RunRef): Promise<void> {
  const row = await db
    .selectFrom('runs')
    .select('id')
    .where('id', '=', run.runId)
    .where('workspace', '=', run.workspace)
    .executeTakeFirst()
  if (row === undefined) throw runNotFound(run.workspace, run.runId)
}

/** Cuts a page from `rows` fetched with one extra row; the extra row says whether a next page exists. */
export function toPage<T>(rows: T[], pageSize: number, tokenAfter: (last: T) => string): Page<T> {
  if (rows.length <= pageSize) return { items: rows }
  const items = rows.slice(0, pageSize)
  const last = items[items.length - 1]
  return last === undefined ? { items } : { items, nextPageToken: tokenAfter(last) }
}
