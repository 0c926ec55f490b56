// Writes metrics the way the store laid them out up to migration 0004 (one row per point in
// `metric_points`, summaries in `metrics`), without going through the store, so the upgrade tests hold
// whatever engine comes next to the points of databases made by that code.
import Database from 'better-sqlite3'
import pg from 'pg'
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely'
import type { RawBuilder } from 'kysely'
import { POSTGRES_CAPABILITIES } from '../../dialects/postgres.js'
import { SQLITE_CAPABILITIES } from '../../dialects/sqlite.js'
import { createMigrations } from '../../migrations/index.js'
import type { StoreConfig } from '../../metadata-store.js'

/** The last migration whose metric layout this module writes. */
export const LEGACY_MIGRATION = '0004-submitted-runs'

/** One point as logged, in arrival order: a number (NaN, ±Infinity and -0 included) or text. */
export interface LegacyPoint {
  name: string
  step: number
  time: number
  value?: number
  text?: string
}

/** What to write: one run of one workspace, its points in arrival order, and batches already claimed. */
export interface LegacyContent {
  workspace: string
  runId: string
  points: readonly LegacyPoint[]
  writerBatches: ReadonlyArray<{ writerId: string; sequence: number; pointCount: number }>
}

/** Rows per insert statement: well inside both engines' limits on bound parameters. */
const ROWS_PER_INSERT = 400

interface LegacySummary {
  id: number
  name: string
  count: number
  lastStep: number
  lastTime: number
  lastValue: number | null
  lastText: string | null
  min: number | null
  max: number | null
  hasNumber: boolean
  hasText: boolean
}

function emptySummary(id: number, name: string): LegacySummary {
  const summary = { id, name, count: 0, lastStep: -1, lastTime: 0, lastValue: null, lastText: null }
  return { ...summary, min: null, max: null, hasNumber: false, hasText: false }
}

/** The 0004 encoding: NaN is a NULL value with NULL text, text a NULL value with its text. */
function storedValue(point: LegacyPoint): number | null {
  return point.text !== undefined || point.value === undefined || Number.isNaN(point.value) ? null : point.value
}

/** Summaries as the 0004 code kept them: min/max over every non-NaN number, infinities included. */
function summarise(points: readonly LegacyPoint[]): Map<string, LegacySummary> {
  const summaries = new Map<string, LegacySummary>()
  for (const point of points) {
    let s = summaries.get(point.name)
    if (s === undefined) {
      s = emptySummary(summaries.size + 1, point.name)
      summaries.set(point.name, s)
    }
    const value = storedValue(point)
    s.count += 1
    if (point.step >= s.lastStep) {
      s.lastStep = point.step
      s.lastTime = point.time
      s.lastValue = value
      s.lastText = point.text ?? null
    }
    if (point.text !== undefined) {
      s.hasText = true
      continue
    }
    s.hasNumber = true
    if (value === null) continue
    if (s.min === null || value < s.min) s.min = value
    if (s.max === null || value > s.max) s.max = value
  }
  return summaries
}

/** An open connection to a database being built, and how its engine wants a float bound. */
interface LegacyDatabase {
  db: Kysely<unknown>
  hasIdentitySequences: boolean
  float: (value: number | null) => RawBuilder<unknown>
}

function openLegacy(config: StoreConfig): LegacyDatabase {
  if (config.kind === 'sqlite') {
    // better-sqlite3 binds -0 as a REAL, which the untyped value columns of 0003 keep.
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(config.path) }) })
    return { db, hasIdentitySequences: false, float: (v) => sql`${v}` }
  }
  const pool = new pg.Pool({ connectionString: config.url, max: 1 })
  // pg sends a number as String(value), which drops the sign of -0: send it as text and cast.
  const float = (v: number | null) => (v !== null && Object.is(v, -0) ? sql`cast(${'-0'} as double precision)` : sql`${v}`)
  return { db: new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) }), hasIdentitySequences: true, float }
}

async function insertRows(db: Kysely<unknown>, head: RawBuilder<unknown>, rows: RawBuilder<unknown>[]): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    await sql`${head} values ${sql.join(rows.slice(i, i + ROWS_PER_INSERT))}`.execute(db)
  }
}

async function writeContent(legacy: LegacyDatabase, content: LegacyContent): Promise<void> {
  const { db, float } = legacy
  const at = '2026-01-01T00:00:00.000Z'
  await sql`insert into workspaces (name, default_datastore, artifact_datastore, created_at)
    values (${content.workspace}, 'd', 'd', ${at})`.execute(db)
  await sql`insert into experiments (id, workspace, name, created_at) values (1, ${content.workspace}, 'legacy', ${at})`.execute(
    db,
  )
  await sql`insert into runs (id, workspace, experiment_id, display_name, description, status, created_at, tags, properties,
    compute_target) values (${content.runId}, ${content.workspace}, 1, 'legacy', '', 'Running', ${at}, '{}', '{}', 'local')`.execute(
    db,
  )
  const summaries = summarise(content.points)
  const metricRows = [...summaries.values()].map(
    (s) =>
      sql`(${s.id}, ${content.runId}, ${s.name}, ${s.count}, ${s.lastStep + 1}, ${s.lastStep}, ${s.lastTime}, ${float(s.lastValue)},
        ${s.lastText}, ${float(s.min)}, ${float(s.max)}, ${s.hasNumber ? 1 : 0}, ${s.hasText ? 1 : 0})`,
  )
  await insertRows(
    db,
    sql`insert into metrics (id, run_id, name, "count", next_step, last_step, last_time, last_value, last_text, min_value,
      max_value, has_number, has_text)`,
    metricRows,
  )
  // Ids in arrival order: the 0004 engine broke ties at a step by id.
  const pointRows = content.points.map((p, i) => {
    const metricId = summaries.get(p.name)?.id ?? 0
    return sql`(${i + 1}, ${metricId}, ${p.step}, ${p.time}, ${float(storedValue(p))}, ${p.text ?? null})`
  })
  await insertRows(db, sql`insert into metric_points (id, metric_id, step, "time", "value", "text")`, pointRows)
  const batchRows = content.writerBatches.map(
    (b) => sql`(${content.runId}, ${b.writerId}, ${b.sequence}, ${b.pointCount}, ${at})`,
  )
  await insertRows(db, sql`insert into writer_batches (run_id, writer_id, sequence, point_count, created_at)`, batchRows)
  if (legacy.hasIdentitySequences) {
    // Identity columns were given explicit ids: move their sequences past them, as the 0004 engine would have.
    for (const table of ['experiments', 'metrics', 'metric_points']) {
      await sql`select setval(pg_get_serial_sequence(${table}, 'id'), (select coalesce(max(id), 1) from ${sql.table(table)}))`.execute(
        db,
      )
    }
  }
}

/**
 * Creates the schema of migrations 0001–0004 on the empty database of `config` and writes `content`
 * there as that code stored it. The store opened on it afterwards migrates it to the latest schema.
 */
export async function writeLegacyDatabase(config: StoreConfig, content: LegacyContent): Promise<void> {
  const legacy = openLegacy(config)
  const capabilities = config.kind === 'sqlite' ? SQLITE_CAPABILITIES : POSTGRES_CAPABILITIES
  const migrations = createMigrations(capabilities.schema)
  const migrator = new Migrator({ db: legacy.db, provider: { getMigrations: () => Promise.resolve(migrations) } })
  try {
    const { error } = await migrator.migrateTo(LEGACY_MIGRATION)
    if (error !== undefined) throw new Error(`migrating to ${LEGACY_MIGRATION} failed`, { cause: error })
    await writeContent(legacy, content)
  } finally {
    await legacy.db.destroy()
  }
}
