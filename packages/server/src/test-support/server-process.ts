import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startAzurite, type AzuriteInstance } from '@wharf/datastores/test-support'
import { createTestDatabase } from '@wharf/store/test-support'
import { azuriteBlobStore } from './test-server.js'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..')
const BIN = path.join(REPO_ROOT, 'packages/cli/src/bin.ts')

/** `wharf server` in a child process: its own core, and a real process a test can stop or kill. */
export interface ServerProcess {
  url: string
  port: number
  /** The process id (benchmarks read its CPU time). */
  pid: number
  /** Graceful stop (SIGTERM): requests in flight finish. */
  stop(): Promise<void>
  /** SIGKILL, the way a crash ends it: requests in flight are cut. */
  kill(): Promise<void>
  /** Everything the server wrote to stderr so far (its log). */
  stderr(): string
  /** False once the process has exited, by itself or stopped. */
  isRunning(): boolean
}

/**
 * Starts `wharf server` from the sources over `dataDir` (on `port`, or a free one) and waits for its URL.
 * With WHARF_SERVER_CPU_PROF set to a folder, the server writes a V8 CPU profile there when it stops
 * (`node --cpu-prof`): how the benchmarks find where the server's time goes.
 */
export async function startServerProcess(options: {
  dataDir: string
  port?: number
  env?: Record<string, string>
}): Promise<ServerProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...cpuProfileFlags(process.env.WHARF_SERVER_CPU_PROF),
      '--import',
      'tsx',
      '--conditions=@wharf/source',
      BIN,
      'server',
      '--port',
      String(options.port ?? 0),
      '--data-dir',
      options.dataDir,
    ],
    { cwd: REPO_ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const match = /running at (http:\/\/\S+)/.exec(stdout)
      if (match?.[1]) resolve(match[1])
    })
    void exited.then(() => reject(new Error(`wharf server exited before it was ready: ${stderr}`)))
  })
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
  }
  return {
    url,
    port: Number(new URL(url).port),
    pid: child.pid ?? -1,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    stderr: () => stderr,
    isRunning: () => child.exitCode === null && child.signalCode === null,
  }
}

function cpuProfileFlags(folder: string | undefined): string[] {
  return folder === undefined || folder === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${folder}`]
}

/** Server replicas sharing one PostgreSQL database and one Azurite blob store, as a team runs them. */
export interface Replicas {
  servers: ServerProcess[]
  /** The Azurite that holds `workspaceblobstore` (container `artifacts`). */
  azurite: AzuriteInstance
  /** Stops the servers, Azurite and drops the database and data folders. */
  stop(): Promise<void>
}

/**
 * Starts `count` `wharf server` processes on one fresh database of the WHARF_TEST_DATABASE_URL server
 * (throws when it is unset: the caller skips first), with one Azurite as `workspaceblobstore` and the
 * same WHARF_SECRET_KEY. They start one after another, so the first one alone migrates the database.
 */
export async function startReplicas(options: { count: number }): Promise<Replicas> {
  const database = await createTestDatabase()
  const azurite = await startAzurite()
  const servers: ServerProcess[] = []
  const folders: string[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.stop()))
    await azurite.stop()
    await database.drop()
    await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })))
  }
  const env = {
    WHARF_DATABASE_URL: database.url,
    WHARF_SECRET_KEY: randomBytes(32).toString('base64'),
    WHARF_BLOBSTORE: JSON.stringify(azuriteBlobStore(azurite)),
  }
  try {
    for (let i = 0; i < options.count; i++) {
      const dataDir = await mkdtemp(path.join(tmpdir(), `wharf-replica-${i}-`))
      folders.push(dataDir)
      servers.push(await startServerProcess({ dataDir, env }))
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { servers, azurite, stop }
}
