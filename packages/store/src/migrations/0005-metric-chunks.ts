import { sql } from 'kysely'
import type { Kysely, Migration } from 'kysely'
import type { SchemaTypes } from '../dialects/capabilities.js'
import { encodeChunks, isSmallChunk, CHUNK_POINTS } from '../series/chunks.js'
import type { EncodedChunk, SeriesPoint } from '../series/chunks.js'

/** Points read per query while moving a metric's rows into chunks. */
const PAGE = 50_000

interface PointRow {
  id: number | string
  step: number | string
  time: number
  value: number | null
  text: string | null
}

/**
 * Metric points move from one row each into chunks (see `series/`): `metric_chunks` with summaries,
 * `metric_chunk_data` with the encoded points, and `metric_writer_steps` for per-writer step counters.
 * Every stored point is moved with its step, time and value; its row id becomes its arrival sequence,
 * so points of equal step keep their order. The `metric_points` table is dropped at the end.
 */
export function createMetricChunksMigration(types: SchemaTypes): Migration {
  const { idType, neverReusedIdColumn, keyText, bytesType } = types
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      for (const column of ['next_seq', 'version', 'merge_generation', 'small_chunks']) {
        await db.schema
          .alterTable('metrics')
          .addColumn(column, 'bigint', (c) => c.notNull().defaultTo(0))
          .execute()
      }
      await db.schema
        .createTable('metric_chunks')
        // Chunk ids are never reused: decoded chunks are cached by id (a chunk's points never change).
        .addColumn('id', idType, neverReusedIdColumn)
        .addColumn('metric_id', 'bigint', (c) => c.notNull())
        .addColumn('min_step', 'bigint', (c) => c.notNull())
        .addColumn('max_step', 'bigint', (c) => c.notNull())
        .addColumn('min_time', 'double precision', (c) => c.notNull())
        .addColumn('max_time', 'double precision', (c) => c.notNull())
        .addColumn('point_count', 'integer', (c) => c.notNull())
        .addColumn('added_version', 'bigint', (c) => c.notNull())
        .addColumn('summary', bytesType, (c) => c.notNull())
        .execute()
      await db.schema.createIndex('metric_chunks_by_step').on('metric_chunks').columns(['metric_id', 'min_step']).execute()
      // A cached series index is brought up to date with the chunks added after its version.
      await db.schema
        .createIndex('metric_chunks_by_version')
        .on('metric_chunks')
        .columns(['metric_id', 'added_version'])
        .execute()
      await db.schema
        .createTable('metric_chunk_data')
        // idType: on SQLite the primary key is then the rowid itself, with no second index.
        .addColumn('chunk_id', idType, (c) => c.primaryKey())
        .addColumn('data', bytesType, (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('metric_writer_steps')
        .addColumn('metric_id', 'bigint', (c) => c.notNull())
        .addColumn('writer_id', keyText, (c) => c.notNull())
        .addColumn('next_step', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('metric_writer_steps_pk', ['metric_id', 'writer_id'])
        .execute()

      const metrics = await sql<{ id: number | string }>`select id from metrics order by id`.execute(db)
      for (const { id } of metrics.rows) await moveMetric(db, Number(id))
      await db.schema.dropTable('metric_points').execute()
    },
  }
}

async function moveMetric(db: Kysely<unknown>, metricId: number): Promise<void> {
  let pending: SeriesPoint[] = []
  let smallChunks = 0
  let maxSeq = -1
  let after: { step: number; id: number } | undefined
  const store = async (chunks: EncodedChunk[]): Promise<void> => {
    for (const chunk of chunks) {
      if (isSmallChunk(chunk.count)) smallChunks++
      await insertChunk(db, metricId, chunk)
    }
  }
  for (;;) {
    const page = await sql<PointRow>`select id, step, "time", "value", "text" from metric_points
      where metric_id = ${metricId}
        ${after === undefined ? sql`` : sql`and step >= ${after.step} and (step > ${after.step} or (step = ${after.step} and id > ${after.id}))`}
      order by step, id limit ${PAGE}`.execute(db)
    for (const row of page.rows) {
      const seq = Number(row.id)
      if (seq > maxSeq) maxSeq = seq
      pending.push({
        step: Number(row.step),
        seq,
        time: Number(row.time),
        value: row.text !== null || row.value === null ? Number.NaN : Number(row.value),
        text: row.text,
      })
    }
    const last = page.rows.at(-1)
    if (last === undefined) break
    after = { step: Number(last.step), id: Number(last.id) }
    // Full chunks go now; the rest waits for the next page (points arrive in read order).
    const full = pending.length - (pending.length % CHUNK_POINTS)
    await store(encodeChunks(pending.slice(0, full)))
    pending = pending.slice(full)
    if (page.rows.length < PAGE) break
  }
  await store(encodeChunks(pending))
  await sql`update metrics set next_seq = ${maxSeq + 1}, version = 1, small_chunks = ${smallChunks}
    where id = ${metricId}`.execute(db)
}

async function insertChunk(db: Kysely<unknown>, metricId: number, chunk: EncodedChunk): Promise<void> {
  const inserted = await sql<{ id: number | string }>`insert into metric_chunks
      (metric_id, min_step, max_step, min_time, max_time, point_count, added_version, summary)
    values (${metricId}, ${chunk.minStep}, ${chunk.maxStep}, ${chunk.minTime}, ${chunk.maxTime}, ${chunk.count}, 1,
      ${chunk.summary})
    returning id`.execute(db)
  const id = inserted.rows[0]?.id
  if (id === undefined) throw new Error('a migrated chunk got no id')
  await sql`insert into metric_chunk_data (chunk_id, data) values (${Number(id)}, ${chunk.data})`.execute(db)
}
