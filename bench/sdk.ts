import path from 'node:path'
import { METRIC_WIRES, WharfClient, type MetricWire } from '@wharf/client'
import { MetricLogger } from '@wharf/sdk'
import { compared, cpuSecondsOf, median, startServerProcess, tempDir, type Bench } from './harness.js'
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

/** The cost of one `log()` call, amortised, against pushing the same point into an array. */
export const logCostBench: Bench = {
  name: 'sdk.log.cost',
  description: `${CALLS} log() calls in a loop (buffering and batching included; sending happens after), median of ${ROUNDS}`,
  async run() {
    const tmp = await tempDir('logcost')
    const server = await startServerProcess({ dataDir: path.join(tmp.dir, 'server') })
    try {
      const client = new WharfClient({ url: server.url })
      const log: number[] = []
      const push: number[] = []
      for (let r = 0; r < ROUNDS; r++) {
        const run = await client.createRun({ experiment: 'bench-log-cost', status: 'Running' })
        const logger = new MetricLogger({
          client,
          runId: run.id,
          spoolDir: path.join(tmp.dir, 'spool'),
          maxBufferedPoints: CALLS * 2,
        })
        let started = performance.now()
        for (let i = 0; i < CALLS; i++) logger.log(NAMES[i & 3]!, i * 0.001)
        log.push(((performance.now() - started) * 1e6) / CALLS)
        await logger.close()
        const sink: { name: string; value: number; time: number }[] = []
        started = performance.now()
        for (let i = 0; i < CALLS; i++) sink.push({ name: NAMES[i & 3]!, value: i * 0.001, time: Date.now() })
        push.push(((performance.now() - started) * 1e6) / CALLS)
        if (sink.length !== CALLS) throw new Error('unreachable')
      }
      return [
        compared({
          bench: 'sdk.log.cost',
          unit: 'ns/call',
          value: median(log),
          baseline: { name: 'array.push.point', value: median(push) },
          extra: { calls: CALLS },
        }),
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
