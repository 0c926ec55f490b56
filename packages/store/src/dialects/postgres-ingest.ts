import { sql } from 'kysely'
import type { Kysely, Transaction } from 'kysely'
import { assertWithinLimit, printable } from '@wharf/contract'
import type { IngestResult } from '@wharf/contract'
import { requireRunId } from '../entities/shared.js'
import type { IngestBatch } from '../metadata-store.js'
import { applyBatch, batchMetricNames } from '../metric-batch.js'
import type { MetricState, PointRow } from '../metric-batch.js'
import { toMetricState } from '../rows.js'
import type { StoreDatabase } from '../schema.js'
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

async function insertPoints(trx: Trx, rows: PointRow[]): Promise<void> {
  const n = rows.length
  const metricIds = new Array<number>(n)
  const steps = new Array<number>(n)
  const times = new Array<number>(n)
  const values = new Array<number | string | null>(n)
  const texts = new Array<string | null>(n)
  for (let i = 0; i < n; i++) {
    const row = rows[i] as PointRow
    metricIds[i] = row.metricId
    steps[i] = row.step
    times[i] = row.time
    values[i] = float8(row.value)
    texts[i] = row.text
  }
  await sql`insert into metric_points (metric_id, step, "time", "value", "text")
    select * from unnest(
      ${metricIds}::bigint[], ${steps}::bigint[], ${times}::float8[], ${values}::float8[], ${texts}::text[]
    )`.execute(trx)
}

async function saveSummaries(trx: Trx, states: Iterable<MetricState>): Promise<void> {
  const list = [...states]
  const column = <T>(pick: (s: MetricState) => T): T[] => list.map(pick)
  await sql`update metrics as m set
      "count" = u.count, next_step = u.next_step, last_step = u.last_step, last_time = u.last_time,
      last_value = u.last_value, last_text = u.last_text, min_value = u.min_value, max_value = u.max_value,
      has_number = u.has_number, has_text = u.has_text
    from unnest(
      ${column((s) => s.id)}::bigint[], ${column((s) => s.count)}::bigint[], ${column((s) => s.nextStep)}::bigint[],
      ${column((s) => s.lastStep)}::bigint[], ${column((s) => s.lastTime)}::float8[],
      ${column((s) => float8(s.lastValue))}::float8[], ${column((s) => s.lastText)}::text[],
      ${column((s) => float8(s.min))}::float8[], ${column((s) => float8(s.max))}::float8[],
      ${column((s) => (s.hasNumber ? 1 : 0))}::integer[], ${column((s) => (s.hasText ? 1 : 0))}::integer[]
    ) as u(id, count, next_step, last_step, last_time, last_value, last_text, min_value, max_value,
      has_number, has_text)
    where m.id = u.id`.execute(trx)
}

/**
 * The PostgreSQL ingest path: one transaction with a claimed writer batch, the batch's metric rows locked
 * in name order (so replicas writing one run agree on steps and summaries), one multi-row insert of the
 * points and one update of the summaries.
 */
export function createPostgresIngester(db: Kysely<StoreDatabase>): MetricIngester {
  return (batch) =>
    db.transaction().execute(async (trx) => {
      await requireRunId(trx, batch)
      const duplicate = await claimBatch(trx, batch)
      if (duplicate !== undefined) return duplicate
      if (batch.points.length === 0) return { accepted: 0, duplicate: false }

      const names = batchMetricNames(batch.points)
      await createMissingMetrics(trx, batch, names)
      const states = await lockMetrics(trx, batch.runId, names)
      const rows = applyBatch(batch.points, batch.receivedAt, states)
      await insertPoints(trx, rows)
      await saveSummaries(trx, states.values())
      return { accepted: rows.length, duplicate: false }
    })
}
