import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import type { WharfError } from '@wharf/contract'
import { MetricLogger } from './metric-logger.js'
import { describeSteps, readSeries, startServerProcess, type ServerProcess } from '../test-support/logger-servers.js'
import { succeeds } from '../test-support/settlement.js'

describe('MetricLogger when the server is killed mid-logging', () => {
  let dir: string
  let server: ServerProcess | undefined

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-logger-crash-'))
  })
  afterAll(async () => {
    await server?.kill()
    await rm(dir, { recursive: true, force: true })
  })

  it('ends with every acknowledged point stored exactly once and every spooled point replayed', async () => {
    const dataDir = path.join(dir, 'server')
    server = await startServerProcess({ dataDir })
    const port = server.port
    const client = new WharfClient({ url: server.url, timeoutMs: 2_000 })
    const runId = (await client.createRun({ experiment: 'crash', status: 'Running' })).id
    const errors: WharfError[] = []
    const logger = new MetricLogger({
      client,
      runId,
      spoolDir: path.join(dir, 'spool'),
      maxBatchPoints: 100,
      flushIntervalMs: 10,
      retry: { attempts: 3, initialDelayMs: 20, maxDelayMs: 100 },
      // Waits give up at once here, so the test sees which points were spooled rather than stored.
      waitTimeoutMs: 0,
      onError: (error) => errors.push(error),
    })
    const acknowledged: number[] = []
    const refused: WharfError[] = []
    let next = 0
    const logUntil = async (end: number): Promise<void> => {
      for (; next < end; next++) {
        const handle = logger.log('loss', next)
        if (next % 50 === 49) {
          const index = next
          void handle.wait().then(
            () => acknowledged.push(index),
            (error: unknown) => refused.push(error as WharfError),
          )
        }
        if (next % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 1))
      }
    }

    try {
      await logUntil(2_000)
      await server.kill()
      await logUntil(4_000)
      server = await startServerProcess({ dataDir, port })
      await logUntil(6_000)
      await expect.poll(() => succeeds(logger.flush()), { timeout: 60_000, interval: 100 }).toBe(true)
    } finally {
      await logger.close({ timeoutMs: 5_000 }).catch(() => undefined)
    }

    const points = await readSeries(client, { runId, name: 'loss' })
    expect(points.length, describeSteps(points, 6_000)).toBe(6_000)
    // Steps assigned in logging order with no gap and no double means each point arrived once, in order.
    expect(points.every((point, i) => point.step === i && point.value === i)).toBe(true)
    expect(acknowledged.length).toBeGreaterThan(0)
    for (const index of acknowledged) expect(points[index]?.value).toBe(index)
    // While the server was gone, waits on spooled points rejected, naming the spool file.
    expect(refused.length).toBeGreaterThan(0)
    expect(refused.every((error) => error.code === 'SERVER_UNREACHABLE' && error.message.includes(logger.spoolFile))).toBe(true)
    expect(errors.some((error) => error.message.includes('wharf sync'))).toBe(true)
    // Two server starts from source plus the replay: slow when CI's two cores are saturated.
  }, 120_000)
})
