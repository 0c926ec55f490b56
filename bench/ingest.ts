import http from 'node:http'
import path from 'node:path'
import Database from 'better-sqlite3'
import { MSGPACK_MEDIA_TYPE, encodeMetricBatch } from '@wharf/contract'
import {
  compared,
  cpuSecondsOf,
  median,
  startServerProcess,
  tempDir,
  type Bench,
  type BenchResult,
  type ServerProcess,
} from './harness.js'

export const BATCH = 1000
export const WRITERS = Number(process.env.WHARF_BENCH_WRITERS ?? 8)
export const POINTS = Number(process.env.WHARF_BENCH_POINTS ?? 400_000)
export const ROUNDS = Number(process.env.WHARF_BENCH_ROUNDS ?? 3)
export const NAMES = ['loss', 'accuracy', 'lr', 'grad_norm']

/** One point a bench writes. */
export interface BenchPoint {
  name: string
  value: number
  time: number
  step?: number
}

/**
 * The rows every round writes: per writer, points cycling over four metric names. With explicit steps
 * each batch holds steps `batch * 250` to `batch * 250 + 249` of every name, the shape of one MLflow
 * log_batch call in mlflow.compare.
 */
export function pointsOf(writer: number, batch: number, explicitSteps = false): BenchPoint[] {
  const now = Date.now()
  const stepsPerBatch = BATCH / NAMES.length
  return Array.from({ length: BATCH }, (_, i) => ({
    name: NAMES[i % NAMES.length]!,
    value: Math.sin(writer + batch * BATCH + i) * 10,
    time: now + i,
    ...(explicitSteps ? { step: batch * stepsPerBatch + Math.floor(i / NAMES.length) } : {}),
  }))
}

type SeriesIn = { name: string; values: number[]; times: number[]; steps?: number[] }

/** The same points in the compact columnar form the SDK sends: one entry per metric name. */
function seriesOf(points: BenchPoint[]): SeriesIn[] {
  const byName = new Map<string, SeriesIn>()
  for (const p of points) {
    let series = byName.get(p.name)
    if (!series) {
      series = { name: p.name, values: [], times: [], ...(p.step !== undefined ? { steps: [] } : {}) }
      byName.set(p.name, series)
    }
    series.values.push(p.value)
    series.times.push(p.time)
    if (p.step !== undefined) series.steps?.push(p.step)
  }
  return [...byName.values()]
}

/** Raw better-sqlite3: the same rows into the same layout, one transaction per 1,000, the store's pragmas. */
export function rawInsertRate(dir: string, round: number): number {
  const db = new Database(path.join(dir, `raw-${round}.db`))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('cache_size = -65536')
  db.exec(`CREATE TABLE metric_points (metric_id INTEGER NOT NULL, step INTEGER NOT NULL, time REAL NOT NULL, value REAL, text TEXT);
           CREATE INDEX metric_points_series ON metric_points (metric_id, step);`)
  const insert = db.prepare('INSERT INTO metric_points (metric_id, step, time, value, text) VALUES (?, ?, ?, ?, NULL)')
  const batches = POINTS / BATCH
  const prepared = Array.from({ length: batches }, (_, b) => pointsOf(b % WRITERS, b))
  const write = db.transaction((points: { name: string; value: number; time: number }[], b: number) => {
    const writer = b % WRITERS
    const base = Math.floor(b / WRITERS) * (BATCH / NAMES.length)
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!
      insert.run(writer * NAMES.length + (i % NAMES.length), base + Math.floor(i / NAMES.length), p.time, p.value)
    }
  })
  const started = performance.now()
  for (let b = 0; b < batches; b++) write(prepared[b]!, b)
  const seconds = (performance.now() - started) / 1000
  db.close()
  return POINTS / seconds
}

/** POSTs a body over a keep-alive agent; node:http costs the load generator far less CPU than fetch. */
export function post(agent: http.Agent, url: URL, body: string | Uint8Array): Promise<void> {
  const type = typeof body === 'string' ? 'application/json' : MSGPACK_MEDIA_TYPE
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': type, 'content-length': Buffer.byteLength(body) } },
      (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () =>
          response.statusCode === 200
            ? resolve()
            : reject(new Error(`ingest failed: ${response.statusCode} ${Buffer.concat(chunks).toString()}`)),
        )
      },
    )
    request.on('error', reject)
    request.end(body)
  })
}

/** The body forms: columnar JSON, row JSON, columnar MessagePack (what the SDK sends). */
const FORMS = ['series', 'points', 'msgpack'] as const
type Form = (typeof FORMS)[number]

/** Points per second, and the server's CPU milliseconds per 1,000 points (steadier on a busy machine). */
export interface IngestRate {
  rate: number
  serverCpuMs: number
}

export async function httpIngestRate(
  server: ServerProcess,
  options: { round: number; points: number; form: Form; explicitSteps?: boolean },
): Promise<IngestRate> {
  const { url } = server
  const { round, points, form, explicitSteps = false } = options
  const perWriter = Math.ceil(points / BATCH / WRITERS)
  const runs: string[] = []
  for (let w = 0; w < WRITERS; w++) {
    const response = await fetch(`${url}/api/v1/workspaces/default/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ experiment: 'bench-ingest', displayName: `round ${round} writer ${w}`, status: 'Running' }),
    })
    runs.push(((await response.json()) as { id: string }).id)
  }
  // Bodies are serialised before the clock starts: this measures the server, not the load generator.
  const bodies = runs.map((_, w) =>
    Array.from({ length: perWriter }, (_, b) => {
      const writerId = `bench-${w}`
      const sent = pointsOf(w, b, explicitSteps)
      if (form === 'points') return JSON.stringify({ writerId, sequence: b, points: sent })
      const batch = { writerId, sequence: b, series: seriesOf(sent) }
      return form === 'series' ? JSON.stringify(batch) : encodeMetricBatch(batch)
    }),
  )
  const agent = new http.Agent({ keepAlive: true, maxSockets: WRITERS })
  const cpuBefore = await cpuSecondsOf(server.pid)
  const started = performance.now()
  await Promise.all(
    runs.map(async (runId, w) => {
      const target = new URL(`${url}/api/v1/workspaces/default/runs/${runId}/metrics`)
      for (const body of bodies[w]!) await post(agent, target, body)
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const cpu = (await cpuSecondsOf(server.pid)) - cpuBefore
  agent.destroy()
  const stored = perWriter * WRITERS * BATCH
  return { rate: stored / seconds, serverCpuMs: (cpu * 1000 * BATCH) / stored }
}

/** Batches of 1,000 points over HTTP into SQLite from several writers, against raw better-sqlite3. */
export const ingestBench: Bench = {
  name: 'ingest.http.sqlite',
  description: `${POINTS} points in batches of ${BATCH} from ${WRITERS} concurrent writers (columnar MessagePack, columnar and row JSON), median of ${ROUNDS} rounds`,
  async run() {
    const tmp = await tempDir('ingest')
    try {
      const raw: number[] = []
      for (let r = 0; r < ROUNDS; r++) raw.push(rawInsertRate(tmp.dir, r))
      // Each round gets a fresh server and database, as each raw round gets a fresh file.
      const rates: Record<Form, number[]> = { series: [], points: [], msgpack: [] }
      const cpu: Record<Form, number[]> = { series: [], points: [], msgpack: [] }
      for (let r = 0; r < ROUNDS; r++) {
        for (const form of FORMS) {
          const server = await startServerProcess({ dataDir: path.join(tmp.dir, `server-${form}-${r}`) })
          try {
            await httpIngestRate(server, { round: r, points: POINTS / 10, form }) // warm-up: JIT, connections
            const measured = await httpIngestRate(server, { round: r, points: POINTS, form })
            rates[form].push(measured.rate)
            cpu[form].push(measured.serverCpuMs)
          } finally {
            await server.stop()
          }
        }
      }
      const baseline = { name: 'sqlite.raw.insert', value: median(raw) }
      const extra = (form: Form): Record<string, unknown> => ({
        writers: WRITERS,
        batch: BATCH,
        points: POINTS,
        rounds: ROUNDS,
        serverCpuMsPer1000: Math.round(median(cpu[form]) * 100) / 100,
      })
      const result = (bench: string, form: Form): BenchResult =>
        compared({ bench, unit: 'points/s', value: median(rates[form]), baseline, extra: extra(form) })
      // MessagePack columns are what the SDK sends; JSON columns what it sent before decision 0029; rows
      // are what a hand-written client may send.
      return [
        result('ingest.http.sqlite.msgpack', 'msgpack'),
        result('ingest.http.sqlite', 'series'),
        result('ingest.http.sqlite.rows', 'points'),
      ]
    } finally {
      await tmp.remove()
    }
  },
}
