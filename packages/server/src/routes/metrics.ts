import { MSGPACK_MEDIA_TYPE, ROUTES, WharfError, assertMetricName, assertWithinLimit, encodeSeriesColumns } from '@wharf/contract'
import type { AppDeps } from '../deps.js'
import type { BindRoute } from '../route.js'

/** Metric ingest (the logging hot path), summaries, raw series and downsampled buckets. */
export function mountMetricRoutes(route: BindRoute, deps: AppDeps): void {
  const { store, config } = deps
  const { limits } = config

  // The body comes read by the route's fast parser (`bodyParser` in ROUTES), with the server's limits.
  route(ROUTES.logMetrics, async ({ params: { workspace, runId }, body: batch }) =>
    // The answer goes out only after the store has committed the batch: an acknowledged point is durable.
    store.ingestMetrics({
      workspace,
      runId,
      ...(batch.writerId !== undefined ? { writerId: batch.writerId, sequence: batch.sequence } : {}),
      points: batch.points,
      receivedAt: Date.now(),
      maxMetricNames: limits.metricNamesPerRun,
    }),
  )

  route(ROUTES.listMetrics, async ({ params: { workspace, runId } }) => ({
    items: await store.listMetrics({ workspace, runId }),
  }))

  route(ROUTES.getMetricSeries, async ({ params: { workspace, runId }, query }) => {
    const { name, fromStep, toStep } = checkedStepRange(query, limits)
    const read = {
      workspace,
      runId,
      name,
      fromStep,
      toStep,
      pageSize: metricPageSizeOf(query, limits),
      pageToken: query.pageToken,
    }
    if (query.format !== 'msgpack') return store.readMetricSeries(read)
    const body = encodeSeriesColumns(await store.readMetricColumns(read))
    return new Response(body, { headers: { 'content-type': MSGPACK_MEDIA_TYPE } })
  })

  route(ROUTES.getMetricBuckets, async ({ params: { workspace, runId }, query }) => {
    const { name, fromStep, toStep, fromTime, toTime } = checkedStepRange(query, limits)
    const axis = query.axis ?? 'step'
    if (axis === 'step' && (fromTime !== undefined || toTime !== undefined)) {
      throw new WharfError('INVALID_ARGUMENT', 'fromTime and toTime apply to the time axis; add axis=time', {
        details: { field: fromTime !== undefined ? 'fromTime' : 'toTime' },
      })
    }
    if (fromTime !== undefined && toTime !== undefined && fromTime > toTime) {
      throw new WharfError('INVALID_ARGUMENT', `fromTime (${fromTime}) is after toTime (${toTime}); swap them`, {
        details: { field: 'fromTime' },
      })
    }
    const buckets = query.buckets ?? 1000
    assertWithinLimit(limits, 'buckets', { what: 'buckets', actual: buckets })
    return store.readMetricBuckets({ workspace, runId, name, axis, fromStep, toStep, fromTime, toTime, buckets })
  })
}

/** The page size of a raw series read: 1,000 unless asked, capped by the `metricPageSize` limit. */
function metricPageSizeOf(query: { pageSize?: number | undefined }, limits: AppDeps['config']['limits']): number {
  const size = query.pageSize ?? Math.min(1000, limits.metricPageSize)
  assertWithinLimit(limits, 'metricPageSize', { what: 'pageSize', actual: size })
  return size
}

/** The metric name and step range of a read, checked: a usable name, and `fromStep` not after `toStep`. */
function checkedStepRange<Q extends { name: string; fromStep?: number | undefined; toStep?: number | undefined }>(
  query: Q,
  limits: AppDeps['config']['limits'],
): Q {
  assertMetricName(query.name, limits)
  const { fromStep, toStep } = query
  if (fromStep !== undefined && toStep !== undefined && fromStep > toStep) {
    throw new WharfError('INVALID_ARGUMENT', `fromStep (${fromStep}) is after toStep (${toStep}); swap them`, {
      details: { field: 'fromStep' },
    })
  }
  return query
}
