import { isWharfError, type MetricPoint } from '@wharf/contract'
import { findRun, type MlflowRequest } from './context.js'
import { invalidParameter } from './errors.js'
import { MLFLOW_LIMITS, optionalInteger, optionalString, requiredString, runIdOf, stringList } from './wire.js'

/** Points of one metric of a run, numeric ones only, from the first page token on; all pages unless `pageSize` is given. */
async function readPoints(
  r: MlflowRequest,
  read: { runId: string; name: string; pageSize?: number; pageToken?: string; fromStep?: number; toStep?: number },
): Promise<{ points: MetricPoint[]; nextPageToken?: string }> {
  const points: MetricPoint[] = []
  let pageToken = read.pageToken
  const pageSize = read.pageSize ?? Math.min(MLFLOW_LIMITS.historyPageMax, r.deps.config.limits.metricPageSize)
  try {
    for (;;) {
      const page = await r.deps.store.readMetricSeries({
        workspace: r.workspace,
        runId: read.runId,
        name: read.name,
        pageSize,
        ...(pageToken !== undefined && pageToken !== '' ? { pageToken } : {}),
        ...(read.fromStep !== undefined ? { fromStep: read.fromStep } : {}),
        ...(read.toStep !== undefined ? { toStep: read.toStep } : {}),
      })
      points.push(...page.items.filter((point) => point.value !== undefined))
      pageToken = page.nextPageToken
      if (pageToken === undefined) return { points }
      if (read.pageSize !== undefined) return { points, nextPageToken: pageToken }
    }
  } catch (error) {
    // MLflow answers an empty history for a key the run never logged.
    if (isWharfError(error, 'METRIC_NOT_FOUND')) return { points: [] }
    throw error
  }
}

function metricJson(key: string, point: MetricPoint): Record<string, unknown> {
  return { key, value: point.value, timestamp: point.time, step: point.step }
}

/** metrics/get-history: paged when max_results is given, the whole history otherwise. */
export async function getMetricHistory(r: MlflowRequest): Promise<unknown> {
  const run = await findRun(r, runIdOf(r.fields))
  const key = requiredString(r.fields, 'metric_key')
  const maxResults = optionalInteger(r.fields, 'max_results')
  if (maxResults !== undefined && (maxResults < 1 || maxResults > r.deps.config.limits.metricPageSize)) {
    throw invalidParameter(
      `Invalid value ${maxResults} for parameter 'max_results': use 1 to ${r.deps.config.limits.metricPageSize}`,
    )
  }
  const pageToken = optionalString(r.fields, 'page_token')
  const { points, nextPageToken } = await readPoints(r, {
    runId: run.id,
    name: key,
    ...(maxResults !== undefined ? { pageSize: maxResults } : {}),
    ...(pageToken !== undefined ? { pageToken } : {}),
  })
  return {
    ...(points.length > 0 ? { metrics: points.map((point) => metricJson(key, point)) } : {}),
    ...(nextPageToken !== undefined ? { next_page_token: nextPageToken } : {}),
  }
}

/**
 * metrics/get-history-bulk-interval: up to `max_results` steps picked evenly from the steps of all the
 * runs in the range, plus each run's first and last step, and every point of the runs at those steps.
 */
export async function getMetricHistoryBulkInterval(r: MlflowRequest): Promise<unknown> {
  const runIds = [...new Set(stringList(r.fields, 'run_ids'))]
  if (runIds.length === 0) throw invalidParameter("Missing value for required parameter 'run_ids'.")
  if (runIds.length > MLFLOW_LIMITS.bulkIntervalRuns) {
    throw invalidParameter(
      `GetMetricHistoryBulkInterval request must specify at most ${MLFLOW_LIMITS.bulkIntervalRuns} run_ids. Received ${runIds.length} run_ids.`,
    )
  }
  const key = requiredString(r.fields, 'metric_key')
  const startStep = optionalInteger(r.fields, 'start_step')
  const endStep = optionalInteger(r.fields, 'end_step')
  if ((startStep === undefined) !== (endStep === undefined)) {
    throw invalidParameter('If either start step or end step are specified, both must be specified.')
  }
  if (startStep !== undefined && endStep !== undefined && startStep > endStep) {
    throw invalidParameter('end_step must be greater than start_step.')
  }
  const maxResults = optionalInteger(r.fields, 'max_results') ?? MLFLOW_LIMITS.bulkIntervalPoints
  if (maxResults < 1 || maxResults > MLFLOW_LIMITS.bulkIntervalPoints) {
    throw invalidParameter(`max_results must be between 1 and ${MLFLOW_LIMITS.bulkIntervalPoints}.`)
  }
  const series: { runId: string; points: MetricPoint[] }[] = []
  for (const runId of runIds) {
    const run = await findRun(r, runId)
    const { points } = await readPoints(r, {
      runId: run.id,
      name: key,
      ...(startStep !== undefined ? { fromStep: Math.max(0, startStep) } : {}),
      ...(endStep !== undefined ? { toStep: Math.max(0, endStep) } : {}),
    })
    series.push({ runId: run.id, points })
  }
  const steps = [...new Set(series.flatMap((s) => s.points.map((p) => p.step)))].sort((a, b) => a - b)
  const picked = new Set<number>()
  if (steps.length <= maxResults) {
    for (const step of steps) picked.add(step)
  } else {
    for (let i = 0; i < maxResults; i++) picked.add(steps[Math.round((i * (steps.length - 1)) / Math.max(1, maxResults - 1))]!)
  }
  for (const s of series) {
    if (s.points.length === 0) continue
    picked.add(Math.min(...s.points.map((p) => p.step)))
    picked.add(Math.max(...s.points.map((p) => p.step)))
  }
  const metrics = series.flatMap((s) =>
    s.points.filter((p) => picked.has(p.step)).map((p) => ({ ...metricJson(key, p), run_id: s.runId })),
  )
  return metrics.length > 0 ? { metrics } : {}
}
