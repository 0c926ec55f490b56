import type { RunLogSummary, RunStatus } from '@wharf/contract'
import type { StoreDialect } from '../dialects/capabilities.js'
import { logGap } from '../errors.js'
import type { RunLogAppend, RunLogBytes, RunLogRead, RunRef } from '../metadata-store.js'
import { requireRun } from './runs.js'
import { guard } from './shared.js'

/**
 * Appends bytes to a live log at `offset`: the part already stored (a retried append) is skipped, the
 * rest becomes one chunk; an offset past the size is WRITE_CONFLICT. The log's row is locked for the
 * transaction, so appends racing on any replica see each other's sizes. RUN_NOT_FOUND.
 */
export function appendRunLog(ctx: StoreDialect, append: RunLogAppend): Promise<{ size: number }> {
  return guard('append to a run log', () =>
    ctx.db.transaction().execute(async (trx) => {
      await requireRun(ctx, trx, { ...append, share: true })
      await trx
        .insertInto('run_logs')
        .values({ run_id: append.runId, name: append.name, size: 0, updated_at: append.at })
        .onConflict((oc) => oc.columns(['run_id', 'name']).doNothing())
        .execute()
      const log = await trx
        .selectFrom('run_logs')
        .select('size')
        .where('run_id', '=', append.runId)
        .where('name', '=', append.name)
        .$if(ctx.capabilities.rowLocks, (qb) => qb.forUpdate())
        .executeTakeFirstOrThrow()
      const size = Number(log.size)
      if (append.offset > size) throw logGap({ runId: append.runId, name: append.name, offset: append.offset, size })
      const end = append.offset + append.bytes.length
      if (end <= size) return { size }
      const fresh = append.bytes.subarray(size - append.offset)
      await trx
        .insertInto('run_log_chunks')
        .values({ run_id: append.runId, name: append.name, start_offset: size, end_offset: end, bytes: fresh })
        .execute()
      await trx
        .updateTable('run_logs')
        .set({ size: end, updated_at: append.at })
        .where('run_id', '=', append.runId)
        .where('name', '=', append.name)
        .execute()
      return { size: end }
    }),
  )
}

/** Up to `limit` bytes of a live log from `offset`, its size and the run's status. RUN_NOT_FOUND. */
export function readRunLog(ctx: StoreDialect, read: RunLogRead): Promise<RunLogBytes> {
  return guard('read a run log', () =>
    // One snapshot of the database: size, bytes and status agree with each other.
    ctx.db.transaction().execute(async (trx) => {
      const run = await requireRun(ctx, trx, read)
      const log = await trx
        .selectFrom('run_logs')
        .select('size')
        .where('run_id', '=', read.runId)
        .where('name', '=', read.name)
        .executeTakeFirst()
      const size = log === undefined ? 0 : Number(log.size)
      const runStatus = run.status as RunStatus
      const end = Math.min(size, read.offset + read.limit)
      if (read.offset >= end) return { bytes: Buffer.alloc(0), size, runStatus }
      const chunks = await trx
        .selectFrom('run_log_chunks')
        .select(['start_offset', 'end_offset', 'bytes'])
        .where('run_id', '=', read.runId)
        .where('name', '=', read.name)
        .where('end_offset', '>', read.offset)
        .where('start_offset', '<', end)
        .orderBy('start_offset')
        .execute()
      const parts = chunks.map((chunk) => {
        const start = Number(chunk.start_offset)
        const bytes = Buffer.from(chunk.bytes)
        return bytes.subarray(Math.max(0, read.offset - start), Math.min(bytes.length, end - start))
      })
      return { bytes: Buffer.concat(parts), size, runStatus }
    }),
  )
}

/** The live logs of a run by name, with their sizes. RUN_NOT_FOUND. */
export function listRunLogs(ctx: StoreDialect, run: RunRef): Promise<RunLogSummary[]> {
  return guard('list run logs', async () => {
    await requireRun(ctx, ctx.db, run)
    const rows = await ctx.db
      .selectFrom('run_logs')
      .select(['name', 'size', 'updated_at'])
      .where('run_id', '=', run.runId)
      .orderBy('name')
      .execute()
    return rows.map((row) => ({ name: row.name, size: Number(row.size), updatedAt: row.updated_at }))
  })
}
