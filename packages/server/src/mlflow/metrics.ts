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

/** Visits the numeric points of one metric of a run page by page, until `visit` answers false. */
async function scanPoints(
  r: MlflowRequest,
  read: { runId: string; name: string; fromStep?: number; toStep?: number },
  visit: (points: MetricPoint[]) => boolean,
): Promise<void> {
  let pageToken: string | undefined
  const pageSize = Math.min(MLFLOW_LIMITS.historyPageMax, r.deps.config.limits.metricPageSize)
  try {
    do {
      const page = await r.deps.store.readMetricSeries({
        workspace: r.workspace,
        ...read,
        pageSize,
        ...(pageToken !== undefined ? { pageToken } : {}),
      })
      if (!visit(page.items.filter((point) => point.value !== undefined))) return
      pageToken = page.nextPageToken
    } while (pageToken !== undefined)
  } catch (error) {
    // MLflow answers an empty history for a key the run never logged.
    if (isWharfError(error, 'METRIC_NOT_FOUND')) return
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
  const asked = optionalInteger(r.fields, 'max_results')
  if (asked !== undefined && asked < 1) {
    throw invalidParameter(`Invalid value ${asked} for parameter 'max_results': use a positive number`)
  }
  // Larger pages than this server serves are clamped, not refused: the client follows next_page_token.
  const maxResults = asked === undefined ? undefined : Math.min(asked, r.deps.config.limits.metricPageSize)
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
  // Two passes over each run's pages, so no run's whole history is held as points: the first keeps only
  // the distinct steps (and each run's first and last, by loops: spreading 100k+ steps into Math.min
  // overflows the stack), the second keeps only the points at the picked steps, up to MLflow's row cap.
  const runs: { runId: string; first: number; last: number }[] = []
  const allSteps = new Set<number>()
  const range = {
    name: key,
    ...(startStep !== undefined ? { fromStep: Math.max(0, startStep) } : {}),
    ...(endStep !== undefined ? { toStep: Math.max(0, endStep) } : {}),
  }
  for (const runId of runIds) {
    const run = await findRun(r, runId)
    let first = Infinity
    let last = -Infinity
    await scanPoints(r, { runId: run.id, ...range }, (points) => {
      for (const { step } of points) {
        allSteps.add(step)
        if (step < first) first = step
        if (step > last) last = step
      }
      return true
    })
    runs.push({ runId: run.id, first, last })
  }
  const steps = [...allSteps].sort((a, b) => a - b)
  const picked = new Set<number>()
  if (steps.length <= maxResults) {
    for (const step of steps) picked.add(step)
  } else {
    for (let i = 0; i < maxResults; i++) picked.add(steps[Math.round((i * (steps.length - 1)) / Math.max(1, maxResults - 1))]!)
  }
  for (const { first, last } of runs) {
    if (first > last) continue
    picked.add(first)
    picked.add(last)
  }
  const metrics: Record<string, unknown>[] = []
  for (const { runId, first, last } of runs) {
    if (first > last || metrics.length >= MLFLOW_LIMITS.historyPageMax) continue
    await scanPoints(r, { runId, ...range }, (points) => {
      for (const point of points) {
        if (!picked.has(point.step)) continue
        if (metrics.length >= MLFLOW_LIMITS.historyPageMax) return false
        metrics.push({ ...metricJson(key, point), run_id: runId })
      }
      return true
    })
  }
  return metrics.length > 0 ? { metrics } : {}
}
