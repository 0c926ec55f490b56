// Builds 0004-metrics.sqlite with the store as it is up to migration 0004 (metric points one per row).
// Run it only on a commit whose migrations end at 0004; it refuses otherwise, because the file must
// keep the old layout for the upgrade test:
//   node --import tsx --conditions=@wharf/source packages/store/src/test-support/legacy/build-0004-metrics.ts
import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { createMetadataStore } from '../../create-metadata-store.js'
import { SQLITE_CAPABILITIES } from '../../dialects/sqlite.js'
import { createMigrations } from '../../migrations/index.js'
import { newRunInput } from '../fixtures.js'
import { FIXTURE_PATH, FIXTURE_RUN, fixtureBatches } from './fixture-0004.js'
import { LEGACY_MIGRATION } from './legacy-0004.js'

async function build(): Promise<void> {
  const names = Object.keys(createMigrations(SQLITE_CAPABILITIES.schema))
  if (names.at(-1) !== LEGACY_MIGRATION) {
    throw new Error(
      `the migrations end at ${names.at(-1) ?? 'nothing'}, not ${LEGACY_MIGRATION}: build the fixture on an older commit`,
    )
  }
  const folder = await mkdtemp(path.join(tmpdir(), 'wharf-fixture-'))
  try {
    const file = path.join(folder, 'wharf.sqlite')
    const store = await createMetadataStore({ kind: 'sqlite', path: file })
    try {
      const at = '2026-01-01T00:00:00.000Z'
      await store.createWorkspace({
        name: FIXTURE_RUN.workspace,
        defaultDatastore: 'd',
        artifactDatastore: 'd',
        createdAt: at,
        datastores: [],
      })
      await store.createRun(newRunInput({ ...FIXTURE_RUN, id: FIXTURE_RUN.runId, createdAt: at }))
      for (const batch of fixtureBatches()) await store.ingestMetrics({ ...FIXTURE_RUN, ...batch, maxMetricNames: 10 })
    } finally {
      // Closing the last connection checkpoints the WAL into the file.
      await store.close()
    }
    // A small file in one piece: no free pages, no WAL to carry along.
    const database = new Database(file)
    database.exec('vacuum')
    database.pragma('journal_mode = delete')
    database.close()
    await copyFile(file, FIXTURE_PATH)
  } finally {
    await rm(folder, { recursive: true, force: true })
  }
}

build().then(
  () => console.log(`wrote ${FIXTURE_PATH}`),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  },
)
