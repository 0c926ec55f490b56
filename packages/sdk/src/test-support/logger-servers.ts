import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { WharfClient } from '@wharf/client'
import type { MetricPoint } from '@wharf/contract'
import { createLog, loadServerConfig, startServer, type RunningServer } from '@wharf/server'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const REPO_ROOT = path.resolve(HERE, '../../../..')
const BIN = path.join(REPO_ROOT, 'packages/cli/src/bin.ts')

/** A real server in this process on a loopback port over `dataDir`; `port` reuses a port (a restart). */
export function startLocalServer(options: { dataDir: string; port?: number }): Promise<RunningServer> {
  return startServer(
    loadServerConfig({ host: '127.0.0.1', port: options.port ?? 0, dataDir: options.dataDir, version: 'test' }),
    { log: createLog({ write: () => undefined }) },
  )
}

/** `wharf server` in a child process, so a test can SIGKILL it the way a crash would. */
export interface ServerProcess {
  url: string
  port: number
  /** Kills with SIGKILL: no graceful stop, requests in flight are cut. */
  kill(): Promise<void>
}

/** Starts `wharf server` from the sources over `dataDir` (on `port`, or a free one) and waits for its URL. */
export async function startServerProcess(options: { dataDir: string; port?: number }): Promise<ServerProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@wharf/source', BIN, 'server', '--port', String(options.port ?? 0), '--data-dir', options.dataDir],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
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
  return {
    url,
    port: Number(new URL(url).port),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}

/** Runs one of the scripts in this folder with tsx, as a user runs training code; resolves when it ends. */
export async function runTestScript(options: { script: string; args: string[] }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@wharf/source', path.join(HERE, options.script), ...options.args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
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
