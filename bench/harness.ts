import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** One benchmark result, printed as one JSON line so runs can be compared across commits. */
export interface BenchResult {
  bench: string
  value: number
  unit: string
  baseline?: string
  baselineValue?: number
  ratio?: number
  [extra: string]: unknown
}

/** A named benchmark; `run` returns its results (usually one, with its baseline). */
export interface Bench {
  name: string
  description: string
  run(): Promise<BenchResult[]>
}

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** The median of some numbers (machines are shared and noisy: report medians). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** A result with its baseline and the ratio between them, rounded for reading. */
export function compared(result: {
  bench: string
  unit: string
  value: number
  baseline: { name: string; value: number }
  extra?: Record<string, unknown>
}): BenchResult {
  const { bench, unit, value, baseline, extra = {} } = result
  return {
    bench,
    value: Math.round(value),
    unit,
    baseline: baseline.name,
    baselineValue: Math.round(baseline.value),
    ratio: Math.round((value / baseline.value) * 100) / 100,
    ...extra,
  }
}

/** A fresh temp folder, removed by the returned function. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `wharf-bench-${prefix}-`))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** A Wharf server in a child process (its own core), as a user runs it. */
export interface ServerProcess {
  url: string
  stop(): Promise<void>
}

/** Starts `wharf server` from the sources on a free loopback port and waits for its URL. */
export async function startServerProcess(options: { dataDir: string; env?: Record<string, string> }): Promise<ServerProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@wharf/source', path.join(REPO_ROOT, 'packages/cli/src/bin.ts'), 'server', '--port', '0', '--data-dir', options.dataDir],
    { cwd: REPO_ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const match = /running at (http:\/\/\S+)/.exec(stdout)
      if (match?.[1]) resolve(match[1])
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)))
  })
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}
