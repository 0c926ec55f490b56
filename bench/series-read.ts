import http from 'node:http'
import path from 'node:path'
import Database from 'better-sqlite3'
import { decodeSeriesColumns, type MetricPoint, type Page } from '@wharf/contract'
import { compared, median, startServerProcess, tempDir, type Bench } from './harness.js'
import { assertStored, createRun, getJson, ingestSeries, jitteredClock, lossCurve } from './metrics-support.js'

const POINTS = Number(process.env.WHARF_BENCH_SERIES_POINTS ?? 100_000)
const ROUNDS = Number(process.env.WHARF_BENCH_SERIES_ROUNDS ?? 7)
/** The server's `metricPageSize` limit: the most points one page may hold. */
const PAGE_SIZE = 100_000

const valueAt = lossCurve({ points: POINTS, seed: 21 })
const timeAt = jitteredClock({ start: Date.UTC(2026, 0, 1), intervalMs: 100, seed: 22 })

/** Reads the whole series page by page; fails unless it gets every step once, in order. */
async function readWholeSeries(agent: http.Agent, base: string): Promise<number> {
  const started = performance.now()
  let token: string | undefined
  let count = 0
  do {
    const query = token === undefined ? '' : `&pageToken=${encodeURIComponent(token)}`
    const { body } = await getJson<Page<MetricPoint>>(agent, `${base}${query}`)
    for (const point of body.items) {
      if (point.step !== count) throw new Error(`point ${count} of the series has step ${point.step}`)
      count++
    }
    token = body.nextPageToken
  } while (token !== undefined)
  const took = performance.now() - started
  if (count !== POINTS) throw new Error(`the series read back ${count} points, expected ${POINTS}`)
  return took
}

/** Reads the whole series as MessagePack float64 columns (format=msgpack, what the client's getMetricColumns does). */
async function readWholeColumns(agent: http.Agent, base: string): Promise<number> {
  const started = performance.now()
  let token: string | undefined
  let count = 0
  do {
    const query = `&format=msgpack${token === undefined ? '' : `&pageToken=${encodeURIComponent(token)}`}`
    const page = decodeSeriesColumns(await getBytes(agent, `${base}${query}`))
    for (const step of page.steps) {
      if (step !== count) throw new Error(`point ${count} of the series has step ${step}`)
      count++
    }
    token = page.nextPageToken
  } while (token !== undefined)
  const took = performance.now() - started
  if (count !== POINTS) throw new Error(`the series read back ${count} points, expected ${POINTS}`)
  return took
}

/** GETs a body as bytes over a keep-alive agent. */
function getBytes(agent: http.Agent, url: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () =>
          response.statusCode === 200
            ? resolve(Buffer.concat(chunks))
            : reject(new Error(`GET ${url}: ${response.statusCode} ${Buffer.concat(chunks).toString()}`)),
        )
      })
      .on('error', reject)
  })
}

/** The baseline: the same rows in the row-per-point layout, read in step order with raw better-sqlite3. */
function rawReadTimes(dir: string): number[] {
  const db = new Database(path.join(dir, 'raw-read.db'))
  db.pragma('journal_mode = WAL')
  db.exec(`CREATE TABLE metric_points (metric_id INTEGER NOT NULL, step INTEGER NOT NULL, time REAL NOT NULL, value REAL);
           CREATE INDEX metric_points_series ON metric_points (metric_id, step);`)
  const insert = db.prepare('INSERT INTO metric_points (metric_id, step, time, value) VALUES (1, ?, ?, ?)')
  db.transaction(() => {
    for (let step = 0; step < POINTS; step++) insert.run(step, timeAt(step), valueAt(step))
  })()
  const select = db.prepare('SELECT step, time, value FROM metric_points WHERE metric_id = 1 ORDER BY step')
  const times: number[] = []
  for (let r = 0; r <= ROUNDS; r++) {
    const started = performance.now()
    const rows = select.all()
    const took = performance.now() - started
    if (rows.length !== POINTS) throw new Error(`raw read got ${rows.length} rows`)
    if (r > 0) times.push(took) // the first read warms the page cache, as the server's warm-up read does
  }
  db.close()
  return times
}

/** A whole 100,000-point series read over HTTP in pages of up to 100,000, against raw better-sqlite3. */
export const seriesReadBench: Bench = {
  name: 'metrics.series.read',
  description: `raw read of a ${POINTS}-point series over HTTP (pageSize=${PAGE_SIZE}), median of ${ROUNDS} rounds`,
  async run() {
    const tmp = await tempDir('series-read')
    const server = await startServerProcess({ dataDir: path.join(tmp.dir, 'server') })
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const runId = await createRun(server.url, { experiment: 'bench-series-read', displayName: `${POINTS} points` })
      const series = [{ name: 'loss', valueAt, timeAt }]
      await ingestSeries({ url: server.url, runId, series, points: POINTS, perBatch: 10_000, agent })
      await assertStored({ url: server.url, runId, series, points: POINTS })
      const base = `${server.url}/api/v1/workspaces/default/runs/${runId}/metrics/series?name=loss&pageSize=${PAGE_SIZE}`
      await readWholeSeries(agent, base) // warm-up: JIT, connection, page cache
      const times: number[] = []
      for (let r = 0; r < ROUNDS; r++) times.push(await readWholeSeries(agent, base))
      await readWholeColumns(agent, base)
      const columnTimes: number[] = []
      for (let r = 0; r < ROUNDS; r++) columnTimes.push(await readWholeColumns(agent, base))
      const raw = median(rawReadTimes(tmp.dir))
      return [
        compared({
          bench: 'metrics.series.read',
          unit: 'ms',
          value: median(times),
          baseline: { name: 'sqlite.raw.select', value: raw },
          extra: { points: POINTS, pageSize: PAGE_SIZE, rounds: ROUNDS, format: 'json' },
          digits: 1,
        }),
        compared({
          bench: 'metrics.series.read.msgpack',
          unit: 'ms',
          value: median(columnTimes),
          baseline: { name: 'sqlite.raw.select', value: raw },
          extra: { points: POINTS, pageSize: PAGE_SIZE, rounds: ROUNDS, format: 'msgpack', target: 'ms<=30' },
          digits: 1,
        }),
      ]
    } finally {
      agent.destroy()
      await server.stop()
      await tmp.remove()
    }
  },
}
