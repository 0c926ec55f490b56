import http from 'node:http'
import { stat } from 'node:fs/promises'
import path from 'node:path'
import Database from 'better-sqlite3'
import { compared, startServerProcess, tempDir, type Bench } from './harness.js'
import { assertStored, createRun, ingestSeries, jitteredClock, lossCurve, noiseAt, type SeriesSpec } from './metrics-support.js'

const POINTS = Number(process.env.WHARF_BENCH_BYTES_POINTS ?? 2_000_000)
const TARGET = 'bytes/point<=4'
/** The server's `pointsPerBatch` limit, shared by the metrics of one batch. */
const BATCH = 10_000

/** Four metrics a training loop logs together, each with its own shape, float32-born, on one jittery clock. */
function trainingMetrics(perMetric: number): SeriesSpec[] {
  const timeAt = jitteredClock({ start: Date.UTC(2026, 0, 1), intervalMs: 250, seed: 41 })
  const accuracy = lossCurve({ points: perMetric, seed: 43 })
  return [
    { name: 'loss', valueAt: lossCurve({ points: perMetric, seed: 44 }), timeAt },
    { name: 'accuracy', valueAt: (step) => Math.fround(1 - accuracy(step) / 3), timeAt },
    // A cosine learning-rate schedule: smooth, as schedules are.
    { name: 'lr', valueAt: (step) => Math.fround(3e-4 * 0.5 * (1 + Math.cos((Math.PI * step) / perMetric))), timeAt },
    { name: 'grad_norm', valueAt: (step) => Math.fround(0.5 + noiseAt(42, step) * 2), timeAt },
  ]
}

/** Bytes of a SQLite database on disk: the file and its write-ahead log (the shared-memory index is not data). */
async function sqliteBytes(file: string): Promise<number> {
  const sizeOf = async (name: string): Promise<number> => {
    try {
      return (await stat(name)).size
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0
      throw error
    }
  }
  return (await sizeOf(file)) + (await sizeOf(`${file}-wal`))
}

/** The baseline: the same points in the row-per-point layout with its (metric_id, step) index, checkpointed. */
async function rawBytes(dir: string, series: SeriesSpec[], perMetric: number): Promise<number> {
  const file = path.join(dir, 'raw-bytes.db')
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.exec(`CREATE TABLE metric_points (metric_id INTEGER NOT NULL, step INTEGER NOT NULL, time REAL NOT NULL, value REAL);
           CREATE INDEX metric_points_series ON metric_points (metric_id, step);`)
  const insert = db.prepare('INSERT INTO metric_points (metric_id, step, time, value) VALUES (?, ?, ?, ?)')
  const write = db.transaction((from: number, to: number) => {
    for (let step = from; step < to; step++) series.forEach((s, id) => insert.run(id + 1, step, s.timeAt(step), s.valueAt(step)))
  })
  const perBatch = BATCH / series.length
  for (let from = 0; from < perMetric; from += perBatch) write(from, Math.min(perMetric, from + perBatch))
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
  return sqliteBytes(file)
}

/** Bytes on disk per numeric point of a SQLite-backed server, against the row-per-point layout. */
export const bytesBench: Bench = {
  name: 'metrics.bytes',
  description: `bytes on disk per point: ${POINTS} points of 4 metrics (float32-born, implicit steps, jittered ms times) in a SQLite server`,
  async run() {
    const tmp = await tempDir('bytes')
    try {
      const perMetric = Math.floor(POINTS / 4)
      const points = perMetric * 4
      // An empty server's database, to show the fixed cost included in the figure.
      const emptyDir = path.join(tmp.dir, 'empty')
      await (await startServerProcess({ dataDir: emptyDir })).stop()
      const emptyBytes = await sqliteBytes(path.join(emptyDir, 'wharf.db'))

      const dataDir = path.join(tmp.dir, 'server')
      const server = await startServerProcess({ dataDir })
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      try {
        const runId = await createRun(server.url, { experiment: 'bench-bytes', displayName: `${points} points` })
        const series = trainingMetrics(perMetric)
        await ingestSeries({ url: server.url, runId, series, points: perMetric, perBatch: BATCH / series.length, agent })
        await assertStored({ url: server.url, runId, series, points: perMetric })
      } finally {
        agent.destroy()
        // A graceful stop closes the store: SQLite checkpoints its log, and an engine merges or flushes.
        await server.stop()
      }
      const serverBytes = await sqliteBytes(path.join(dataDir, 'wharf.db'))
      const baseline = await rawBytes(tmp.dir, trainingMetrics(perMetric), perMetric)
      return [
        compared({
          bench: 'metrics.bytes',
          unit: 'bytes/point',
          value: serverBytes / points,
          baseline: { name: 'sqlite.raw.rows', value: baseline / points },
          extra: { points, metrics: 4, dbBytes: serverBytes, emptyDbBytes: emptyBytes, target: TARGET },
          digits: 2,
        }),
      ]
    } finally {
      await tmp.remove()
    }
  },
}
