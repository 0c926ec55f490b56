import { mkdtemp, readFile, rm } from 'node:fs/promises'
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
  /** Decimal places kept (default none): small figures such as bytes per point need a few. */
  digits?: number
}): BenchResult {
  const { bench, unit, value, baseline, extra = {}, digits = 0 } = result
  const round = (n: number): number => Math.round(n * 10 ** digits) / 10 ** digits
  return {
    bench,
    value: round(value),
    unit,
    baseline: baseline.name,
    baselineValue: round(baseline.value),
    ratio: Math.round((value / baseline.value) * 100) / 100,
    ...extra,
  }
}

/** A fresh temp folder, removed by the returned function. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `wharf-bench-${prefix}-`))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

export { startServerProcess, type ServerProcess } from '@wharf/server/test-support'

/**
 * CPU seconds (user + system) a process has used so far, read from /proc (Linux). Under a shared,
 * loaded machine CPU time per point is steadier than points per second. NaN where /proc is absent.
 */
export async function cpuSecondsOf(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime
    return ticks / CLOCK_TICKS
  } catch {
    return NaN
  }
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times; 100 on every common build. */
const CLOCK_TICKS = 100
