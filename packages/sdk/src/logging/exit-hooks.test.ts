import { EventEmitter } from 'node:events'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import type { WharfError } from '@wharf/contract'
import { LoggerRegistry } from './exit-hooks.js'
import { MetricLogger, flushAllLoggers, type MetricLoggerOptions } from './metric-logger.js'
import { replaySpool } from './spool-replay.js'
import { describeSteps, readSeries, startLoggerTestServer, type LoggerTestServer } from '../test-support/logger-servers.js'

// The hooks of a registry of its own listen on an EventEmitter the test fires, so `beforeExit` and
// `exit` happen here without ending the test process (metric-logger-exit.test.ts ends real scripts).

describe('the exit hooks of MetricLoggers', () => {
  let t: LoggerTestServer
  const loggers: MetricLogger[] = []

  function createLogger(options: Partial<MetricLoggerOptions> & { runId: string }): MetricLogger {
    const logger = new MetricLogger({ client: t.client, spoolDir: path.join(t.dir, 'spool'), ...options })
    loggers.push(logger)
    return logger
  }

  async function newRun(): Promise<string> {
    return (await t.client.createRun({ experiment: 'exit-hooks', status: 'Running' })).id
  }

  beforeAll(async () => {
    t = await startLoggerTestServer()
  })
  afterEach(async () => {
    await Promise.allSettled(loggers.splice(0).map((logger) => logger.close({ timeoutMs: 5_000 })))
  })
  afterAll(() => t.stop())

  it('at exit, writes the points in memory to the spool file, rejects the waits and lets go of the lock', async () => {
    const events = new EventEmitter()
    const registry = new LoggerRegistry(events)
    const runId = await newRun()
    const errors: WharfError[] = []
    const spoolDir = path.join(t.dir, 'at-exit')
    const logger = createLogger({
      runId,
      spoolDir,
      flushIntervalMs: 60_000,
      maxBatchPoints: 100,
      onError: (error) => errors.push(error),
    })
    registry.add(logger)
    // Stored, so the logger's start (a replay of earlier spool files, which would take this one over
    // once released) is over.
    await logger.log('loss', 0)
    for (let i = 1; i < 251; i++) logger.log('loss', i)
    const waited = logger
      .log('loss', 251)
      .wait()
      .then(
        () => 'resolved',
        (error: unknown) => error as WharfError,
      )
    expect(registry.exiting).toBe(false)
    events.emit('exit')
    expect(registry.exiting).toBe(true)
    // All of it is in the file before emit() returns: at a real exit nothing async would run.
    expect(logger.bufferedPoints).toBe(0)
    const lines = (await readFile(logger.spoolFile, 'utf8')).trim().split('\n')
    expect(lines.map((line) => (JSON.parse(line) as { sequence: number }).sequence)).toEqual([1, 2, 3])
    expect(existsSync(`${logger.spoolFile}.lock`)).toBe(false)
    const failure = await waited
    expect(failure).toMatchObject({ code: 'SERVER_UNREACHABLE' })
    expect((failure as WharfError).message).toContain(logger.spoolFile)
    expect(errors.map((error) => error.message)).toEqual([
      expect.stringMatching(/^251 metric points of run .*: the process exited before they were sent/),
    ])
    const replay = await replaySpool({ client: t.client, spoolDir })
    expect(replay).toMatchObject({ failed: [], points: 251 })
    const points = await readSeries(t.client, { runId, name: 'loss' })
    expect(points.length, describeSteps(points, 252)).toBe(252)
    expect(points.every((point, i) => point.step === i && point.value === i)).toBe(true)
  })

  it('when the event loop runs dry, sends the points in memory without anyone calling flush', async () => {
    const events = new EventEmitter()
    const registry = new LoggerRegistry(events)
    const runId = await newRun()
    const logger = createLogger({ runId, flushIntervalMs: 60_000 })
    registry.add(logger)
    for (let i = 0; i < 100; i++) logger.log('loss', i)
    events.emit('beforeExit')
    await expect
      .poll(async () => (await readSeries(t.client, { runId, name: 'loss' })).length, { timeout: 10_000, interval: 50 })
      .toBe(100)
    await expect.poll(() => logger.bufferedPoints).toBe(0)
    expect(existsSync(logger.spoolFile)).toBe(false)
  })

  it('looks after a logger until it stops: flushAllLoggers counts the live ones', async () => {
    const runId = await newRun()
    const first = createLogger({ runId })
    const second = createLogger({ runId })
    first.log('loss', 1)
    second.log('loss', 2)
    expect(await flushAllLoggers()).toEqual({ loggers: 2, failed: [] })
    await first.close()
    expect(await flushAllLoggers()).toEqual({ loggers: 1, failed: [] })
    await second.close()
    expect(await flushAllLoggers()).toEqual({ loggers: 0, failed: [] })
    expect(
      (await readSeries(t.client, { runId, name: 'loss' })).map((point) => point.value).sort((a, b) => Number(a) - Number(b)),
    ).toEqual([1, 2])
  })

  it('flushAllLoggers gives up on a server that hangs after timeoutMs and spools every unsent point', async () => {
    const sockets = new Set<Socket>()
    const hung = createServer((socket) => {
      sockets.add(socket)
      socket.on('error', () => undefined)
    })
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve))
    const { port } = hung.address() as AddressInfo
    const runId = await newRun()
    const spoolDir = path.join(t.dir, 'hung')
    const logger = createLogger({
      client: new WharfClient({ url: `http://127.0.0.1:${port}` }),
      runId,
      spoolDir,
      maxBatchPoints: 100,
    })
    try {
      for (let i = 0; i < 1_050; i++) logger.log('loss', i)
      const started = performance.now()
      const result = await flushAllLoggers({ timeoutMs: 300 })
      expect(performance.now() - started).toBeLessThan(2_000)
      expect(result.failed.find((failure) => failure.writerId === logger.writerId)?.error.code).toBe('SERVER_UNREACHABLE')
      expect(logger.bufferedPoints).toBe(0)
      await logger.close({ timeoutMs: 100 }).catch(() => undefined)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => hung.close(resolve))
    }
    // Everything, the batch that was in flight included, is in the spool: a replay stores it all once.
    const replay = await replaySpool({ client: t.client, spoolDir })
    expect(replay).toMatchObject({ failed: [], points: 1_050 })
    const points = await readSeries(t.client, { runId, name: 'loss' })
    expect(points.length, describeSteps(points, 1_050)).toBe(1_050)
    expect(points.every((point, i) => point.step === i && point.value === i)).toBe(true)
  })
})
