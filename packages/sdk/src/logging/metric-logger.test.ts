import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { WharfClient } from '@wharf/client'
import { type WharfError } from '@wharf/contract'
import { MetricLogger, type MetricLoggerOptions } from './metric-logger.js'
import {
  describeSteps,
  readSeries,
  startLoggerTestServer,
  startRestartableServer,
  type LoggerTestServer,
  type RestartableServer,
} from '../test-support/logger-servers.js'
import { succeeds } from '../test-support/settlement.js'
import { thrownCodeOf } from '@wharf/contract/test-support'

const FAST_RETRY = { attempts: 2, initialDelayMs: 10, maxDelayMs: 40 }

describe('MetricLogger against a real server', () => {
  let t: LoggerTestServer
  let dir: string
  let client: WharfClient
  const loggers: MetricLogger[] = []

  function createLogger(options: Partial<MetricLoggerOptions> & { runId: string }): MetricLogger {
    const logger = new MetricLogger({ client, spoolDir: path.join(dir, 'spool'), ...options })
    loggers.push(logger)
    return logger
  }

  async function newRun(): Promise<string> {
    return (await client.createRun({ experiment: 'logger-tests', status: 'Running' })).id
  }

  /** A logger (fast retries) of a run on a server of its own, which stored point 0 and has just gone down. */
  async function loggerOfStoppedServer(options: { name: string; logger: Partial<MetricLoggerOptions> }): Promise<{
    logger: MetricLogger
    server: RestartableServer
  }> {
    const server = await startRestartableServer({ dataDir: path.join(dir, options.name), experiment: options.name })
    const logger = createLogger({
      client: server.client,
      runId: server.runId,
      retry: FAST_RETRY,
      flushIntervalMs: 10,
      ...options.logger,
    })
    await logger.log('loss', 0)
    await server.stop()
    return { logger, server }
  }

  beforeAll(async () => {
    t = await startLoggerTestServer()
    dir = t.dir
    client = t.client
  })
  afterEach(async () => {
    await Promise.allSettled(loggers.splice(0).map((logger) => logger.close({ timeoutMs: 5_000 })))
  })
  afterAll(() => t.stop())

  it('returns from log() at once and stores numbers, NaN, ±Infinity, strings and lists as logged', async () => {
    const runId = await newRun()
    const logger = createLogger({ runId })
    logger.log('int', 7)
    logger.log('float', 3.141592)
    logger.log('nan', Number.NaN)
    logger.log('inf', Number.POSITIVE_INFINITY)
    logger.log('inf', Number.NEGATIVE_INFINITY)
    logger.log('text', 'this is a string metric')
    logger.log('mixed', 1)
    logger.log('mixed', 'two')
    logger.log('mixed', 3)
    logger.log('stepped', 0.5, { step: 10, time: 1_700_000_000_000 })
    logger.logList('chart', [1, 3, 5, 10, 6, 4])
    // log() is synchronous and nothing above waited for the server: every point is still buffered.
    expect(logger.bufferedPoints).toBe(16)
    await logger.flush()
    expect(logger.bufferedPoints).toBe(0)

    const values = async (name: string): Promise<unknown[]> =>
      (await readSeries(client, { runId, name })).map((point) => point.value ?? point.text)
    expect(await values('int')).toEqual([7])
    expect(await values('float')).toEqual([3.141592])
    expect(await values('nan')).toEqual(['NaN'])
    expect(await values('inf')).toEqual(['Infinity', '-Infinity'])
    expect(await values('text')).toEqual(['this is a string metric'])
    expect(await values('mixed')).toEqual([1, 'two', 3])
    expect(await values('chart')).toEqual([1, 3, 5, 10, 6, 4])
    expect((await readSeries(client, { runId, name: 'chart' })).map((point) => point.step)).toEqual([0, 1, 2, 3, 4, 5])
    expect(await readSeries(client, { runId, name: 'stepped' })).toEqual([{ step: 10, time: 1_700_000_000_000, value: 0.5 }])
  })

  it('throws INVALID_ARGUMENT at the call for a bad name, value, step or time, and after close()', async () => {
    const logger = createLogger({ runId: await newRun() })
    expect(thrownCodeOf(() => logger.log('', 1))).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => logger.log('bad\nname', 1))).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => logger.log('x'.repeat(300), 1))).toBe('LIMIT_EXCEEDED')
    expect(thrownCodeOf(() => logger.log('flag', true as unknown as number))).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => logger.log('obj', {} as unknown as number))).toBe('INVALID_ARGUMENT')
    // A lone surrogate has no UTF-8 form: refused at the call, not with the rest of its batch by the server.
    expect(thrownCodeOf(() => logger.log('loss\ud800', 1))).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => logger.log('note', 'half \udc00'))).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => logger.log('loss', 1, { step: -1 }))).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => logger.log('loss', 1, { step: 1.5 }))).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => logger.log('loss', 1, { step: 2 ** 53 }))).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => logger.log('loss', 1, { time: Number.NaN }))).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => logger.logList('chart', [1, null as unknown as number, 3]))).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => logger.log('loss', Number.NaN))).toBeUndefined()
    // A rejected list buffers nothing: only the NaN above is waiting.
    expect(logger.bufferedPoints).toBe(1)
    await logger.close()
    const message = (() => {
      try {
        logger.log('loss', 1)
      } catch (error) {
        return (error as WharfError).message
      }
      return ''
    })()
    expect(message).toMatch(/closed; create a new MetricLogger/)
  })

  it('resolves wait() only once the point is readable on the server, and `await` works the same', async () => {
    const runId = await newRun()
    const logger = createLogger({ runId, flushIntervalMs: 60_000 })
    for (let i = 0; i < 5; i++) {
      await logger.log('waited', i).wait()
      expect((await readSeries(client, { runId, name: 'waited' })).map((point) => point.value)).toEqual(
        Array.from({ length: i + 1 }, (_, k) => k),
      )
    }
    await logger.log('awaited', 42)
    expect((await readSeries(client, { runId, name: 'awaited' })).map((point) => point.value)).toEqual([42])
    // A handle resolves after every earlier point of its logger, even when other batches sit before it.
    const early = logger.log('early', 1)
    for (let i = 0; i < 2_500; i++) logger.log('bulk', i)
    const late = logger.log('late', 1)
    await late
    expect(await readSeries(client, { runId, name: 'bulk' })).toHaveLength(2_500)
    await expect(early.wait()).resolves.toBeUndefined()
    expect(logger.sequence).toBeGreaterThanOrEqual(5)
  })

  it('rejects wait() with a typed error when the server refuses the batch, and tells onError', async () => {
    const errors: WharfError[] = []
    const logger = createLogger({ runId: 'no-such-run', onError: (error) => errors.push(error) })
    const first = logger.log('loss', 1)
    await expect(first.wait()).rejects.toMatchObject({ name: 'WharfError', code: 'RUN_NOT_FOUND' })
    // Every later point of this logger rejects too: a point before it can never be stored.
    await expect(logger.log('loss', 2).wait()).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' })
    await expect(logger.flush()).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' })
    expect(errors.length).toBeGreaterThanOrEqual(1)
    expect(errors.every((error) => error.code === 'RUN_NOT_FOUND')).toBe(true)
    // Ignored handles of failed points never became unhandled rejections (vitest would fail the run).
    logger.log('ignored', 1)
    await new Promise((resolve) => setTimeout(resolve, 50))
  })

  it('keeps each logger in order under concurrency: consecutive steps, values in logging order', async () => {
    const runId = await newRun()
    const perLogger = 3_000
    const writers = Array.from({ length: 4 }, (_, index) =>
      createLogger({ runId, maxBatchPoints: 137 + index * 50, flushIntervalMs: 5 + index }),
    )
    await Promise.all(
      writers.map(async (logger, index) => {
        for (let i = 0; i < perLogger; i++) {
          logger.log(`writer-${index}`, i)
          if (i % 97 === 0) await new Promise((resolve) => setImmediate(resolve))
          if (i % 1_000 === 999) await logger.log('progress', i)
        }
        await logger.flush()
      }),
    )
    for (let index = 0; index < writers.length; index++) {
      const points = await readSeries(client, { runId, name: `writer-${index}` })
      expect(points.length, describeSteps(points, perLogger)).toBe(perLogger)
      expect(points.map((point) => point.step)).toEqual(Array.from({ length: perLogger }, (_, i) => i))
      expect(points.every((point) => point.value === point.step)).toBe(true)
    }
    expect(new Set(writers.map((logger) => logger.writerId)).size).toBe(writers.length)
  })

  it('spools instead of growing memory past maxBufferedPoints, then replays the spool in order', async () => {
    const runId = await newRun()
    const logger = createLogger({ runId, maxBatchPoints: 100, maxBufferedPoints: 500 })
    const total = 20_000
    let peak = 0
    for (let i = 0; i < total; i++) {
      logger.log('loss', i)
      peak = Math.max(peak, logger.bufferedPoints)
    }
    expect(peak).toBeLessThanOrEqual(500 + 100)
    expect(existsSync(logger.spoolFile)).toBe(true)
    await logger.flush()
    expect(existsSync(logger.spoolFile)).toBe(false)
    const points = await readSeries(client, { runId, name: 'loss' })
    expect(points.length, describeSteps(points, total)).toBe(total)
    expect(points.every((point, i) => point.step === i && point.value === i)).toBe(true)
  })

  it('keeps a wait pending through a server restart (by default) and resolves it once the point is stored', async () => {
    const errors: WharfError[] = []
    const { logger, server: restartable } = await loggerOfStoppedServer({
      name: 'patient',
      logger: { onError: (error) => errors.push(error) },
    })
    const { client: local, runId } = restartable
    let settled: 'resolved' | WharfError | undefined
    const waited = logger
      .log('loss', 1)
      .wait()
      .then(
        () => (settled = 'resolved'),
        (error: unknown) => (settled = error as WharfError),
      )
    // Down long enough for the retries to run out and the batch to go to the spool file.
    await expect.poll(() => existsSync(logger.spoolFile), { timeout: 10_000, interval: 50 }).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect(settled).toBeUndefined()
    await restartable.start()
    try {
      await waited
      expect(settled).toBe('resolved')
      expect((await readSeries(local, { runId, name: 'loss' })).map((point) => point.value)).toEqual([0, 1])
      expect(errors.some((error) => error.message.includes(logger.spoolFile))).toBe(true)
    } finally {
      await logger.close()
      await restartable.stop()
    }
  })

  it('spools while the server is down, rejects waits naming the file after waitTimeoutMs, and replays once it is back', async () => {
    const errors: WharfError[] = []
    const { logger, server: restartable } = await loggerOfStoppedServer({
      name: 'restarted',
      logger: { onError: (error) => errors.push(error), waitTimeoutMs: 300 },
    })
    const { client: local, runId } = restartable

    for (let i = 1; i < 1_000; i++) logger.log('loss', i)
    const failure = await logger.flush().then(
      () => undefined,
      (error: unknown) => error as WharfError,
    )
    expect(failure?.code).toBe('SERVER_UNREACHABLE')
    expect(failure?.message).toContain(logger.spoolFile)
    expect(failure?.message).toContain('wharf sync')
    expect(errors.some((error) => error.message.includes(logger.spoolFile))).toBe(true)
    const spooled = (await readFile(logger.spoolFile, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { runId: string; writerId: string; sequence: number })
    expect(spooled.length).toBeGreaterThan(0)
    expect(spooled.every((line) => line.runId === runId && line.writerId === logger.writerId)).toBe(true)
    expect(spooled.map((line) => line.sequence)).toEqual([...spooled.map((line) => line.sequence)].sort((a, b) => a - b))

    // Logged while spooling: goes to the spool too, behind what is there (order).
    for (let i = 1_000; i < 1_500; i++) logger.log('loss', i)
    await restartable.start()
    try {
      await expect.poll(() => succeeds(logger.flush()), { timeout: 10_000, interval: 100 }).toBe(true)
      expect(existsSync(logger.spoolFile)).toBe(false)
      const points = await readSeries(local, { runId, name: 'loss' })
      expect(points.length, describeSteps(points, 1_500)).toBe(1_500)
      expect(points.every((point, i) => point.step === i && point.value === i)).toBe(true)
      // Sending goes direct again.
      await logger.log('after', 1)
      expect(existsSync(logger.spoolFile)).toBe(false)
    } finally {
      await logger.close()
      await restartable.stop()
    }
  })

  it('close({ waitForServer }) waits out a server restart instead of giving up when the retries run out', async () => {
    const { logger, server: restartable } = await loggerOfStoppedServer({ name: 'patient', logger: { onError: () => undefined } })
    const { client: local, runId } = restartable
    for (let i = 1; i < 2_000; i++) logger.log('loss', i)
    // The server comes back well after FAST_RETRY has given up.
    const back = new Promise<void>((resolve) => setTimeout(resolve, 1_000)).then(() => restartable.start())
    try {
      await logger.close({ timeoutMs: 20_000, waitForServer: true })
      await back
      expect(existsSync(logger.spoolFile)).toBe(false)
      const points = await readSeries(local, { runId, name: 'loss' })
      expect(points.length, describeSteps(points, 2_000)).toBe(2_000)
      expect(points.every((point, i) => point.step === i && point.value === i)).toBe(true)
    } finally {
      await back
      await restartable.stop()
    }
  })

  it('offline, keeps every batch in the spool without sending; a wait resolves once they are fsynced there', async () => {
    const spoolDir = path.join(dir, 'offline')
    const runId = 'offline-run'
    // The server is up, and still nothing goes to it: the run does not exist there yet.
    const logger = createLogger({ runId, spoolDir, offline: true, maxBatchPoints: 100 })
    for (let i = 0; i < 250; i++) logger.log('loss', i)
    await logger.log('loss', 250).wait()
    expect(logger.spooledPoints).toBe(251)
    await logger.close()
    const lines = (await readFile(logger.spoolFile, 'utf8')).trim().split('\n')
    expect(lines.map((line) => (JSON.parse(line) as { sequence: number }).sequence)).toEqual([0, 1, 2])
    expect(() => logger.log('loss', 251)).toThrow(/closed/)
  })
})
