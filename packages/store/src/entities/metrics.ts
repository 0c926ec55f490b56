import { sql } from 'kysely'
import { mapPage } from '@wharf/contract'
import type { IngestResult, MetricBucket, MetricBuckets, MetricPoint, MetricSummary, Page, RunWithMetrics } from '@wharf/contract'
import type { StoreDialect } from '../dialects/capabilities.js'
import { metricNotFound, runNotFound } from '../errors.js'
import type {
  IngestBatch,
  MetricRef,
  MetricStorageStats,
  ReadBucketsOptions,
  ReadSeriesOptions,
  RunRef,
} from '../metadata-store.js'
import { toMetricSummary } from '../metric-batch.js'
import { decodeNumber, decodePoint, decodeValue } from '../metric-values.js'
import { decodePageToken, encodePageToken } from '../page-token.js'
import { toMetricState } from '../rows.js'
import { guard, requireRunId, toPage } from './shared.js'
import type { Db } from './shared.js'

/** The largest finite double: `abs(value) <= it` is a finiteness test both engines evaluate alike. */
const MAX_FINITE = Number.MAX_VALUE

interface BucketRow {
  bucket: number
  n: number
  min_value: number | null
  max_value: number | null
  non_finite: number
  first_value: number | null
  last_value: number | null
}

/** Stores one validated batch through the dialect's ingest path (see {@link MetadataStore.ingestMetrics}). */
export function ingestMetrics(ctx: StoreDialect, batch: IngestBatch): Promise<IngestResult> {
  return guard('store a metric batch', () => ctx.ingest(batch))
}

/** Summaries of every metric of a run, by name; RUN_NOT_FOUND. */
export function listMetrics(ctx: StoreDialect, run: RunRef): Promise<MetricSummary[]> {
  return guard('list the metrics of a run', async () => {
    await requireRunId(ctx.db, run)
    const rows = await ctx.db.selectFrom('metrics').selectAll().where('run_id', '=', run.runId).orderBy('name').execute()
    return rows.map((row) => toMetricSummary(toMetricState(row)))
  })
}

/** The last values of every metric of `runIds`, in one query. */
export async function lastValuesOf(db: Db, runIds: string[]): Promise<Map<string, RunWithMetrics['metrics']>> {
  const byRun = new Map<string, RunWithMetrics['metrics']>()
  if (runIds.length === 0) return byRun
  const rows = await db
    .selectFrom('metrics')
    .select(['run_id', 'name', 'count', 'last_value', 'last_text'])
    .where('run_id', 'in', runIds)
    .orderBy('run_id')
    .orderBy('name')
    .execute()
  for (const row of rows) {
    let metrics = byRun.get(row.run_id)
    if (metrics === undefined) {
      metrics = {}
      byRun.set(row.run_id, metrics)
    }
    const value = Number(row.count) === 0 ? null : decodeValue({ value: row.last_value, text: row.last_text })
    Object.defineProperty(metrics, row.name, { value, enumerable: true, writable: true, configurable: true })
  }
  return byRun
}

async function requireMetric(db: Db, metric: MetricRef): Promise<{ id: number; lastStep: number }> {
  const row = await db
    .selectFrom('runs')
    .leftJoin('metrics', (join) => join.onRef('metrics.run_id', '=', 'runs.id').on('metrics.name', '=', metric.name))
    .select(['metrics.id', 'metrics.last_step'])
    .where('runs.id', '=', metric.runId)
    .where('runs.workspace', '=', metric.workspace)
    .executeTakeFirst()
  if (row === undefined) throw runNotFound(metric.workspace, metric.runId)
  if (row.id === null || row.last_step === null) throw metricNotFound(metric.runId, metric.name)
  return { id: Number(row.id), lastStep: Number(row.last_step) }
}

/** Raw points by ascending step (ties in logging order), paged; RUN_NOT_FOUND, METRIC_NOT_FOUND. */
export function readMetricSeries(ctx: StoreDialect, options: ReadSeriesOptions): Promise<Page<MetricPoint>> {
  return guard('read a metric series', async () => {
    const metric = await requireMetric(ctx.db, options)
    const scope = `series:${options.runId}:${options.name}`
    const after =
      options.pageToken === undefined ? undefined : decodePageToken(options.pageToken, scope, { step: 'number', id: 'number' })
    const rows = await ctx.db
      .selectFrom('metric_points')
      .select(['id', 'step', 'time', 'value', 'text'])
      .where('metric_id', '=', metric.id)
      .$if(options.fromStep !== undefined, (qb) => qb.where('step', '>=', options.fromStep ?? 0))
      .$if(options.toStep !== undefined, (qb) => qb.where('step', '<=', options.toStep ?? 0))
      .$if(after !== undefined, (qb) =>
        qb.where((eb) =>
          eb.or([eb('step', '>', after?.step ?? 0), eb.and([eb('step', '=', after?.step ?? 0), eb('id', '>', after?.id ?? 0)])]),
        ),
      )
      .orderBy('step')
      .orderBy('id')
      .limit(options.pageSize + 1)
      .execute()
    const page = toPage(rows, options.pageSize, (last) =>
      encodePageToken(scope, { step: Number(last.step), id: Number(last.id) }),
    )
    return mapPage(page, (row) => decodePoint({ step: Number(row.step), time: row.time, value: row.value, text: row.text }))
  })
}

/**
 * Numeric points of one metric downsampled over [fromStep, toStep] (default: the whole series) into at
 * most `buckets` equal step ranges; empty ranges are left out. RUN_NOT_FOUND, METRIC_NOT_FOUND.
 */
export function readMetricBuckets(ctx: StoreDialect, options: ReadBucketsOptions): Promise<MetricBuckets> {
  return guard('read metric buckets', async () => {
    const metric = await requireMetric(ctx.db, options)
    const fromStep = options.fromStep ?? 0
    const toStep = options.toStep ?? Math.max(metric.lastStep, 0)
    const bucketCount = Math.max(1, Math.floor(options.buckets))
    const bucketWidth = Math.max(1, Math.ceil((toStep - fromStep + 1) / bucketCount))
    const result: MetricBuckets = { name: options.name, axis: 'step', fromStep, toStep, bucketWidth, buckets: [] }
    if (toStep < fromStep) return result
    // One pass groups the range into buckets; first/last then come from the (metric_id, step) index,
    // one lookup per bucket, with ties at a step broken by logging order.
    const { rows } = await sql<BucketRow>`
      with agg as (
        select cast((step - cast(${fromStep} as bigint)) / cast(${bucketWidth} as bigint) as bigint) as bucket,
          count(*) as n,
          min(case when abs("value") <= ${MAX_FINITE} then "value" end) as min_value,
          max(case when abs("value") <= ${MAX_FINITE} then "value" end) as max_value,
          count(*) - count(case when abs("value") <= ${MAX_FINITE} then 1 end) as non_finite,
          min(step) as first_step,
          max(step) as last_step
        from metric_points
        where metric_id = ${metric.id} and step >= ${fromStep} and step <= ${toStep} and "text" is null
        group by 1
      )
      select bucket, n, min_value, max_value, non_finite,
        (select p."value" from metric_points p
          where p.metric_id = ${metric.id} and p.step = agg.first_step and p."text" is null
          order by p.id asc limit 1) as first_value,
        (select p."value" from metric_points p
          where p.metric_id = ${metric.id} and p.step = agg.last_step and p."text" is null
          order by p.id desc limit 1) as last_value
      from agg
      order by bucket`.execute(ctx.db)
    result.buckets = rows.map((row): MetricBucket => {
      const bucket = Number(row.bucket)
      const start = fromStep + bucket * bucketWidth
      return {
        fromStep: start,
        toStep: Math.min(toStep, start + bucketWidth - 1),
        count: Number(row.n),
        min: row.min_value,
        max: row.max_value,
        first: decodeNumber(row.first_value),
        last: decodeNumber(row.last_value),
        nonFinite: Number(row.non_finite),
      }
    })
    return result
  })
}

/** Merges small chunks (see {@link MetadataStore.compactMetrics}). */
export function compactMetrics(_ctx: StoreDialect, _options?: { workspace: string; runId: string }): Promise<number> {
  return Promise.reject(new Error('the chunked series engine is being built'))
}

/** How one metric is stored (see {@link MetadataStore.metricStorage}). */
export function metricStorage(_ctx: StoreDialect, _metric: MetricRef): Promise<MetricStorageStats> {
  return Promise.reject(new Error('the chunked series engine is being built'))
}
