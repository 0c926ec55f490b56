import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { Kysely, Migrator, SqliteDialect } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMetadataStore } from '../create-metadata-store.js'
import { SQLITE_CAPABILITIES } from '../dialects/sqlite.js'
import { createMigrations } from './index.js'

describe('0006-lifecycle-and-models on a SQLite database that already holds experiments and runs', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-migrate-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps them live, without tags, and lets them be tagged and deleted as new ones', async () => {
    const file = path.join(dir, 'wharf.db')
    const raw = new Database(file)
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: raw }) })
    const migrator = new Migrator({
      db,
      provider: { getMigrations: () => Promise.resolve(createMigrations(SQLITE_CAPABILITIES.schema)) },
    })
    try {
      expect((await migrator.migrateTo('0005-metric-chunks')).error).toBeUndefined()
      raw.exec(`insert into workspaces (name, default_datastore, artifact_datastore, created_at) values ('w', 'b', 'b', 't0')`)
      raw.exec(`insert into experiments (id, workspace, name, created_at) values (1, 'w', 'e', '2026-01-01T00:00:00.000Z')`)
      raw.exec(`insert into runs (id, workspace, experiment_id, display_name, description, status, created_at, started_at, ended_at,
          tags, properties, compute_target) values ('old', 'w', 1, '', '', 'Completed', 't0', 't1', 't2', '{}', '{}', 'local')`)
    } finally {
      await db.destroy()
    }

    const store = await createMetadataStore({ kind: 'sqlite', path: file })
    try {
      const experiment = await store.getExperimentDetails({ workspace: 'w', id: 1 })
      expect(experiment).toEqual({
        id: 1,
        workspace: 'w',
        name: 'e',
        createdAt: '2026-01-01T00:00:00.000Z',
        tags: {},
        updatedAt: '2026-01-01T00:00:00.000Z',
        deletedAt: null,
      })
      const run = await store.getRun({ workspace: 'w', runId: 'old' })
      expect(run.deletedAt).toBeUndefined()
      expect((await store.setRunDeleted({ workspace: 'w', runId: 'old', deleted: true, at: 't3' })).deletedAt).toBe('t3')
      const tagged = await store.changeExperiment({ workspace: 'w', id: 1, setTags: { a: 'b' }, at: 't4' })
      expect(tagged).toMatchObject({ tags: { a: 'b' }, updatedAt: 't4', deletedAt: null })
      expect(await store.listLoggedModels({ workspace: 'w' })).toEqual([])
    } finally {
      await store.close()
    }
  })
})
