import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Limits } from '@wharf/contract'
import { startAzurite, type AzuriteInstance } from '@wharf/datastores/test-support'
import type { StoreKind } from '@wharf/store'
import { createTestDatabase, postgresTestUrl } from '@wharf/store/test-support'
import { loadServerConfig, type ServerConfigInput } from '../config.js'
import { createLog } from '../log.js'
import { startServer, type RunningServer, type StartServerOptions } from '../server.js'

/** A real server on a free loopback port, over a fresh data folder and a fresh database. */
export interface TestServer {
  server: RunningServer
  url: string
  dataDir: string
  /** Every line the server logged. */
  logLines: string[]
  stop(): Promise<void>
}

/** The registration (`blobStore` config, WHARF_BLOBSTORE as JSON) that makes workspaceblobstore the container `artifacts` of this Azurite. */
export function azuriteBlobStore(azurite: AzuriteInstance): Record<string, string> {
  return {
    kind: 'azure_blob',
    accountName: azurite.accountName,
    accountKey: azurite.accountKey,
    endpoint: azurite.endpoint,
    containerName: 'artifacts',
  }
}

/** A fresh Azurite and a SQLite test server whose workspaceblobstore is its container `artifacts`; `stop` ends both. */
export async function startAzuriteBlobServer(): Promise<{
  azurite: AzuriteInstance
  server: TestServer
  stop: () => Promise<void>
}> {
  const azurite = await startAzurite()
  try {
    const server = await startTestServer('sqlite', { config: { blobStore: azuriteBlobStore(azurite) } })
    return {
      azurite,
      server,
      stop: async () => {
        await server.stop()
        await azurite.stop()
      },
    }
  } catch (error) {
    await azurite.stop()
    throw error
  }
}

/** The store kinds to run server tests on: SQLite always, PostgreSQL when WHARF_TEST_DATABASE_URL is set. */
export function testStoreKinds(): { kind: StoreKind; enabled: boolean }[] {
  return [
    { kind: 'sqlite', enabled: true },
    { kind: 'postgres', enabled: postgresTestUrl() !== undefined },
  ]
}

/** Starts a server for a test file; `stop` closes it and removes its folder and database. */
export async function startTestServer(
  kind: StoreKind,
  options: {
    authToken?: string
    limits?: Partial<Limits>
    config?: Partial<ServerConfigInput>
    /** The heartbeat watchdog's timing (see `StartServerOptions.watchdog`). */
    watchdog?: StartServerOptions['watchdog']
  } = {},
): Promise<TestServer> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'wharf-server-test-'))
  const database = kind === 'postgres' ? await createTestDatabase() : undefined
  const logLines: string[] = []
  const config = loadServerConfig({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    ...(database ? { databaseUrl: database.url } : {}),
    ...(options.authToken ? { authToken: options.authToken } : {}),
    limits: options.limits ?? {},
    version: 'test',
    ...options.config,
  })
  const log = createLog({
    level: 'debug',
    redact: options.authToken ? [options.authToken] : [],
    write: (line) => logLines.push(line),
  })
  // Every answer is checked against the contract: a route that answers what its schema refuses fails the test.
  const server = await startServer(config, {
    log,
    checkResponses: true,
    ...(options.watchdog ? { watchdog: options.watchdog } : {}),
  })
  return {
    server,
    url: server.url,
    dataDir,
    logLines,
    async stop() {
      await server.close()
      await database?.drop()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}
