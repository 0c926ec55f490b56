import type { Hono } from 'hono'
import {
  MetricBucketsQuerySchema,
  MetricSeriesQuerySchema,
  ROUTES,
  WharfError,
  assertMetricName,
  assertWithinLimit,
  parseMetricBatch,
} from '@wharf/contract'
import type { AppDeps } from '../deps.js'
import { jsonKeepingSign, parseJsonBytes, readBodyBytes, readQuery, workspaceParam, type AppEnv } from '../http.js'
import { pageSizeOf } from './paging.js'
import { runIdParam } from './runs.js'

/** Metric ingest (the logging hot path), summaries, raw series and downsampled buckets. */
export function mountMetricRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { store, config } = deps
  const { limits } = config

  app.post(ROUTES.logMetrics.path, async (c) => {
    const workspace = workspaceParam(c)
    const runId = runIdParam(c)
    const type = c.req.header('content-type') ?? ''
    if (!/^application\/json\b/i.test(type)) {
      throw new WharfError('UNSUPPORTED_MEDIA_TYPE', 'send metric batches as JSON with Content-Type: application/json')
    }
    const batch = parseMetricBatch(parseJsonBytes(await readBodyBytes(c, limits.jsonBodyBytes)), limits)
    // The answer goes out only after the store has committed the batch: an acknowledged point is durable.
    const result = await store.ingestMetrics({
      workspace,
      runId,
      ...(batch.writerId !== undefined ? { writerId: batch.writerId, sequence: batch.sequence } : {}),
      points: batch.points,
      receivedAt: Date.now(),
      maxMetricNames: limits.metricNamesPerRun,
    })
    return c.json(result)
  })

  app.get(ROUTES.listMetrics.path, async (c) =>
    jsonKeepingSign(c, { items: await store.listMetrics({ workspace: workspaceParam(c), runId: runIdParam(c) }) }),
  )

  app.get(ROUTES.getMetricSeries.path, async (c) => {
    const workspace = workspaceParam(c)
    const runId = runIdParam(c)
    const query = readQuery(c, MetricSeriesQuerySchema)
    assertMetricName(query.name, limits)
    assertRange(query.fromStep, query.toStep)
    return jsonKeepingSign(
      c,
      await store.readMetricSeries({
        workspace,
        runId,
        name: query.name,
        fromStep: query.fromStep,
        toStep: query.toStep,
        pageSize: pageSizeOf(query, limits),
        pageToken: query.pageToken,
      }),
    )
  })

  app.get(ROUTES.getMetricBuckets.path, async (c) => {
    const workspace = workspaceParam(c)
    const runId = runIdParam(c)
    const query = readQuery(c, MetricBucketsQuerySchema)
    assertMetricName(query.name, limits)
    assertRange(query.fromStep, query.toStep)
    const buckets = query.buckets ?? 1000
    assertWithinLimit(limits, 'buckets', { what: 'buckets', actual: buckets })
    return jsonKeepingSign(
      c,
      await store.readMetricBuckets({
        workspace,
        runId,
        name: query.name,
        fromStep: query.fromStep,
        toStep: query.toStep,
        buckets,
      }),
    )
  })
}

function assertRange(fromStep: number | undefined, toStep: number | undefined): void {
  if (fromStep !== undefined && toStep !== undefined && fromStep > toStep) {
    throw new WharfError('INVALID_ARGUMENT', `fromStep (${fromStep}) is after toStep (${toStep}); swap them`, {
      details: { field: 'fromStep' },
    })
  }
}
