import path from 'node:path'
import Database from 'better-sqlite3'
import { compared, median, startServerProcess, tempDir, type Bench } from './harness.js'

const BATCH = 1000
const WRITERS = Number(process.env.WHARF_BENCH_WRITERS ?? 8)
const POINTS = Number(process.env.WHARF_BENCH_POINTS ?? 400_000)
const ROUNDS = Number(process.env.WHARF_BENCH_ROUNDS ?? 3)
const NAMES = ['loss', 'accuracy', 'lr', 'grad_norm']

/** The rows every round writes: per writer, points cycling over four metric names. */
function pointsOf(writer: number, batch: number): { name: string; value: number; time: number }[] {
  const now = Date.now()
  return Array.from({ length: BATCH }, (_, i) => ({
    name: NAMES[i % NAMES.length]!,
    value: Math.sin(writer + batch * BATCH + i) * 10,
    time: now + i,
  }))
}

/** Raw better-sqlite3: the same rows into the same layout, one transaction per 1,000, same pragmas. */
function rawInsertRate(dir: string, round: number): number {
  const db = new Database(path.join(dir, `raw-${round}.db`))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
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

async function httpIngestRate(url: string, round: number): Promise<number> {
  const perWriter = POINTS / BATCH / WRITERS
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
    Array.from({ length: perWriter }, (_, b) =>
      JSON.stringify({ writerId: `bench-${w}`, sequence: b, points: pointsOf(w, b) }),
    ),
  )
  const started = performance.now()
  await Promise.all(
    runs.map(async (runId, w) => {
      for (const body of bodies[w]!) {
        const response = await fetch(`${url}/api/v1/workspaces/default/runs/${runId}/metrics`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        })
        if (!response.ok) throw new Error(`ingest failed: ${response.status} ${await response.text()}`)
        await response.arrayBuffer()
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  return POINTS / seconds
}

/** Batches of 1,000 points over HTTP into SQLite from several writers, against raw better-sqlite3. */
export const ingestBench: Bench = {
  name: 'ingest.http.sqlite',
  description: `${POINTS} points in batches of ${BATCH} from ${WRITERS} concurrent writers, median of ${ROUNDS} rounds`,
  async run() {
    const tmp = await tempDir('ingest')
    try {
      const raw: number[] = []
      for (let r = 0; r < ROUNDS; r++) raw.push(rawInsertRate(tmp.dir, r))
      const server = await startServerProcess({ dataDir: path.join(tmp.dir, 'server') })
      const http: number[] = []
      try {
        await httpIngestRate(server.url, -1) // warm-up: JIT, connection pool, first pages of the database
        for (let r = 0; r < ROUNDS; r++) http.push(await httpIngestRate(server.url, r))
      } finally {
        await server.stop()
      }
      return [
        compared({
          bench: 'ingest.http.sqlite',
          unit: 'points/s',
          value: median(http),
          baseline: { name: 'sqlite.raw.insert', value: median(raw) },
          extra: { writers: WRITERS, batch: BATCH, points: POINTS, rounds: ROUNDS },
        }),
      ]
    } finally {
      await tmp.remove()
    }
  },
}
