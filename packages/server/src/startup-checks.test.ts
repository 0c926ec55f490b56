import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import { isWharfError } from '@wharf/contract'
import { createTestDatabase, postgresTestUrl, type TestPostgresDatabase } from '@wharf/store/test-support'
import { loadServerConfig, type ServerConfigInput } from './config.js'
import { createLog } from './log.js'
import { startServer } from './server.js'
import { startTestServer } from './test-support/test-server.js'

const key = (): string => randomBytes(32).toString('base64')

/** Starts a server, registers one datastore with a sealed secret (not validated: no storage is needed), and stops. */
async function startAndRegister(config: ServerConfigInput): Promise<void> {
  const server = await startServer(loadServerConfig(config), { log: createLog({ write: () => undefined }) })
  try {
    await new WharfClient({ url: server.url }).registerDatastore({
      kind: 's3',
      name: 'sealed',
      bucket: 'some-bucket',
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wharf-test-secret-access-key',
      skipValidation: true,
    })
  } finally {
    await server.close()
  }
}

/** The error a start refuses with, or 'started' (and the server stopped again). */
async function startError(config: ServerConfigInput, logLines: string[] = []): Promise<unknown> {
  try {
    const server = await startServer(loadServerConfig(config), { log: createLog({ write: (line) => logLines.push(line) }) })
    await server.close()
    return 'started'
  } catch (error) {
    return error
  }
}

describe('a server started with another secret key', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-key-check-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses to start on the SQLite data folder, names WHARF_SECRET_KEY and never prints a key', async () => {
    const dataDir = path.join(dir, 'env-key')
    const [first, second] = [key(), key()]
    await startAndRegister({ port: 0, dataDir, secretKey: first })
    const logLines: string[] = []
    const error = await startError({ port: 0, dataDir, secretKey: second }, logLines)
    expect(isWharfError(error, 'INVALID_ARGUMENT'), String(error)).toBe(true)
    const message = (error as Error).message
    expect(message).toContain('WHARF_SECRET_KEY')
    expect(message).toContain('"sealed"')
    for (const text of [message, logLines.join('\n')]) {
      expect(text).not.toContain(first)
      expect(text).not.toContain(second)
    }
    expect(await startError({ port: 0, dataDir, secretKey: first })).toBe('started')
  })

  it('names the key file when the data folder’s own key does not open them', async () => {
    const dataDir = path.join(dir, 'file-key')
    const first = key()
    await startAndRegister({ port: 0, dataDir, secretKey: first })
    // Without WHARF_SECRET_KEY the server makes (and then uses) secret.key in the data folder.
    const error = await startError({ port: 0, dataDir })
    expect(isWharfError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as Error).message).toContain(path.join(dataDir, 'secret.key'))
    expect((error as Error).message).not.toContain(first)
    expect(await startError({ port: 0, dataDir, secretKey: first })).toBe('started')
    // Nothing sealed yet: any key starts.
    expect(await startError({ port: 0, dataDir: path.join(dir, 'empty'), secretKey: key() })).toBe('started')
  })

  describe.skipIf(postgresTestUrl() === undefined)('on PostgreSQL', () => {
    let database: TestPostgresDatabase
    beforeAll(async () => {
      database = await createTestDatabase()
    })
    afterAll(async () => {
      await database.drop()
    })

    it('refuses a replica whose key differs from the one that sealed the stored credentials', async () => {
      const shared = key()
      await startAndRegister({ port: 0, dataDir: path.join(dir, 'replica-a'), databaseUrl: database.url, secretKey: shared })
      const error = await startError({
        port: 0,
        dataDir: path.join(dir, 'replica-b'),
        databaseUrl: database.url,
        secretKey: key(),
      })
      expect(isWharfError(error, 'INVALID_ARGUMENT')).toBe(true)
      expect((error as Error).message).toContain('WHARF_SECRET_KEY')
      expect(
        await startError({ port: 0, dataDir: path.join(dir, 'replica-c'), databaseUrl: database.url, secretKey: shared }),
      ).toBe('started')
    })
  })
  if (postgresTestUrl() === undefined) {
    console.log(
      'skipped: no PostgreSQL (set WHARF_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres to run the replica key check)',
    )
  }
})

describe('local default datastores with shared metadata', () => {
  it('warns at start on PostgreSQL that other replicas will not see the folders, and not on SQLite', async () => {
    const sqlite = await startTestServer('sqlite')
    await sqlite.stop()
    expect(sqlite.logLines.filter((line) => line.includes('WARN'))).toEqual([])
    if (postgresTestUrl() === undefined) {
      console.log(
        'skipped: no PostgreSQL (set WHARF_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres to run the PostgreSQL half)',
      )
      return
    }
    const postgres = await startTestServer('postgres')
    await postgres.stop()
    const warnings = postgres.logLines.filter((line) => line.includes('WARN'))
    expect(warnings.join('\n')).toContain('"workspaceblobstore"')
    expect(warnings.join('\n')).toContain('"workspacefilestore"')
    expect(warnings.join('\n')).toContain('WHARF_BLOBSTORE')
  })
})
