import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { WharfClient } from '@wharf/client'
import type { MetricPoint } from '@wharf/contract'
import { createLog, loadServerConfig, startServer, type RunningServer } from '@wharf/server'

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
