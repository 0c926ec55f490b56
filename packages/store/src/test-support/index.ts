import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { describe } from 'vitest'
import { createMetadataStore } from '../create-metadata-store.js'
import { STORE_KINDS } from '../metadata-store.js'
import type { MetadataStore, StoreConfig, StoreKind } from '../metadata-store.js'
import type { StoreWorkerJob } from './store-worker.js'

export type { StoreWorkerJob } from './store-worker.js'
export { CRASH_BATCH_POINTS, crashBatchPoints, newRunInput } from './fixtures.js'

const WORKER = fileURLToPath(new URL('./store-worker.ts', import.meta.url))

/** The line printed when the PostgreSQL variants of a suite are skipped. */
export const POSTGRES_SKIP_LINE =
  'skipped: no PostgreSQL (set WHARF_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres to run the PostgreSQL store tests)'

/** The PostgreSQL server the tests may use (`WHARF_TEST_DATABASE_URL`), or undefined. */
export function postgresTestUrl(): string | undefined {
  const url = process.env.WHARF_TEST_DATABASE_URL
  return url === undefined || url === '' ? undefined : url
}

/** Whether tests of `kind` can run on this machine. */
export function isStoreKindAvailable(kind: StoreKind): boolean {
  return kind === 'sqlite' || postgresTestUrl() !== undefined
}

/** A fresh, uniquely named PostgreSQL database on the test server, and how to drop it. */
export interface TestPostgresDatabase {
  url: string
  drop: () => Promise<void>
}

/** The store config of a fresh, empty database (nothing migrated), and how to remove it. */
export interface TestStoreConfig {
  config: StoreConfig
  cleanup: () => Promise<void>
}

/** A migrated store on a fresh database; `cleanup` closes it and removes the database. */
export interface TestStore extends TestStoreConfig {
  store: MetadataStore
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

async function onAdminDatabase(url: string, statement: string): Promise<void> {
  // CREATE/DROP DATABASE run outside any database of ours, from the server's `postgres` database.
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

/**
 * Creates a uniquely named database on the PostgreSQL server of `WHARF_TEST_DATABASE_URL`; throws when
 * the variable is unset. `drop` removes it, closing any connection left open.
 */
export async function createTestDatabase(): Promise<TestPostgresDatabase> {
  const url = postgresTestUrl()
  if (url === undefined) throw new Error(POSTGRES_SKIP_LINE)
  const name = `wharf_test_${process.pid}_${randomBytes(6).toString('hex')}`
  await onAdminDatabase(url, `create database "${name}"`)
  return {
    url: withDatabase(url, name),
    drop: () => onAdminDatabase(url, `drop database if exists "${name}" with (force)`),
  }
}

/** A fresh database of `kind`: a SQLite file in a new temp folder, or a new PostgreSQL database. */
export async function createTestStoreConfig(kind: StoreKind, options: { poolSize?: number } = {}): Promise<TestStoreConfig> {
  if (kind === 'sqlite') {
    const folder = await mkdtemp(path.join(tmpdir(), 'wharf-store-'))
    return {
      config: { kind: 'sqlite', path: path.join(folder, 'wharf.sqlite') },
      cleanup: () => rm(folder, { recursive: true, force: true }),
    }
  }
  const database = await createTestDatabase()
  return {
    config: { kind: 'postgres', url: database.url, poolSize: options.poolSize ?? 10 },
    cleanup: database.drop,
  }
}

/** Creates a migrated store of `kind` on a fresh database; `cleanup` closes it and removes the database. */
export async function createTestStore(kind: StoreKind, options: { poolSize?: number } = {}): Promise<TestStore> {
  const database = await createTestStoreConfig(kind, options)
  let store: MetadataStore
  try {
    store = await createMetadataStore(database.config)
  } catch (error) {
    await database.cleanup()
    throw error
  }
  return {
    store,
    config: database.config,
    cleanup: async () => {
      await store.close()
      await database.cleanup()
    },
  }
}

/**
 * Declares `body` once per store kind as `title [kind]`. Kinds that cannot run here are declared with
 * `describe.skip`, and the PostgreSQL skip is announced with {@link POSTGRES_SKIP_LINE}.
 */
export function describeEachStore(title: string, body: (kind: StoreKind) => void): void {
  for (const kind of STORE_KINDS) {
    const available = isStoreKindAvailable(kind)
    if (!available) console.log(POSTGRES_SKIP_LINE)
    ;(available ? describe : describe.skip)(`${title} [${kind}]`, () => body(kind))
  }
}

/** Runs one {@link StoreWorkerJob} in a separate Node process; resolves with its exit code and stderr. */
export function runStoreWorker(job: StoreWorkerJob): Promise<{ code: number | null; stderr: string }> {
  const args = ['--import', 'tsx', '--conditions=@wharf/source', WORKER, JSON.stringify(job)]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stderr }))
  })
}

/** A worker process started by {@link startStoreWorker}. */
export interface StartedStoreWorker {
  /** Each line the worker printed on stdout, in order, as it arrives. */
  lines: string[]
  /** Resolves once a line arrives while `lines.length >= count`, or when the worker exits first. */
  waitForLines: (count: number) => Promise<void>
  /** Sends SIGKILL: the worker dies mid-statement, as in a power cut. */
  kill: () => void
  /** Resolves when the process has exited and its stdout is read to the end. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>
}

/** Starts one {@link StoreWorkerJob} in a separate Node process and follows its stdout line by line. */
export function startStoreWorker(job: StoreWorkerJob): StartedStoreWorker {
  const args = ['--import', 'tsx', '--conditions=@wharf/source', WORKER, JSON.stringify(job)]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  const waiters: Array<{ count: number; resolve: () => void }> = []
  const wake = (all: boolean) => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i]
      if (waiter !== undefined && (all || lines.length >= waiter.count)) {
        waiters.splice(i, 1)
        waiter.resolve()
      }
    }
  }
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const reader = createInterface({ input: child.stdout })
  reader.on('line', (line) => {
    lines.push(line)
    wake(false)
  })
  const readerClosed = new Promise<void>((resolve) => reader.once('close', resolve))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => {
      void readerClosed.then(() => {
        wake(true)
        resolve({ code, signal, stderr })
      })
    })
  })
  return {
    lines,
    waitForLines: (count) =>
      lines.length >= count || child.exitCode !== null
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ count, resolve })),
    kill: () => {
      child.kill('SIGKILL')
    },
    exited,
  }
}
