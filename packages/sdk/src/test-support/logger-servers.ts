import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { WharfClient } from '@wharf/client'
import type { MetricPoint } from '@wharf/contract'
import { createLog, loadServerConfig, startServer, type RunningServer } from '@wharf/server'
import { startSdkTestServer } from './sdk-server.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const REPO_ROOT = path.resolve(HERE, '../../../..')

/** A real server in this process on a loopback port over `dataDir`; `port` reuses a port (a restart). */
export function startLocalServer(options: { dataDir: string; port?: number }): Promise<RunningServer> {
  return startServer(
    loadServerConfig({ host: '127.0.0.1', port: options.port ?? 0, dataDir: options.dataDir, version: 'test' }),
    { log: createLog({ write: () => undefined }), checkResponses: true },
  )
}

export { startServerProcess, type ServerProcess } from '@wharf/server/test-support'

/** A real server over a fresh temp folder `dir` (its data in `<dir>/server`), a client of it, and `stop()` to end both. */
export interface LoggerTestServer {
  url: string
  dir: string
  client: WharfClient
  stop(): Promise<void>
}

/** Starts a {@link LoggerTestServer}: the one server a logging test file shares. */
export async function startLoggerTestServer(): Promise<LoggerTestServer> {
  const started = await startSdkTestServer()
  return { url: started.url, dir: started.dir, client: new WharfClient({ url: started.url }), stop: () => started.stop() }
}

/** A server over its own data folder with one run, that a test stops and starts again on the same port (an outage). */
export interface RestartableServer {
  /** A client of it with a 2 s request timeout, so a stopped server is noticed quickly. */
  client: WharfClient
  /** A run created on it, status Running. */
  runId: string
  /** Stops the server if it runs; its data stays. */
  stop(): Promise<void>
  /** Starts it again on the same port over the same data, if it is stopped. */
  start(): Promise<void>
}

/** Starts a {@link RestartableServer} over `dataDir` and creates a run in `experiment`. */
export async function startRestartableServer(options: { dataDir: string; experiment: string }): Promise<RestartableServer> {
  let server: RunningServer | undefined = await startLocalServer({ dataDir: options.dataDir })
  const port = server.port
  const client = new WharfClient({ url: server.url, timeoutMs: 2_000 })
  const runId = (await client.createRun({ experiment: options.experiment, status: 'Running' })).id
  return {
    client,
    runId,
    async stop() {
      const running = server
      server = undefined
      await running?.close()
    },
    async start() {
      server ??= await startLocalServer({ dataDir: options.dataDir, port })
    },
  }
}

/** Runs one of the scripts in this folder with tsx, as a user runs training code; resolves when it ends. */
export async function runTestScript(options: {
  script: string
  args: string[]
}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@wharf/source', path.join(HERE, options.script), ...options.args],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  return { code, stdout, stderr }
}

/** Every stored point of one metric, by step. */
export function readSeries(client: WharfClient, options: { runId: string; name: string }): Promise<MetricPoint[]> {
  return client.getMetricSeries(options.runId, { name: options.name, pageSize: 1000 }).toArray()
}

/** A message for a failed expectation about a series: which steps are missing or doubled. */
export function describeSteps(points: readonly MetricPoint[], expected: number): string {
  const seen = new Map<number, number>()
  for (const point of points) seen.set(point.step, (seen.get(point.step) ?? 0) + 1)
  const missing: number[] = []
  const doubled: number[] = []
  for (let step = 0; step < expected; step++) {
    const count = seen.get(step) ?? 0
    if (count === 0) missing.push(step)
    if (count > 1) doubled.push(step)
  }
  return `${points.length} points; missing steps ${missing.slice(0, 20).join(',') || 'none'}; doubled ${doubled.slice(0, 20).join(',') || 'none'}`
}
