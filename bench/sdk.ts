import { spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { METRIC_WIRES, WharfClient, type MetricWire } from '@wharf/client'
import { MetricLogger } from '@wharf/sdk'
import {
  REPO_ROOT,
  compared,
  cpuSecondsOf,
  median,
  startServerProcess,
  tempDir,
  type Bench,
  type BenchResult,
} from './harness.js'
import { rawInsertRate } from './ingest.js'

const CALLS = Number(process.env.WHARF_BENCH_LOG_CALLS ?? 200_000)
const POINTS = Number(process.env.WHARF_BENCH_POINTS ?? 400_000)
const WRITERS = Number(process.env.WHARF_BENCH_WRITERS ?? 8)
const ROUNDS = Number(process.env.WHARF_BENCH_ROUNDS ?? 3)
const NAMES = ['loss', 'accuracy', 'lr', 'grad_norm']
/** The SDK's body form (WHARF_BENCH_WIRE=json measures the JSON body it sent before decision 0029). */
const WIRE = wireOf(process.env.WHARF_BENCH_WIRE ?? 'msgpack')

function wireOf(name: string): MetricWire {
  const wire = METRIC_WIRES.find((one) => one === name)
  if (wire === undefined) throw new Error(`WHARF_BENCH_WIRE is ${name}; use one of ${METRIC_WIRES.join(', ')}`)
  return wire
}

const CHILD_SCRIPT = path.join(REPO_ROOT, 'bench', 'log-cost-child.ts')
// tsx's loader by absolute path: `--import tsx` would be resolved from the child's working folder.
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

/** Runs bench/log-cost-child.ts in `mode` as its own process and returns the ns per call it measured. */
async function measureInChild(options: {
  mode: 'known' | 'early'
  serverUrl: string
  dir: string
}): Promise<Record<string, number>> {
  await mkdir(options.dir, { recursive: true })
  const child = spawn(
    process.execPath,
    ['--import', TSX_LOADER, '--conditions=@wharf/source', CHILD_SCRIPT, options.mode, String(CALLS)],
    {
      cwd: options.dir,
      env: {
        ...process.env,
        WHARF_TRACKING_URI: options.serverUrl,
        WHARF_HOME: path.join(options.dir, 'home'),
        WHARF_EXPERIMENT: 'bench-log-cost',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  if (code !== 0) throw new Error(`bench/log-cost-child.ts ${options.mode} exited with ${code}: ${stderr}`)
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>
}

function figure(measured: Record<string, number>, key: string): number {
  const value = measured[key]
  if (typeof value !== 'number') throw new Error(`bench/log-cost-child.ts printed no "${key}"`)
  return value
}

/**
 * The cost of one `log()` call, amortised, against pushing the same point into an array: the
 * `run.log()` form, the Workbench-style `getLogger().log()` once the run is known, and the latter
 * before it is (a script's first loop, whose points are kept until the run has started). Each round
 * runs in fresh processes, since the context run is one per process.
 */
export const logCostBench: Bench = {
  name: 'sdk.log.cost',
  description: `${CALLS} log() calls per form in chunks of 20,000 taking turns with array pushes (buffering and batching included; sending happens between chunks), median over chunks, then of ${ROUNDS} rounds; value is wall clock, cpuValue this process's CPU time`,
  async run() {
    const tmp = await tempDir('logcost')
    const server = await startServerProcess({ dataDir: path.join(tmp.dir, 'server') })
    try {
      const figures: Record<string, number[]> = {}
      const keep = (measured: Record<string, number>, keys: string[]): void => {
        for (const key of keys) (figures[key] ??= []).push(figure(measured, key))
      }
      for (let r = 0; r < ROUNDS; r++) {
        const known = await measureInChild({ mode: 'known', serverUrl: server.url, dir: path.join(tmp.dir, `known-${r}`) })
        keep(known, ['push', 'pushCpu', 'runLog', 'runLogCpu', 'getLogger', 'getLoggerCpu'])
        const before = await measureInChild({ mode: 'early', serverUrl: server.url, dir: path.join(tmp.dir, `early-${r}`) })
        keep(before, ['push', 'pushCpu', 'early', 'earlyCpu'])
      }
      const medianOf = (key: string): number => median(figures[key] ?? [])
      // One baseline for every line: the pushes timed alongside each form, in both kinds of process.
      const baseline = { name: 'array.push.point', value: medianOf('push') }
      const line = (bench: string, key: string, form: string): BenchResult =>
        compared({
          bench,
          unit: 'ns/call',
          value: medianOf(key),
          baseline,
          extra: {
            form,
            cpuValue: Math.round(medianOf(`${key}Cpu`)),
            cpuBaselineValue: Math.round(medianOf('pushCpu')),
            cpuRatio: Math.round((medianOf(`${key}Cpu`) / medianOf('pushCpu')) * 100) / 100,
            calls: CALLS,
            rounds: ROUNDS,
          },
        })
      return [
        line('sdk.log.cost', 'runLog', 'run.log(name, number)'),
        line('sdk.log.cost.getLogger', 'getLogger', 'getLogger().log(name, number), run known'),
        line('sdk.log.cost.getLogger.early', 'early', 'getLogger().log(name, number), before the run is known'),
      ]
    } finally {
      await server.stop()
      await tmp.remove()
    }
  },
}

/** Points logged through the SDK, stored in SQLite by a server in its own process, against raw inserts. */
export const sdkIngestBench: Bench = {
  name: 'ingest.sdk.sqlite',
  description: `${POINTS} points logged with log() by ${WRITERS} loggers until stored (${WIRE} bodies), median of ${ROUNDS} fresh rounds`,
  async run() {
    const tmp = await tempDir('sdk-ingest')
    try {
      const raw: number[] = []
      for (let r = 0; r < ROUNDS; r++) raw.push(rawInsertRate(tmp.dir, r))
      const rates: number[] = []
      // CPU milliseconds per 1,000 points of the SDK's process (log calls included) and of the server.
      const clientCpu: number[] = []
      const serverCpu: number[] = []
      for (let r = 0; r < ROUNDS; r++) {
        const server = await startServerProcess({ dataDir: path.join(tmp.dir, `server-${r}`) })
        try {
          const client = new WharfClient({ url: server.url, metricWire: WIRE })
          const round = async (points: number): Promise<{ rate: number; clientCpuMs: number; serverCpuMs: number }> => {
            const runs = await Promise.all(
              Array.from({ length: WRITERS }, () => client.createRun({ experiment: 'bench-sdk', status: 'Running' })),
            )
            const loggers = runs.map(
              (run) =>
                new MetricLogger({ client, runId: run.id, spoolDir: path.join(tmp.dir, 'spool'), maxBufferedPoints: points }),
            )
            const perWriter = Math.floor(points / WRITERS)
            const serverBefore = await cpuSecondsOf(server.pid)
            const clientBefore = process.cpuUsage()
            const started = performance.now()
            // Interleave the writers in slices, as concurrent training loops would.
            for (let offset = 0; offset < perWriter; offset += 1000) {
              for (const logger of loggers) {
                for (let i = offset; i < Math.min(offset + 1000, perWriter); i++) logger.log(NAMES[i & 3]!, Math.sin(i))
              }
              await new Promise((resolve) => setImmediate(resolve))
            }
            await Promise.all(loggers.map((l) => l.flush()))
            const seconds = (performance.now() - started) / 1000
            const used = process.cpuUsage(clientBefore)
            const serverSeconds = (await cpuSecondsOf(server.pid)) - serverBefore
            await Promise.all(loggers.map((l) => l.close()))
            const logged = perWriter * WRITERS
            return {
              rate: logged / seconds,
              clientCpuMs: ((used.user + used.system) / 1000) * (1000 / logged),
              serverCpuMs: serverSeconds * 1000 * (1000 / logged),
            }
          }
          await round(POINTS / 10) // warm-up
          const measured = await round(POINTS)
          rates.push(measured.rate)
          clientCpu.push(measured.clientCpuMs)
          serverCpu.push(measured.serverCpuMs)
        } finally {
          await server.stop()
        }
      }
      return [
        compared({
          bench: 'ingest.sdk.sqlite',
          unit: 'points/s',
          value: median(rates),
          baseline: { name: 'sqlite.raw.insert', value: median(raw) },
          extra: {
            writers: WRITERS,
            points: POINTS,
            rounds: ROUNDS,
            wire: WIRE,
            clientCpuMsPer1000: Math.round(median(clientCpu) * 100) / 100,
            serverCpuMsPer1000: Math.round(median(serverCpu) * 100) / 100,
          },
        }),
      ]
    } finally {
      await tmp.remove()
    }
  },
}
