import http from 'node:http'
import path from 'node:path'
import Database from 'better-sqlite3'
import { compared, median, startServerProcess, tempDir, type Bench } from './harness.js'

const BATCH = 1000
/** Concurrent HTTP writers (and, in mlflow.compare, MLflow client threads). */
export const WRITERS = Number(process.env.WHARF_BENCH_WRITERS ?? 8)
const POINTS = Number(process.env.WHARF_BENCH_POINTS ?? 400_000)
const ROUNDS = Number(process.env.WHARF_BENCH_ROUNDS ?? 3)
const NAMES = ['loss', 'accuracy', 'lr', 'grad_norm']

interface BenchPoint {
  name: string
  value: number
  time: number
  step?: number
}

/**
 * The rows every round writes: per writer, points cycling over four metric names. With explicit steps
 * each batch holds steps `batch * 250` to `batch * 250 + 249` of every name, the shape of one
 * MLflow log_batch call in mlflow.compare.
 */
function pointsOf(options: { writer: number; batch: number; explicitSteps: boolean }): BenchPoint[] {
  const { writer, batch, explicitSteps } = options
  const now = Date.now()
  const stepsPerBatch = BATCH / NAMES.length
  return Array.from({ length: BATCH }, (_, i) => ({
    name: NAMES[i % NAMES.length]!,
    value: Math.sin(writer + batch * BATCH + i) * 10,
    time: now + i,
    ...(explicitSteps ? { step: batch * stepsPerBatch + Math.floor(i / NAMES.length) } : {}),
  }))
}

/** The same points in the compact columnar form the SDK sends: one entry per metric name. */
function seriesOf(points: BenchPoint[]): { name: string; values: number[]; times: number[]; steps?: number[] }[] {
  const byName = new Map<string, { name: string; values: number[]; times: number[]; steps?: number[] }>()
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
  const prepared = Array.from({ length: batches }, (_, b) => pointsOf({ writer: b % WRITERS, batch: b, explicitSteps: false }))
  const write = db.transaction((points: BenchPoint[], b: number) => {
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

/** POSTs a JSON body over a keep-alive agent; node:http costs the load generator far less CPU than fetch. */
export function post(agent: http.Agent, url: URL, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
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

/**
 * Points/s of `points` points POSTed in batches of 1,000 by WRITERS concurrent writers, each into its
 * own new run; `explicitSteps` sends steps too (else the server numbers them).
 */
export async function httpIngestRate(
  url: string,
  options: { round: number; points: number; form: 'series' | 'points'; explicitSteps?: boolean },
): Promise<number> {
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
      const batch = pointsOf({ writer: w, batch: b, explicitSteps })
      return JSON.stringify(
        form === 'series'
          ? { writerId: `bench-${w}`, sequence: b, series: seriesOf(batch) }
          : { writerId: `bench-${w}`, sequence: b, points: batch },
      )
    }),
  )
  const agent = new http.Agent({ keepAlive: true, maxSockets: WRITERS })
  const started = performance.now()
  await Promise.all(
    runs.map(async (runId, w) => {
      const target = new URL(`${url}/api/v1/workspaces/default/runs/${runId}/metrics`)
      for (const body of bodies[w]!) await post(agent, target, body)
    }),
  )
  const seconds = (performance.now() - started) / 1000
  agent.destroy()
  return (perWriter * WRITERS * BATCH) / seconds
}

/** Batches of 1,000 points over HTTP into SQLite from several writers, against raw better-sqlite3. */
export const ingestBench: Bench = {
  name: 'ingest.http.sqlite',
  description: `${POINTS} points in batches of ${BATCH} from ${WRITERS} concurrent writers (columnar and row JSON), median of ${ROUNDS} rounds`,
  async run() {
    const tmp = await tempDir('ingest')
    try {
      const raw: number[] = []
      for (let r = 0; r < ROUNDS; r++) raw.push(rawInsertRate(tmp.dir, r))
      // Each round gets a fresh server and database, as each raw round gets a fresh file.
      const rates = { series: [] as number[], points: [] as number[] }
      for (let r = 0; r < ROUNDS; r++) {
        for (const form of ['series', 'points'] as const) {
          const server = await startServerProcess({ dataDir: path.join(tmp.dir, `server-${form}-${r}`) })
          try {
            await httpIngestRate(server.url, { round: r, points: POINTS / 10, form }) // warm-up: JIT, connections
            rates[form].push(await httpIngestRate(server.url, { round: r, points: POINTS, form }))
          } finally {
            await server.stop()
          }
        }
      }
      const baseline = { name: 'sqlite.raw.insert', value: median(raw) }
      const extra = { writers: WRITERS, batch: BATCH, points: POINTS, rounds: ROUNDS }
      return [
        // The columnar form is what the SDK sends; the row form is what a hand-written client may send.
        compared({ bench: 'ingest.http.sqlite', unit: 'points/s', value: median(rates.series), baseline, extra }),
        compared({ bench: 'ingest.http.sqlite.rows', unit: 'points/s', value: median(rates.points), baseline, extra }),
      ]
    } finally {
      await tmp.remove()
    }
  },
}
