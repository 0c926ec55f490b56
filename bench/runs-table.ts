import http from 'node:http'
import path from 'node:path'
import type { Page, RunWithMetrics } from '@wharf/contract'
import { median, startServerProcess, tempDir, type Bench } from './harness.js'
import { post } from './ingest.js'
import { createRun, getJson, measured, ms, percentile, seededRandom } from './metrics-support.js'

const RUNS = Number(process.env.WHARF_BENCH_TABLE_RUNS ?? 1000)
const ROUNDS = Number(process.env.WHARF_BENCH_TABLE_ROUNDS ?? 50)
const METRICS = 20
const POINTS_PER_METRIC = 5
const PAGE_SIZE = 100
const EXPERIMENT = 'bench-runs-table'
const SORT_METRIC = 'metric_07'
const TARGET = 'p50<=50ms'
const CONCURRENCY = 8

const metricNames = Array.from({ length: METRICS }, (_, m) => `metric_${String(m).padStart(2, '0')}`)

/** Creates the experiment's runs, each with a few points of every metric, CONCURRENCY requests at a time. */
async function fillExperiment(url: string, agent: http.Agent): Promise<void> {
  const random = seededRandom(31)
  let next = 0
  const filler = async (): Promise<void> => {
    while (next < RUNS) {
      const index = next++
      const runId = await createRun(url, { experiment: EXPERIMENT, displayName: `run ${index}` })
      const series = metricNames.map((name) => ({
        name,
        values: Array.from({ length: POINTS_PER_METRIC }, () => Math.fround(random() * 100)),
      }))
      await post(agent, new URL(`${url}/api/v1/workspaces/default/runs/${runId}/metrics`), JSON.stringify({ series }))
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, filler))
}

/** Fails unless the page is sorted by the metric's last value, highest first, continuing from `after`. */
function assertSorted(items: RunWithMetrics[], after: number): number {
  let previous = after
  for (const run of items) {
    const value = run.metrics[SORT_METRIC]
    if (typeof value !== 'number' || value > previous)
      throw new Error(`run ${run.id} has ${SORT_METRIC}=${String(value)} after ${previous}: not sorted by it`)
    previous = value
  }
  return previous
}

/** Walks every page of the sorted table; answers each page's time, and fails unless each run comes once. */
async function walkTable(agent: http.Agent, base: string): Promise<number[]> {
  const times: number[] = []
  const seen = new Set<string>()
  let last = Infinity
  let token: string | undefined
  do {
    const query = token === undefined ? '' : `&pageToken=${encodeURIComponent(token)}`
    const { body, ms: took } = await getJson<Page<RunWithMetrics>>(agent, `${base}${query}`)
    times.push(took)
    last = assertSorted(body.items, last)
    for (const run of body.items) seen.add(run.id)
    token = body.nextPageToken
  } while (token !== undefined)
  if (seen.size !== RUNS) throw new Error(`the table listed ${seen.size} distinct runs, expected ${RUNS}`)
  return times
}

/** A run table: the experiment's runs sorted by one metric's last value, a page of 100 with metric columns. */
export const runsTableBench: Bench = {
  name: 'runs.table',
  description: `${RUNS} runs x ${METRICS} metrics, listed sorted by ${SORT_METRIC} (last value), pages of ${PAGE_SIZE}; ${ROUNDS} rounds`,
  async run() {
    const tmp = await tempDir('runs-table')
    const server = await startServerProcess({ dataDir: path.join(tmp.dir, 'server') })
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY })
    try {
      await fillExperiment(server.url, agent)
      const base =
        `${server.url}/api/v1/workspaces/default/runs?experiment=${EXPERIMENT}&orderBy=metric:${SORT_METRIC}` +
        `&order=desc&pageSize=${PAGE_SIZE}&includeMetrics=true`
      await walkTable(agent, base) // warm-up, and a check of the whole order
      const first: number[] = []
      for (let r = 0; r < ROUNDS; r++) {
        const { body, ms: took } = await getJson<Page<RunWithMetrics>>(agent, base)
        if (body.items.length !== Math.min(PAGE_SIZE, RUNS)) throw new Error(`the first page has ${body.items.length} runs`)
        assertSorted(body.items, Infinity)
        first.push(took)
      }
      const later: number[] = []
      for (let r = 0; r < Math.ceil(ROUNDS / 10); r++) later.push(...(await walkTable(agent, base)).slice(1))
      return [
        measured({
          bench: 'runs.table',
          unit: 'ms median',
          value: median(first),
          extra: {
            p99: ms(percentile(first, 99)),
            // Pages after the first continue from a page token: the keyset path of the sort.
            laterPagesMedian: later.length > 0 ? ms(median(later)) : null,
            runs: RUNS,
            metricsPerRun: METRICS,
            pageSize: PAGE_SIZE,
            rounds: ROUNDS,
            target: TARGET,
          },
        }),
      ]
    } finally {
      agent.destroy()
      await server.stop()
      await tmp.remove()
    }
  },
}
