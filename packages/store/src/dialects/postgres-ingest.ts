import { sql } from 'kysely'
import type { Kysely, Transaction } from 'kysely'
import { assertWithinLimit, printable } from '@wharf/contract'
import type { IngestResult } from '@wharf/contract'
import { requireRunId } from '../entities/shared.js'
import type { IngestBatch } from '../metadata-store.js'
import { applyBatch, batchMetricNames } from '../metric-batch.js'
import type { MetricState, WriterSteps } from '../metric-batch.js'
import { toMetricState } from '../rows.js'
import type { StoreDatabase } from '../schema.js'
import { chunkBatch, metricsToMerge } from '../series/ingest-chunks.js'
import type { MetricChunks } from '../series/ingest-chunks.js'
import type { MetricIngester } from './capabilities.js'

type Trx = Transaction<StoreDatabase>

async function claimBatch(trx: Trx, batch: IngestBatch): Promise<IngestResult | undefined> {
  const { runId, writerId, sequence } = batch
  if (writerId === undefined || sequence === undefined) return undefined
  // ON CONFLICT waits for a concurrent insert of the same key to commit or roll back, so of several
  // concurrent retries exactly one claims the batch.
  const claimed = await trx
    .insertInto('writer_batches')
    .values({
      run_id: runId,
      writer_id: writerId,
      sequence,
      point_count: batch.points.length,
      created_at: new Date(batch.receivedAt).toISOString(),
    })
    .onConflict((oc) => oc.columns(['run_id', 'writer_id', 'sequence']).doNothing())
    .returning('point_count')
    .executeTakeFirst()
  if (claimed !== undefined) return undefined
  const stored = await trx
    .selectFrom('writer_batches')
    .select('point_count')
    .where('run_id', '=', runId)
    .where('writer_id', '=', writerId)
    .where('sequence', '=', sequence)
    .executeTakeFirst()
  return { accepted: stored?.point_count ?? 0, duplicate: true }
}

async function existingNames(trx: Trx, runId: string, names: string[]): Promise<Set<string>> {
  const rows = await trx
    .selectFrom('metrics')
    .select('name')
    .where('run_id', '=', runId)
    .where(sql<boolean>`name = any(${names}::text[])`)
    .execute()
  return new Set(rows.map((row) => row.name))
}

/** Creates the batch's new metric names under the run's row lock, so the per-run name limit holds. */
async function createMissingMetrics(trx: Trx, batch: IngestBatch, names: string[]): Promise<void> {
  if ((await existingNames(trx, batch.runId, names)).size === names.length) return
  // NO KEY UPDATE: it does not conflict with the key-share locks that foreign key checks take.
  await trx.selectFrom('runs').select('id').where('id', '=', batch.runId).forNoKeyUpdate().execute()
  const present = await existingNames(trx, batch.runId, names)
  const missing = names.filter((name) => !present.has(name))
  if (missing.length === 0) return
  const counted = await trx
    .selectFrom('metrics')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('run_id', '=', batch.runId)
    .executeTakeFirst()
  assertWithinLimit({ metricNamesPerRun: batch.maxMetricNames }, 'metricNamesPerRun', {
    what: `the number of metric names in run "${printable(batch.runId)}"`,
    actual: (counted?.n ?? 0) + missing.length,
  })
  await trx
    .insertInto('metrics')
    .values(
      missing.map((name) => ({
        run_id: batch.runId,
        name,
        count: 0,
        next_step: 0,
        last_step: -1,
        last_time: 0,
        has_number: 0,
        has_text: 0,
      })),
    )
    .execute()
}

async function lockMetrics(trx: Trx, runId: string, names: string[]): Promise<Map<string, MetricState>> {
  // Locked in name order, the same order every concurrent batch uses, so batches cannot deadlock.
  const rows = await trx
    .selectFrom('metrics')
    .selectAll()
    .where('run_id', '=', runId)
    .where(sql<boolean>`name = any(${names}::text[])`)
    .orderBy('name')
    .forUpdate()
    .execute()
  return new Map(rows.map((row) => [row.name, toMetricState(row)]))
}

/**
 * A float for a float8[] parameter: pg writes array items with String(), which turns -0 into "0", so
 * -0 goes as the text "-0" (PostgreSQL keeps the sign).
 */
function float8(value: number | null): number | string | null {
  return value === 0 && Object.is(value, -0) ? '-0' : value
}

/** Inserts the batch's chunks and their data in one statement (ids drawn first, to pair the two). */
async function insertChunks(trx: Trx, added: readonly MetricChunks[]): Promise<void> {
  const metricIds: number[] = []
  const minSteps: number[] = []
  const maxSteps: number[] = []
  const minTimes: number[] = []
  const maxTimes: number[] = []
  const counts: number[] = []
  const versions: number[] = []
  const summaries: Buffer[] = []
  const data: Buffer[] = []
  for (const { state, chunks } of added) {
    for (const chunk of chunks) {
      metricIds.push(state.id)
      minSteps.push(chunk.minStep)
      maxSteps.push(chunk.maxStep)
      minTimes.push(chunk.minTime)
      maxTimes.push(chunk.maxTime)
      counts.push(chunk.count)
      versions.push(state.version)
      summaries.push(Buffer.from(chunk.summary.buffer, chunk.summary.byteOffset, chunk.summary.byteLength))
      data.push(Buffer.from(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength))
    }
  }
  if (metricIds.length === 0) return
  await sql`with ids as (
      select nextval(pg_get_serial_sequence('metric_chunks', 'id')) as id, ord
      from generate_series(1, ${metricIds.length}::integer) as ord
    ), chunks as (
      insert into metric_chunks (id, metric_id, min_step, max_step, min_time, max_time, point_count, added_version, summary)
      select ids.id, u.metric_id, u.min_step, u.max_step, u.min_time, u.max_time, u.point_count, u.added_version, u.summary
      from unnest(${metricIds}::bigint[], ${minSteps}::bigint[], ${maxSteps}::bigint[], ${minTimes}::float8[],
        ${maxTimes}::float8[], ${counts}::integer[], ${versions}::bigint[], ${summaries}::bytea[])
        with ordinality as u(metric_id, min_step, max_step, min_time, max_time, point_count, added_version, summary, ord)
      join ids using (ord)
    )
    insert into metric_chunk_data (chunk_id, data)
    select ids.id, d.data from unnest(${data}::bytea[]) with ordinality as d(data, ord) join ids using (ord)`.execute(trx)
}

async function loadWriterSteps(trx: Trx, writerId: string, states: Map<string, MetricState>): Promise<WriterSteps> {
  const byId = new Map([...states.values()].map((state) => [state.id, state.name]))
  const rows = await trx
    .selectFrom('metric_writer_steps')
    .select(['metric_id', 'next_step'])
    .where('writer_id', '=', writerId)
    .where(sql<boolean>`metric_id = any(${[...byId.keys()]}::bigint[])`)
    .execute()
  const steps: WriterSteps = new Map()
  for (const row of rows) {
    const name = byId.get(Number(row.metric_id))
    if (name !== undefined) steps.set(name, Number(row.next_step))
  }
  return steps
}

async function saveWriterSteps(trx: Trx, writerId: string, steps: WriterSteps, states: Map<string, MetricState>): Promise<void> {
  const ids: number[] = []
  const next: number[] = []
  for (const [name, step] of steps) {
    const state = states.get(name)
    if (state === undefined) continue
    ids.push(state.id)
    next.push(step)
  }
  if (ids.length === 0) return
  await sql`insert into metric_writer_steps (metric_id, writer_id, next_step)
    select u.metric_id, ${writerId}, u.next_step from unnest(${ids}::bigint[], ${next}::bigint[]) as u(metric_id, next_step)
    on conflict (metric_id, writer_id) do update set next_step = excluded.next_step`.execute(trx)
}

async function saveSummaries(trx: Trx, states: Iterable<MetricState>): Promise<void> {
  const list = [...states]
  const column = <T>(pick: (s: MetricState) => T): T[] => list.map(pick)
  await sql`update metrics as m set
      "count" = u.count, next_step = u.next_step, last_step = u.last_step, last_time = u.last_time,
      last_value = u.last_value, last_text = u.last_text, min_value = u.min_value, max_value = u.max_value,
      has_number = u.has_number, has_text = u.has_text, next_seq = u.next_seq, version = u.version,
      small_chunks = u.small_chunks
    from unnest(
      ${column((s) => s.id)}::bigint[], ${column((s) => s.count)}::bigint[], ${column((s) => s.nextStep)}::bigint[],
      ${column((s) => s.lastStep)}::bigint[], ${column((s) => s.lastTime)}::float8[],
      ${column((s) => float8(s.lastValue))}::float8[], ${column((s) => s.lastText)}::text[],
      ${column((s) => float8(s.min))}::float8[], ${column((s) => float8(s.max))}::float8[],
      ${column((s) => (s.hasNumber ? 1 : 0))}::integer[], ${column((s) => (s.hasText ? 1 : 0))}::integer[],
      ${column((s) => s.nextSeq)}::bigint[], ${column((s) => s.version)}::bigint[], ${column((s) => s.smallChunks)}::bigint[]
    ) as u(id, count, next_step, last_step, last_time, last_value, last_text, min_value, max_value,
      has_number, has_text, next_seq, version, small_chunks)
    where m.id = u.id`.execute(trx)
}

/**
 * The PostgreSQL ingest path: one transaction with a claimed writer batch, the batch's metric rows locked
 * in name order (so replicas writing one run agree on steps and summaries), one multi-row insert of the
 * chunks (one per metric, with their data) and one update of the summaries.
 */
export function createPostgresIngester(db: Kysely<StoreDatabase>): MetricIngester {
  return (batch) =>
    db.transaction().execute(async (trx) => {
      await requireRunId(trx, batch)
      const duplicate = await claimBatch(trx, batch)
      if (duplicate !== undefined) return { result: duplicate, merge: [] }
      if (batch.points.length === 0) return { result: { accepted: 0, duplicate: false }, merge: [] }

      const names = batchMetricNames(batch.points)
      await createMissingMetrics(trx, batch, names)
      const states = await lockMetrics(trx, batch.runId, names)
      const { writerId } = batch
      const writerSteps = writerId === undefined ? undefined : await loadWriterSteps(trx, writerId, states)
      const rows = applyBatch(batch.points, batch.receivedAt, states, writerSteps)
      const added = chunkBatch(rows, states)
      await insertChunks(trx, added)
      if (writerId !== undefined && writerSteps !== undefined) await saveWriterSteps(trx, writerId, writerSteps, states)
      await saveSummaries(trx, states.values())
      return { result: { accepted: rows.length, duplicate: false }, merge: metricsToMerge(added) }
    })
}
