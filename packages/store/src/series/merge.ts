import { sql } from 'kysely'
import type { Kysely } from 'kysely'
import type { StoreDatabase } from '../schema.js'
import { appendPoints, encodeChunks, isSmallChunk, SMALL_CHUNK_POINTS, sortReadOrder } from './chunks.js'
import type { SeriesPoint } from './chunks.js'
import { decodeChunk } from './codec.js'
import { DecodedChunkCache, SeriesIndexCache, readChunkData } from './series-index.js'
import type { ChunkDataReader } from './series-index.js'

/**
 * Merges the small chunks of one metric into full ones, in one transaction that holds the metric's row
 * lock (taken by ingest too): the old chunks go and the new ones come in the same commit, so a crash
 * leaves either, never both or neither. Returns whether anything was merged.
 */
export async function mergeMetric(db: Kysely<StoreDatabase>, metricId: number, rowLocks: boolean): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const metric = await trx
      .selectFrom('metrics')
      .select(['version', 'merge_generation'])
      .where('id', '=', metricId)
      .$if(rowLocks, (qb) => qb.forUpdate())
      .executeTakeFirst()
    if (metric === undefined) return false
    const small = await trx
      .selectFrom('metric_chunks')
      .select(['id', 'point_count'])
      .where('metric_id', '=', metricId)
      .where('point_count', '<', SMALL_CHUNK_POINTS)
      .orderBy('min_step')
      .execute()
    if (small.length < 2) {
      await trx.updateTable('metrics').set({ small_chunks: small.length }).where('id', '=', metricId).execute()
      return false
    }
    const ids = small.map((row) => Number(row.id))
    const data = await readChunkData(trx, ids)
    const points: SeriesPoint[] = []
    for (const id of ids) {
      const bytes = data.get(id)
      if (bytes === undefined) throw new Error(`chunk ${id} has no data`)
      appendPoints(decodeChunk(bytes), points)
    }
    const merged = encodeChunks(sortReadOrder(points))
    const version = Number(metric.version) + 1
    for (let from = 0; from < ids.length; from += 500) {
      const slice = ids.slice(from, from + 500)
      await trx.deleteFrom('metric_chunk_data').where('chunk_id', 'in', slice).execute()
      await trx.deleteFrom('metric_chunks').where('id', 'in', slice).execute()
    }
    for (const chunk of merged) {
      const inserted = await trx
        .insertInto('metric_chunks')
        .values({
          metric_id: metricId,
          min_step: chunk.minStep,
          max_step: chunk.maxStep,
          min_time: chunk.minTime,
          max_time: chunk.maxTime,
          point_count: chunk.count,
          added_version: version,
          summary: chunk.summary,
        })
        .returning('id')
        .executeTakeFirstOrThrow()
      await trx
        .insertInto('metric_chunk_data')
        .values({ chunk_id: Number(inserted.id), data: chunk.data })
        .execute()
    }
    await trx
      .updateTable('metrics')
      .set({
        version,
        merge_generation: sql`merge_generation + 1`,
        small_chunks: merged.filter((chunk) => isSmallChunk(chunk.count)).length,
      })
      .where('id', '=', metricId)
      .execute()
    return true
  })
}

/**
 * A store's series state: the index cache for chart reads, and the queue of metrics whose small chunks
 * are merged in the background, one at a time, after the ingest that piled them up has answered.
 */
export class SeriesState {
  readonly cache = new SeriesIndexCache()
  /** Decoded chunks for reads: about 40 bytes a point, so some 80 MB at most. */
  readonly decoded = new DecodedChunkCache(2_000_000)
  private readonly queue = new Set<number>()
  private running: Promise<void> | undefined
  private closed = false

  /** Reads encoded chunks for chart and raw reads: the engine's fastest way (see the dialects). */
  readonly readData: ChunkDataReader

  constructor(
    private readonly db: Kysely<StoreDatabase>,
    private readonly rowLocks: boolean,
    readData?: ChunkDataReader,
  ) {
    this.readData = readData ?? ((ids) => readChunkData(db, ids))
  }

  /** Queues metrics for a background merge. */
  schedule(metricIds: readonly number[]): void {
    if (this.closed) return
    for (const id of metricIds) this.queue.add(id)
    this.running ??= this.drain().finally(() => {
      this.running = undefined
    })
  }

  private async drain(): Promise<void> {
    // Let the ingest that scheduled this answer first.
    await new Promise((resolve) => setImmediate(resolve))
    while (!this.closed) {
      const next = this.queue.values().next()
      if (next.done === true) return
      this.queue.delete(next.value)
      try {
        await mergeMetric(this.db, next.value, this.rowLocks)
      } catch {
        // A failed merge loses nothing (its transaction rolled back); the next ingest schedules it again.
      }
    }
  }

  /** Waits for queued merges. */
  async settle(): Promise<void> {
    while (this.running !== undefined) await this.running
  }

  /** Stops merging: the running merge finishes, queued ones are left for later. */
  async close(): Promise<void> {
    this.closed = true
    await this.running
  }
}
