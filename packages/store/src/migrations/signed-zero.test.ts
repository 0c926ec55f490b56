import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { Kysely, Migrator, SqliteDialect } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SQLITE_CAPABILITIES } from '../dialects/sqlite.js'
import { createMigrations } from './index.js'

describe('0003-signed-zero on a SQLite database that already holds metrics', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-migrate-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps every row, the index and the unique name per run, and from then on keeps -0', async () => {
    const file = path.join(dir, 'wharf.db')
    const raw = new Database(file)
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: raw }) })
    const migrator = new Migrator({
      db,
      provider: { getMigrations: () => Promise.resolve(createMigrations(SQLITE_CAPABILITIES.schema)) },
    })
    try {
      expect((await migrator.migrateTo('0002-assets')).error).toBeUndefined()
      raw.exec(
        `insert into workspaces (name, default_datastore, artifact_datastore, created_at) values ('w', 'b', 'b', '2026-01-01')`,
      )
      raw.exec(`insert into experiments (id, workspace, name, created_at) values (1, 'w', 'e', '2026-01-01')`)
      raw.exec(`insert into runs (id, workspace, experiment_id, display_name, description, status, created_at, tags, properties, compute_target)
        values ('r1', 'w', 1, '', '', 'Running', '2026-01-01', '{}', '{}', 'local')`)
      raw.exec(`insert into metrics values (7, 'r1', 'loss', 2, 2, 1, 5.5, 0.25, null, 0.25, 0.5, 1, 0)`)
      raw.exec(
        `insert into metric_points (id, metric_id, step, "time", "value", "text") values (1, 7, 0, 1.5, 0.5, null), (2, 7, 1, 2.5, 0.25, null)`,
      )

      expect((await migrator.migrateTo('0003-signed-zero')).error).toBeUndefined()
      expect(raw.prepare('select id, metric_id, step, "time", "value", "text" from metric_points order by id').all()).toEqual([
        { id: 1, metric_id: 7, step: 0, time: 1.5, value: 0.5, text: null },
        { id: 2, metric_id: 7, step: 1, time: 2.5, value: 0.25, text: null },
      ])
      expect(raw.prepare('select name, last_value, min_value, max_value from metrics').all()).toEqual([
        { name: 'loss', last_value: 0.25, min_value: 0.25, max_value: 0.5 },
      ])
      expect(
        raw.prepare(`select name from sqlite_master where type = 'index' and name = 'metric_points_by_step'`).all(),
      ).toHaveLength(1)
      expect(() => raw.exec(`insert into metrics values (8, 'r1', 'loss', 0, 0, 0, 0, null, null, null, null, 0, 0)`)).toThrow(
        /UNIQUE/,
      )

      raw.prepare('insert into metric_points (metric_id, step, "time", "value") values (?, ?, ?, ?)').run(7, 2, 3.5, -0)
      raw.prepare('update metrics set last_value = ?, min_value = ? where id = 7').run(-0, -0)
      const point = raw.prepare('select "value" from metric_points where step = 2').get() as { value: number }
      const summary = raw.prepare('select last_value, min_value from metrics where id = 7').get() as {
        last_value: number
        min_value: number
      }
      expect([point.value, summary.last_value, summary.min_value].map((v) => Object.is(v, -0))).toEqual([true, true, true])
    } finally {
      await db.destroy()
    }
  })
})
