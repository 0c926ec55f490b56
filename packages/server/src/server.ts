import { mkdir } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import { WharfError } from '@wharf/contract'
import { createMetadataStore, type MetadataStore, type StoreConfig } from '@wharf/store'
import { createApp } from './app.js'
import { assertKeyOpensStoredSecrets, ensureDefaultWorkspace, warnLocalBuiltinsOnSharedStore } from './bootstrap.js'
import type { ServerConfig } from './config.js'
import { createDriverRegistry } from './driver-registry.js'
import { createLog, type Log } from './log.js'
import { startWatchdog } from './watchdog.js'
import type { RegistrationContext } from './datastores.js'
import { SECRET_KEY_FILE, createSecretBox, loadSecretKey } from './secret-box.js'

/** A running server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:5050`. */
  readonly url: string
  readonly port: number
  readonly store: MetadataStore
  /**
   * Graceful stop: refuses new connections, lets requests in flight finish (and their batches commit),
   * then closes the store. Idempotent.
   */
  close(): Promise<void>
}

/** Where the metadata lives for a config: PostgreSQL when a URL is set, else SQLite in the data folder. */
export function storeConfigOf(config: ServerConfig): StoreConfig {
  return config.databaseUrl !== undefined
    ? { kind: 'postgres', url: config.databaseUrl }
    : { kind: 'sqlite', path: path.join(config.dataDir, 'wharf.db') }
}

/** Options of {@link startServer}. */
export interface StartServerOptions {
  log?: Log
  /** See `AppDeps.checkResponses`. */
  checkResponses?: boolean
  /**
   * The heartbeat watchdog: how long a runner may stay silent (default the config's
   * runnerTimeoutSeconds) and how often runs are checked (default a tenth of that, 1–5 s).
   */
  watchdog?: { timeoutMs?: number; intervalMs?: number }
}

/** Opens the store, makes sure the default workspace exists, starts the heartbeat watchdog, and listens. */
export async function startServer(config: ServerConfig, options: StartServerOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLog({ redact: config.authToken ? [config.authToken] : [] })
  await mkdir(config.dataDir, { recursive: true })
  const box = createSecretBox(
    await loadSecretKey({ dataDir: config.dataDir, ...(config.secretKey !== undefined ? { envKey: config.secretKey } : {}) }),
  )
  const datastores: RegistrationContext = { box, log, policy: { filesystemRoots: config.filesystemRoots } }
  const store = await createMetadataStore(storeConfigOf(config))
  try {
    await assertKeyOpensStoredSecrets(store, {
      box,
      keySource:
        config.secretKey !== undefined ? 'WHARF_SECRET_KEY' : `the key file ${path.join(config.dataDir, SECRET_KEY_FILE)}`,
    })
    await ensureDefaultWorkspace(store, { dataDir: config.dataDir, configured: config.builtinStores, context: datastores })
    await warnLocalBuiltinsOnSharedStore(store, log)
  } catch (error) {
    await store.close()
    throw error
  }
  const stopping = new AbortController()
  const app = createApp({
    closing: stopping.signal,
    store,
    config,
    log,
    datastores,
    drivers: createDriverRegistry(store, datastores),
    ...(options.checkResponses === true ? { checkResponses: true } : {}),
  })

  let server: Server
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: config.host, port: config.port }) as Server
      s.once('listening', () => resolve(s))
      s.once('error', reject)
    })
  } catch (cause) {
    await store.close()
    const code = (cause as NodeJS.ErrnoException).code
    throw new WharfError(
      'INVALID_ARGUMENT',
      code === 'EADDRINUSE'
        ? `port ${config.port} on ${config.host} is already in use; pick another with --port (0 picks a free one)`
        : `cannot listen on ${config.host}:${config.port}: ${(cause as Error).message}`,
      { cause },
    )
  }
  const timeoutMs = options.watchdog?.timeoutMs ?? config.runnerTimeoutSeconds * 1000
  const watchdog = startWatchdog({
    store,
    log,
    timeoutMs,
    intervalMs: options.watchdog?.intervalMs ?? Math.min(5_000, Math.max(1_000, timeoutMs / 10)),
  })
  // Keep-alive sockets must not hold shutdown open forever, but requests in flight must finish.
  server.keepAliveTimeout = 5_000
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  const url = `http://${host}:${address.port}`

  let closing: Promise<void> | undefined
  return {
    url,
    port: address.port,
    store,
    close() {
      closing ??= (async () => {
        stopping.abort()
        await watchdog.stop()
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeIdleConnections()
        })
        await store.close()
      })()
      return closing
    },
  }
}
