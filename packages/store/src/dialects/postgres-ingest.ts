import { sql } from 'kysely'
import type { Kysely, RawBuilder, Selectable, Transaction } from 'kysely'
import { assertWithinLimit, printable } from '@wharf/contract'
import type { IngestResult } from '@wharf/contract'
import { runNotFound } from '../errors.js'
import type { IngestBatch } from '../metadata-store.js'
import { applyBatch, batchMetricNames } from '../metric-batch.js'
import type { MetricState, WriterSteps } from '../metric-batch.js'
import { toMetricState } from '../rows.js'
import type { MetricsTable, StoreDatabase } from '../schema.js'
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

/**
 * Finds the batch's run and locks its row for the transaction: batches of one run then take their
 * metric locks one after another, and new metric names are counted against the run's limit safely.
 * NO KEY UPDATE does not conflict with the key-share locks that foreign key checks take.
 */
async function lockRun(trx: Trx, batch: IngestBatch): Promise<void> {
  const row = await trx
    .selectFrom('runs')
    .select('id')
    .where('id', '=', batch.runId)
    .where('workspace', '=', batch.workspace)
    .forNoKeyUpdate()
    .executeTakeFirst()
  if (row === undefined) throw runNotFound(batch.workspace, batch.runId)
}

/** Creates the batch's new metric names (the run's row is locked), within the per-run name limit. */
async function createMetrics(trx: Trx, batch: IngestBatch, missing: string[]): Promise<void> {
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

/** The batch's metrics, locked, and the batch writer's step counters of them. */
interface Locked {
  states: Map<string, MetricState>
  writerSteps: WriterSteps | undefined
}

async function lockMetrics(trx: Trx, batch: IngestBatch, names: string[]): Promise<Locked> {
  // Locked in name order, the same order every concurrent batch uses, so batches cannot deadlock.
  const { rows } = await sql<Selectable<MetricsTable> & { writer_next_step: number | null }>`
    select m.*, ws.next_step as writer_next_step from metrics m
      left join metric_writer_steps ws on ws.metric_id = m.id and ws.writer_id = ${batch.writerId ?? ''}
    where m.run_id = ${batch.runId} and m.name = any(${names}::text[])
    order by m.name
    for update of m`.execute(trx)
  const writerSteps: WriterSteps | undefined = batch.writerId === undefined ? undefined : new Map()
  const states = new Map<string, MetricState>()
  for (const row of rows) {
    states.set(row.name, toMetricState(row))
    if (writerSteps !== undefined && row.writer_next_step !== null) writerSteps.set(row.name, Number(row.writer_next_step))
  }
  return { states, writerSteps }
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

/** A CTE that saves the writer's step counters, run by the statement that saves the summaries. */
function writerStepsCte(
  writerId: string | undefined,
  steps: WriterSteps | undefined,
  states: Map<string, MetricState>,
): RawBuilder<unknown> {
  if (writerId === undefined || steps === undefined || steps.size === 0) return sql``
  const ids: number[] = []
  const next: number[] = []
  for (const [name, step] of steps) {
    const state = states.get(name)
    if (state === undefined) continue
    ids.push(state.id)
    next.push(step)
  }
  return sql`with saved_writer_steps as (
      insert into metric_writer_steps (metric_id, writer_id, next_step)
      select u.metric_id, ${writerId}, u.next_step from unnest(${ids}::bigint[], ${next}::bigint[]) as u(metric_id, next_step)
      on conflict (metric_id, writer_id) do update set next_step = excluded.next_step
    ) `
}

async function saveSummaries(trx: Trx, states: Iterable<MetricState>, before: RawBuilder<unknown>): Promise<void> {
  const list = [...states]
  const column = <T>(pick: (s: MetricState) => T): T[] => list.map(pick)
  await sql`${before}update metrics as m set
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
 * The PostgreSQL ingest path: one transaction with the run locked, a claimed writer batch, the batch's metric rows locked
 * in name order (so replicas writing one run agree on steps and summaries), one multi-row insert of the
 * chunks (one per metric, with their data) and one update of the summaries.
 */
export function createPostgresIngester(db: Kysely<StoreDatabase>): MetricIngester {
  return (batch) =>
    db.transaction().execute(async (trx) => {
      await lockRun(trx, batch)
      const duplicate = await claimBatch(trx, batch)
      if (duplicate !== undefined) return { result: duplicate, merge: [] }
      if (batch.points.length === 0) return { result: { accepted: 0, duplicate: false }, merge: [] }

      const names = batchMetricNames(batch.points)
      let locked = await lockMetrics(trx, batch, names)
      if (locked.states.size < names.length) {
        await createMetrics(
          trx,
          batch,
          names.filter((name) => !locked.states.has(name)),
        )
        locked = await lockMetrics(trx, batch, names)
      }
      const { states, writerSteps } = locked
      const rows = applyBatch(batch, states, writerSteps)
      const added = chunkBatch(rows, states)
      await insertChunks(trx, added)
      await saveSummaries(trx, states.values(), writerStepsCte(batch.writerId, writerSteps, states))
      return { result: { accepted: rows.length, duplicate: false }, merge: metricsToMerge(added) }
    })
}
