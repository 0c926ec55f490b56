import http from 'node:http'
import path from 'node:path'
import type { MetricBuckets } from '@wharf/contract'
import { startServerProcess, tempDir, type Bench, type BenchResult } from './harness.js'
import {
  assertStored,
  createBenchDatabase,
  createRun,
  getJson,
  ingestSeries,
  jitteredClock,
  lossCurve,
  measured,
  ms,
  percentile,
  seededRandom,
} from './metrics-support.js'

const POINTS = Number(process.env.WHARF_BENCH_CHART_POINTS ?? 10_000_000)
const REPEATS = Number(process.env.WHARF_BENCH_CHART_REPEATS ?? 5)
const ZOOMS = 20
const BUCKETS = 1000
/** The server's `pointsPerBatch` limit: the largest batch a client may send. */
const BATCH = 10_000
const TARGET = 'p50<=20ms p99<=50ms'

/** A step range of the series, as a chart asks for it. */
interface StepRange {
  fromStep: number
  toStep: number
}

/** Seeded zooms: widths spread evenly on a log scale from 0.1% to 100% of the series, anywhere in it. */
function zoomsOf(points: number): StepRange[] {
  const random = seededRandom(12)
  return Array.from({ length: ZOOMS }, () => {
    const width = Math.max(1, Math.min(points, Math.round(points * 10 ** (-3 + 3 * random()))))
    const fromStep = Math.floor(random() * (points - width + 1))
    return { fromStep, toStep: fromStep + width - 1 }
  })
}

/** Reads one chart and checks it counts every point of the range once (an engine that drops points fails). */
async function readChart(options: {
  agent: http.Agent
  base: string
  query: string
  expectedPoints: number
}): Promise<{ ms: number; axis: string }> {
  const { body, ms: took } = await getJson<MetricBuckets>(options.agent, `${options.base}&${options.query}`)
  const counted = body.buckets.reduce((sum, bucket) => sum + bucket.count, 0)
  if (counted !== options.expectedPoints)
    throw new Error(`chart ${options.query} counted ${counted} points, expected ${options.expectedPoints}`)
  if (body.buckets.length > BUCKETS) throw new Error(`chart ${options.query} answered ${body.buckets.length} buckets`)
  return { ms: took, axis: body.axis }
}

function latency(samples: number[]): Record<string, unknown> {
  return { p99: ms(percentile(samples, 99)), max: ms(Math.max(...samples)), samples: samples.length }
}

/** Ingests one series into the server at `url`, then times full-range, zoomed and time-axis chart reads. */
async function chartFigures(url: string, bench: string): Promise<BenchResult[]> {
  const runId = await createRun(url, { experiment: 'bench-chart', displayName: `${POINTS} points` })
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  try {
    const series = [
      {
        name: 'loss',
        valueAt: lossCurve({ points: POINTS, seed: 7 }),
        timeAt: jitteredClock({ start: Date.UTC(2026, 0, 1), intervalMs: 100, seed: 8 }),
      },
    ]
    const started = performance.now()
    await ingestSeries({ url, runId, series, points: POINTS, perBatch: BATCH, agent })
    const ingestSeconds = (performance.now() - started) / 1000
    await assertStored({ url, runId, series, points: POINTS })

    const base = `${url}/api/v1/workspaces/default/runs/${runId}/metrics/buckets?name=loss&buckets=${BUCKETS}`
    const read = (query: string, expectedPoints: number): Promise<{ ms: number; axis: string }> =>
      readChart({ agent, base, query, expectedPoints })
    const cold = await read('', POINTS)
    const full: number[] = []
    for (let r = 0; r < REPEATS * 2; r++) full.push((await read('', POINTS)).ms)
    // Each round visits every zoom once, so no zoom is read twice in a row from a warm cache.
    const zooms = zoomsOf(POINTS)
    const zoomed: number[] = []
    for (let r = 0; r < REPEATS; r++)
      for (const z of zooms) zoomed.push((await read(`fromStep=${z.fromStep}&toStep=${z.toStep}`, z.toStep - z.fromStep + 1)).ms)
    const time: number[] = []
    let timeAxis = ''
    for (let r = 0; r < REPEATS; r++) {
      const answer = await read('axis=time', POINTS)
      time.push(answer.ms)
      timeAxis = answer.axis
    }
    const extra = { points: POINTS, buckets: BUCKETS, target: TARGET }
    return [
      measured({
        bench: `${bench}.full`,
        unit: 'ms p50',
        value: percentile(full, 50),
        extra: { ...latency(full), coldMs: ms(cold.ms), ingestPointsPerSecond: Math.round(POINTS / ingestSeconds), ...extra },
      }),
      measured({
        bench: `${bench}.zoom`,
        unit: 'ms p50',
        value: percentile(zoomed, 50),
        extra: { ...latency(zoomed), zooms: ZOOMS, widths: '0.1%..100%', ...extra },
      }),
      // `answeredAxis` shows whether the engine really bucketed by time (an engine without it answers 'step').
      measured({
        bench: `${bench}.time`,
        unit: 'ms p50',
        value: percentile(time, 50),
        extra: { ...latency(time), answeredAxis: timeAxis, ...extra },
      }),
    ]
  } finally {
    agent.destroy()
  }
}

/** Chart reads of one long series on a fresh SQLite server. */
export const chartBench: Bench = {
  name: 'metrics.chart',
  description: `chart reads (${BUCKETS} buckets) of one ${POINTS}-point series on SQLite: full range, ${ZOOMS} zooms, time axis; p50/p99 of ${REPEATS} rounds`,
  async run() {
    const tmp = await tempDir('chart')
    const server = await startServerProcess({ dataDir: path.join(tmp.dir, 'server') })
    try {
      return await chartFigures(server.url, 'metrics.chart')
    } finally {
      await server.stop()
      await tmp.remove()
    }
  },
}

/** The same chart reads on a server over a fresh PostgreSQL database. */
export const chartPostgresBench: Bench = {
  name: 'metrics.chart.postgres',
  description: `chart reads (${BUCKETS} buckets) of one ${POINTS}-point series on PostgreSQL: full range, ${ZOOMS} zooms, time axis; p50/p99 of ${REPEATS} rounds`,
  async run() {
    const database = await createBenchDatabase('metrics.chart.postgres')
    if ('skipped' in database) {
      process.stdout.write(`${database.skipped}\n`)
      return []
    }
    const tmp = await tempDir('chart-pg')
    try {
      const server = await startServerProcess({
        dataDir: path.join(tmp.dir, 'server'),
        env: { WHARF_DATABASE_URL: database.url },
      })
      try {
        return await chartFigures(server.url, 'metrics.chart.postgres')
      } finally {
        await server.stop()
      }
    } finally {
      await database.drop()
      await tmp.remove()
    }
  },
}
