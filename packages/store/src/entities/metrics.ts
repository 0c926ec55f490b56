import { sql } from 'kysely'
import type {
  IngestResult,
  MetricBuckets,
  MetricColumnsPage,
  MetricPoint,
  MetricSummary,
  Page,
  RunWithMetrics,
} from '@wharf/contract'
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
import { decodePoint, decodeValue } from '../metric-values.js'
import { decodePageToken, encodePageToken } from '../page-token.js'
import { toMetricState } from '../rows.js'
import { SMALL_CHUNK_POINTS } from '../series/chunks.js'
import { mergeMetric } from '../series/merge.js'
import { readBuckets, readPage } from '../series/reads.js'
import type { MetricHead } from '../series/reads.js'
import { guard, requireRunId } from './shared.js'
import type { Db } from './shared.js'

/** Stores one validated batch through the dialect's ingest path (see {@link MetadataStore.ingestMetrics}). */
export function ingestMetrics(ctx: StoreDialect, batch: IngestBatch): Promise<IngestResult> {
  return guard('store a metric batch', async () => {
    const { result, merge } = await ctx.ingest(batch)
    if (merge.length > 0) ctx.series.schedule(merge)
    return result
  })
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

async function requireMetric(db: Db, metric: MetricRef): Promise<MetricHead> {
  const row = await db
    .selectFrom('runs')
    .leftJoin('metrics', (join) => join.onRef('metrics.run_id', '=', 'runs.id').on('metrics.name', '=', metric.name))
    .select(['metrics.id', 'metrics.last_step', 'metrics.version', 'metrics.merge_generation'])
    .where('runs.id', '=', metric.runId)
    .where('runs.workspace', '=', metric.workspace)
    .executeTakeFirst()
  if (row === undefined) throw runNotFound(metric.workspace, metric.runId)
  if (row.id === null || row.last_step === null || row.version === null || row.merge_generation === null) {
    throw metricNotFound(metric.runId, metric.name)
  }
  return {
    id: Number(row.id),
    lastStep: Number(row.last_step),
    version: Number(row.version),
    mergeGeneration: Number(row.merge_generation),
  }
}

/** Raw points in read order, in columns, paged; RUN_NOT_FOUND, METRIC_NOT_FOUND. */
export function readMetricColumns(ctx: StoreDialect, options: ReadSeriesOptions): Promise<MetricColumnsPage> {
  return guard('read a metric series', async () => {
    const scope = `series:${options.runId}:${options.name}`
    const after =
      options.pageToken === undefined ? undefined : decodePageToken(options.pageToken, scope, { step: 'number', seq: 'number' })
    const read = await readPage(
      { db: ctx.db, series: ctx.series, head: () => requireMetric(ctx.db, options) },
      {
        fromStep: options.fromStep ?? 0,
        toStep: options.toStep ?? Number.MAX_SAFE_INTEGER,
        after,
        limit: options.pageSize + 1,
      },
    )
    const n = Math.min(read.length, options.pageSize)
    const page: MetricColumnsPage = {
      steps: read.steps.subarray(0, n),
      times: read.times.subarray(0, n),
      values: read.values.subarray(0, n),
      texts: read.texts === null ? null : read.texts.slice(0, n),
    }
    if (read.length > options.pageSize && n > 0) {
      page.nextPageToken = encodePageToken(scope, { step: read.steps[n - 1] as number, seq: read.seqs[n - 1] as number })
    }
    return page
  })
}

/** Raw points by ascending step (ties in logging order), paged; RUN_NOT_FOUND, METRIC_NOT_FOUND. */
export async function readMetricSeries(ctx: StoreDialect, options: ReadSeriesOptions): Promise<Page<MetricPoint>> {
  const page = await readMetricColumns(ctx, options)
  const { steps, times, values, texts } = page
  const items = new Array<MetricPoint>(steps.length)
  for (let i = 0; i < steps.length; i++) {
    const value = values[i] as number
    items[i] = decodePoint({
      step: steps[i] as number,
      time: times[i] as number,
      value: Number.isNaN(value) ? null : value,
      text: texts?.[i] ?? null,
    })
  }
  return page.nextPageToken === undefined ? { items } : { items, nextPageToken: page.nextPageToken }
}

/**
 * Numeric points of one metric downsampled over a step or time range into at most `buckets` equal
 * ranges; empty ranges are left out. RUN_NOT_FOUND, METRIC_NOT_FOUND.
 */
export function readMetricBuckets(ctx: StoreDialect, options: ReadBucketsOptions): Promise<MetricBuckets> {
  return guard('read metric buckets', () =>
    readBuckets(
      { db: ctx.db, series: ctx.series, head: () => requireMetric(ctx.db, options) },
      {
        name: options.name,
        axis: options.axis ?? 'step',
        fromStep: options.fromStep,
        toStep: options.toStep,
        fromTime: options.fromTime,
        toTime: options.toTime,
        buckets: options.buckets,
      },
    ),
  )
}

/** Merges small chunks (see {@link MetadataStore.compactMetrics}). */
export function compactMetrics(ctx: StoreDialect, options?: { workspace: string; runId: string }): Promise<number> {
  return guard('merge metric chunks', async () => {
    if (options !== undefined) await requireRunId(ctx.db, options)
    await ctx.series.settle()
    const rows = await ctx.db
      .selectFrom('metrics')
      .select('id')
      .where('small_chunks', '>', 1)
      .$if(options !== undefined, (qb) => qb.where('run_id', '=', options?.runId ?? ''))
      .execute()
    let merged = 0
    for (const row of rows) {
      if (await mergeMetric(ctx.db, Number(row.id), ctx.capabilities.rowLocks)) merged++
    }
    return merged
  })
}

/** How one metric is stored (see {@link MetadataStore.metricStorage}). */
export function metricStorage(ctx: StoreDialect, metric: MetricRef): Promise<MetricStorageStats> {
  return guard('describe how a metric is stored', async () => {
    const { id } = await requireMetric(ctx.db, metric)
    const row = await ctx.db
      .selectFrom('metric_chunks')
      .innerJoin('metric_chunk_data', 'metric_chunk_data.chunk_id', 'metric_chunks.id')
      .select((eb) => [
        eb.fn.countAll<number>().as('chunks'),
        eb.fn.sum<number>('metric_chunks.point_count').as('points'),
        eb.fn.sum<number>(sql`length(metric_chunk_data.data)`).as('bytes'),
        eb.fn.sum<number>(sql`case when metric_chunks.point_count < ${SMALL_CHUNK_POINTS} then 1 else 0 end`).as('small'),
      ])
      .where('metric_chunks.metric_id', '=', id)
      .executeTakeFirst()
    return {
      chunks: Number(row?.chunks ?? 0),
      smallChunks: Number(row?.small ?? 0),
      points: Number(row?.points ?? 0),
      bytes: Number(row?.bytes ?? 0),
    }
  })
}
