import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { Kysely, Migrator, SqliteDialect } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMetadataStore } from '../create-metadata-store.js'
import { SQLITE_CAPABILITIES } from '../dialects/sqlite.js'
import { createMigrations } from './index.js'

describe('0004-submitted-runs on a SQLite database that already holds runs', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-migrate-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('reads the runs from before with status times their other times tell, and changes them as any run', async () => {
    const file = path.join(dir, 'wharf.db')
    const raw = new Database(file)
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: raw }) })
    const migrator = new Migrator({
      db,
      provider: { getMigrations: () => Promise.resolve(createMigrations(SQLITE_CAPABILITIES.schema)) },
    })
    try {
      expect((await migrator.migrateTo('0003-signed-zero')).error).toBeUndefined()
      raw.exec(`insert into workspaces (name, default_datastore, artifact_datastore, created_at) values ('w', 'b', 'b', 't0')`)
      raw.exec(`insert into experiments (id, workspace, name, created_at) values (1, 'w', 'e', 't0')`)
      raw.exec(`insert into runs (id, workspace, experiment_id, display_name, description, status, created_at, started_at, ended_at,
          tags, properties, compute_target) values
        ('done', 'w', 1, '', '', 'Completed', 't0', 't1', 't2', '{}', '{}', 'local'),
        ('fresh', 'w', 1, '', '', 'NotStarted', 't0', null, null, '{}', '{}', 'local')`)
    } finally {
      await db.destroy()
    }

    const store = await createMetadataStore({ kind: 'sqlite', path: file })
    try {
      const done = await store.getRun({ workspace: 'w', runId: 'done' })
      expect(done).toMatchObject({
        statusTimes: { Running: 't1', Completed: 't2' },
        snapshotId: null,
        definition: null,
        heartbeatAt: null,
        cancelRequestedAt: null,
      })
      expect((await store.getRun({ workspace: 'w', runId: 'fresh' })).statusTimes).toEqual({ NotStarted: 't0' })
      const running = await store.transitionRun({ workspace: 'w', runId: 'fresh', status: 'Running', at: 't3' })
      expect(running.statusTimes).toEqual({ NotStarted: 't0', Running: 't3' })
    } finally {
      await store.close()
    }
  })
})
