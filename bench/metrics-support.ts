import http from 'node:http'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { BenchResult } from './harness.js'
import { post } from './ingest.js'
import { seededRandom } from '@wharf/contract/test-support'
export { seededRandom }

/** The PostgreSQL server the PostgreSQL benches use; WHARF_BENCH_DATABASE_URL overrides it. */
export const BENCH_POSTGRES_URL = process.env.WHARF_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** A number in [0, 1) that depends only on `seed` and `index`: data that is the same whatever order it is made in. */
export function noiseAt(seed: number, index: number): number {
  let t = (Math.imul(index, 0x9e3779b1) ^ Math.imul(seed, 0x85ebca6b)) >>> 0
  t = Math.imul(t ^ (t >>> 16), 0x7feb352d)
  t = Math.imul(t ^ (t >>> 15), 0x846ca68b)
  return ((t ^ (t >>> 16)) >>> 0) / 4294967296
}

/**
 * Values as a training loop logs them: a noisy decaying loss curve, each value rounded to float32 first
 * (the way a framework's tensors produce them), which is what a compressing engine sees in practice.
 */
export function lossCurve(options: { points: number; seed: number }): (step: number) => number {
  const scale = Math.max(1, options.points / 5)
  return (step) => Math.fround(2.5 * Math.exp(-step / scale) + 0.1 + (noiseAt(options.seed, step) - 0.5) * 0.05)
}

/** Epoch-ms times of a logging clock: about `intervalMs` apart, each with up to ±3 ms of jitter. */
export function jitteredClock(options: { start: number; intervalMs: number; seed: number }): (step: number) => number {
  return (step) => options.start + step * options.intervalMs + Math.floor(noiseAt(options.seed, step) * 7) - 3
}

/** Creates a run in the default workspace and answers its id. */
export async function createRun(url: string, body: { experiment: string; displayName: string }): Promise<string> {
  const response = await fetch(`${url}/api/v1/workspaces/default/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, status: 'Running' }),
  })
  if (!response.ok) throw new Error(`creating a run failed: ${response.status} ${await response.text()}`)
  return ((await response.json()) as { id: string }).id
}

/** One metric to send: its name, and its value and time at each step. */
export interface SeriesSpec {
  name: string
  valueAt: (step: number) => number
  timeAt: (step: number) => number
}

/** The JSON body of the batch of every metric's points at steps [from, from + count). */
function batchBody(series: SeriesSpec[], from: number, count: number): string {
  const columns = series.map(({ name, valueAt, timeAt }) => {
    const values = new Array<number>(count)
    const times = new Array<number>(count)
    for (let i = 0; i < count; i++) {
      values[i] = valueAt(from + i)
      times[i] = timeAt(from + i)
    }
    return { name, values, times }
  })
  return JSON.stringify({ series: columns })
}

/**
 * Sends `points` points of each metric to a run in columnar batches (each carries `perBatch` points of
 * every metric) with implicit steps, so the server numbers them 0..points-1 in the order batches commit.
 * Batches sent together commit in any order (most do, measured), which would give steps the wrong
 * values and times; so each batch waits for the one before, as one SDK writer does, and the next
 * body is built while the current one is in flight.
 */
export async function ingestSeries(options: {
  url: string
  runId: string
  series: SeriesSpec[]
  points: number
  perBatch: number
  agent: http.Agent
}): Promise<void> {
  const { url, runId, series, points, perBatch, agent } = options
  const target = new URL(`${url}/api/v1/workspaces/default/runs/${runId}/metrics`)
  let body = batchBody(series, 0, Math.min(perBatch, points))
  for (let from = 0; from < points; from += perBatch) {
    const sending = post(agent, target, body)
    const next = from + perBatch
    if (next < points) body = batchBody(series, next, Math.min(perBatch, points - next))
    await sending
  }
}

/** A metric's summary as the listMetrics route answers it (the fields the benches check). */
export interface MetricSummaryAnswer {
  name: string
  count: number
  lastStep: number
}

/**
 * Fails unless the run holds `points` points of each metric at steps 0..points-1, and a few sampled
 * steps hold the value and time sent for them (batches committed out of order would not).
 */
export async function assertStored(options: { url: string; runId: string; series: SeriesSpec[]; points: number }): Promise<void> {
  const { url, runId, series, points } = options
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const base = `${url}/api/v1/workspaces/default/runs/${runId}/metrics`
  try {
    const { body } = await getJson<{ items: MetricSummaryAnswer[] }>(agent, base)
    for (const { name, valueAt, timeAt } of series) {
      const summary = body.items.find((item) => item.name === name)
      if (summary?.count !== points || summary.lastStep !== points - 1)
        throw new Error(`metric ${name}: stored ${JSON.stringify(summary)}, expected ${points} points`)
      for (let k = 0; k < 10; k++) {
        const step = Math.floor((k * (points - 1)) / 9)
        const query = `name=${encodeURIComponent(name)}&fromStep=${step}&toStep=${step}`
        const page = await getJson<{ items: { value?: unknown; time: number }[] }>(agent, `${base}/series?${query}`)
        const point = page.body.items[0]
        if (point?.value !== valueAt(step) || point.time !== timeAt(step))
          throw new Error(
            `metric ${name} step ${step}: stored ${JSON.stringify(point)}, sent ${valueAt(step)} at ${timeAt(step)}`,
          )
      }
    }
  } finally {
    agent.destroy()
  }
}

/** GETs JSON over a keep-alive agent; `ms` covers the request until the last byte of the answer. */
export function getJson<T>(agent: http.Agent, url: string): Promise<{ body: T; ms: number }> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => {
        const ms = performance.now() - started
        const text = Buffer.concat(chunks).toString()
        if (response.statusCode !== 200) reject(new Error(`GET ${url} failed: ${response.statusCode} ${text}`))
        else resolve({ body: JSON.parse(text) as T, ms })
      })
    })
    request.on('error', reject)
  })
}

/** The value below which `p` percent of the numbers fall (nearest rank). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1]!
}

/** Milliseconds rounded to a hundredth: small reads would all round to the same whole number. */
export function ms(value: number): number {
  return Math.round(value * 100) / 100
}

/** A result with no baseline: the figure and the target it should meet. */
export function measured(result: { bench: string; unit: string; value: number; extra?: Record<string, unknown> }): BenchResult {
  return { bench: result.bench, value: ms(result.value), unit: result.unit, ...result.extra }
}

/** A fresh database on the bench's PostgreSQL server, and how to drop it. */
export interface BenchDatabase {
  url: string
  drop(): Promise<void>
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

async function onServer(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: BENCH_POSTGRES_URL, connectionTimeoutMillis: 3000 })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

/**
 * Creates a uniquely named database on the bench's PostgreSQL server, or answers the `skipped:` line to
 * print when the server cannot be reached (a bench then reports nothing rather than failing).
 */
export async function createBenchDatabase(bench: string): Promise<BenchDatabase | { skipped: string }> {
  const name = `wharf_bench_${process.pid}_${randomBytes(4).toString('hex')}`
  try {
    await onServer(`create database "${name}"`)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return {
      skipped: `skipped: ${bench}: no PostgreSQL at ${BENCH_POSTGRES_URL} (${reason}); set WHARF_BENCH_DATABASE_URL to one`,
    }
  }
  return {
    url: withDatabase(BENCH_POSTGRES_URL, name),
    drop: () => onServer(`drop database if exists "${name}" with (force)`),
  }
}
