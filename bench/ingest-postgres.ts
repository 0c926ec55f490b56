import path from 'node:path'
import pg from 'pg'
import { compared, median, startServerProcess, tempDir, type Bench } from './harness.js'
import { BATCH, NAMES, POINTS, ROUNDS, WRITERS, httpIngestRate, pointsOf } from './ingest.js'
import { createBenchDatabase, type BenchDatabase } from './metrics-support.js'

const TARGET = 'points/s>=500000'

/**
 * The baseline: the same rows from WRITERS connections into a plain table with the (metric_id, step)
 * index the row layout has, one multi-row insert (unnest of column arrays) per batch of 1,000.
 */
async function rawInsertRate(url: string): Promise<number> {
  const setup = new pg.Client({ connectionString: url })
  await setup.connect()
  await setup.query(`create table raw_points (metric_id bigint not null, step bigint not null, time double precision not null,
                     value double precision); create index raw_points_series on raw_points (metric_id, step)`)
  await setup.end()
  const perWriter = Math.ceil(POINTS / BATCH / WRITERS)
  // Columns are built before the clock starts, as the HTTP bench serialises its bodies first.
  const batches = Array.from({ length: WRITERS }, (_, w) =>
    Array.from({ length: perWriter }, (_, b) => {
      const points = pointsOf(w, b)
      const base = b * (BATCH / NAMES.length)
      return [
        points.map((_, i) => w * NAMES.length + (i % NAMES.length)),
        points.map((_, i) => base + Math.floor(i / NAMES.length)),
        points.map((p) => p.time),
        points.map((p) => p.value),
      ]
    }),
  )
  const clients = await Promise.all(
    batches.map(async () => {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      return client
    }),
  )
  try {
    const started = performance.now()
    await Promise.all(
      clients.map(async (client, w) => {
        for (const columns of batches[w]!)
          await client.query(
            'insert into raw_points (metric_id, step, time, value) select * from unnest($1::bigint[], $2::bigint[], $3::float8[], $4::float8[])',
            columns,
          )
      }),
    )
    return (perWriter * WRITERS * BATCH) / ((performance.now() - started) / 1000)
  } finally {
    await Promise.all(clients.map((client) => client.end()))
  }
}

/** One round on a fresh database: the server's rate, then the raw rate in the same database. */
async function round(database: BenchDatabase, options: { dir: string; round: number }): Promise<{ http: number; raw: number }> {
  const server = await startServerProcess({
    dataDir: path.join(options.dir, `server-${options.round}`),
    env: { WHARF_DATABASE_URL: database.url },
  })
  let http: number
  try {
    await httpIngestRate(server, { round: options.round, points: POINTS / 10, form: 'msgpack' }) // warm-up
    http = (await httpIngestRate(server, { round: options.round, points: POINTS, form: 'msgpack' })).rate
  } finally {
    await server.stop()
  }
  return { http, raw: await rawInsertRate(database.url) }
}

/** The HTTP ingest bench on a PostgreSQL-backed server, against raw `pg` multi-row inserts. */
export const ingestPostgresBench: Bench = {
  name: 'ingest.http.postgres',
  description: `${POINTS} points in batches of ${BATCH} from ${WRITERS} concurrent writers (columnar JSON) into PostgreSQL, median of ${ROUNDS} rounds`,
  async run() {
    const rates = { http: [] as number[], raw: [] as number[] }
    const tmp = await tempDir('ingest-pg')
    try {
      for (let r = 0; r < ROUNDS; r++) {
        const database = await createBenchDatabase('ingest.http.postgres')
        if ('skipped' in database) {
          process.stdout.write(`${database.skipped}\n`)
          return []
        }
        try {
          const rate = await round(database, { dir: tmp.dir, round: r })
          rates.http.push(rate.http)
          rates.raw.push(rate.raw)
        } finally {
          await database.drop()
        }
      }
    } finally {
      await tmp.remove()
    }
    return [
      compared({
        bench: 'ingest.http.postgres',
        unit: 'points/s',
        value: median(rates.http),
        baseline: { name: 'postgres.raw.insert', value: median(rates.raw) },
        extra: { writers: WRITERS, batch: BATCH, points: POINTS, rounds: ROUNDS, target: TARGET },
      }),
    ]
  },
}
