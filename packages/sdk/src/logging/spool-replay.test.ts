import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MetricLogger } from './metric-logger.js'
import { encodeSpoolLine, spoolFilePath, type SpoolRecord } from './spool-file.js'
import { lockSpoolFile, unlockSpoolFile } from './spool-lock.js'
import { replaySpool } from './spool-replay.js'
import { describeSteps, readSeries, startLoggerTestServer, type LoggerTestServer } from '../test-support/logger-servers.js'

const BATCH = 50

function batch(options: { runId: string; writerId: string; sequence: number }): SpoolRecord {
  const first = options.sequence * BATCH
  return {
    ...options,
    workspace: 'default',
    series: [
      { name: 'loss', values: Array.from({ length: BATCH }, (_, i) => first + i), times: Array.from({ length: BATCH }, () => 1) },
    ],
  }
}

describe('replaySpool against a real server', () => {
  let t: LoggerTestServer

  beforeAll(async () => {
    t = await startLoggerTestServer()
  })
  afterAll(() => t.stop())

  async function newRun(): Promise<string> {
    return (await t.client.createRun({ experiment: 'spool-tests', status: 'Running' })).id
  }

  async function writeSpool(options: { spoolDir: string; runId: string; writerId: string; batches: number }): Promise<string> {
    await mkdir(options.spoolDir, { recursive: true })
    const file = spoolFilePath(options)
    const lines = Array.from({ length: options.batches }, (_, sequence) => encodeSpoolLine(batch({ ...options, sequence })))
    await writeFile(file, lines.join(''))
    return file
  }

  it('stores nothing twice when a replay follows a partial send, and deletes the file', async () => {
    const spoolDir = path.join(t.dir, 'partial')
    const runId = await newRun()
    const file = await writeSpool({ spoolDir, runId, writerId: 'w1', batches: 10 })
    // The first four batches reached the server before the writer died.
    for (let sequence = 0; sequence < 4; sequence++) {
      const { writerId, series } = batch({ runId, writerId: 'w1', sequence })
      await t.client.logMetrics(runId, { writerId, sequence, series })
    }
    const result = await replaySpool({ client: t.client, spoolDir })
    expect(result).toEqual({
      files: 1,
      batches: 10,
      points: 10 * BATCH,
      failed: [],
      skipped: [],
      runs: { created: 0, artifacts: 0, ended: 0 },
    })
    expect(existsSync(file)).toBe(false)
    const points = await readSeries(t.client, { runId, name: 'loss' })
    expect(points.length, describeSteps(points, 10 * BATCH)).toBe(10 * BATCH)
    expect(points.every((point, i) => point.step === i && point.value === i)).toBe(true)
    // A second replay of the same lines (say, a copy restored from a backup) changes nothing.
    await writeSpool({ spoolDir, runId, writerId: 'w1', batches: 10 })
    expect((await replaySpool({ client: t.client, spoolDir })).batches).toBe(10)
    expect(await readSeries(t.client, { runId, name: 'loss' })).toHaveLength(10 * BATCH)
  })

  it('skips a torn last line with a warning, and a copy of a line written twice', async () => {
    const spoolDir = path.join(t.dir, 'torn')
    const runId = await newRun()
    const file = await writeSpool({ spoolDir, runId, writerId: 'w1', batches: 3 })
    await appendFile(file, encodeSpoolLine(batch({ runId, writerId: 'w1', sequence: 1 })))
    await appendFile(file, encodeSpoolLine(batch({ runId, writerId: 'w1', sequence: 3 })).slice(0, 40))
    const warnings: string[] = []
    const result = await replaySpool({ client: t.client, spoolDir, onWarning: (message) => warnings.push(message) })
    expect(result).toMatchObject({ files: 1, batches: 3, points: 3 * BATCH, failed: [] })
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/cut off mid-write/)
    expect(existsSync(file)).toBe(false)
    expect(await readSeries(t.client, { runId, name: 'loss' })).toHaveLength(3 * BATCH)
  })

  it('stops with ABORTED when its caller aborts, and keeps the file whole', async () => {
    const spoolDir = path.join(t.dir, 'aborted')
    const runId = await newRun()
    const file = await writeSpool({ spoolDir, runId, writerId: 'w1', batches: 2 })
    const before = await readFile(file, 'utf8')
    const error: unknown = await replaySpool({ client: t.client, spoolDir, signal: AbortSignal.abort() }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ABORTED', exitCode: 130 })
    expect(await readFile(file, 'utf8')).toBe(before)
    expect(await readSeries(t.client, { runId, name: 'loss' }).catch(() => [])).toHaveLength(0)
  })

  it('keeps the file of a run that no longer exists and reports it', async () => {
    const spoolDir = path.join(t.dir, 'missing-run')
    const file = await writeSpool({ spoolDir, runId: 'no-such-run', writerId: 'w1', batches: 2 })
    const before = await readFile(file, 'utf8')
    const result = await replaySpool({ client: t.client, spoolDir })
    expect(result.batches).toBe(0)
    expect(result.failed).toHaveLength(1)
    expect(result.failed[0]).toMatchObject({ file, error: { code: 'RUN_NOT_FOUND' } })
    expect(await readFile(file, 'utf8')).toBe(before)
  })

  it('rewrites a file to the lines not yet stored when one is refused midway', async () => {
    const spoolDir = path.join(t.dir, 'midway')
    const runId = await newRun()
    const file = await writeSpool({ spoolDir, runId, writerId: 'w1', batches: 3 })
    const bad: SpoolRecord = {
      runId,
      workspace: 'default',
      writerId: 'w1',
      sequence: 3,
      series: [{ name: 'loss', values: [1], times: [1, 2] }],
    }
    await appendFile(file, encodeSpoolLine(bad) + encodeSpoolLine(batch({ runId, writerId: 'w1', sequence: 4 })))
    const result = await replaySpool({ client: t.client, spoolDir })
    expect(result).toMatchObject({ files: 1, batches: 3, points: 3 * BATCH })
    expect(result.failed[0]?.error.code).toBe('INVALID_ARGUMENT')
    const left = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as SpoolRecord).sequence)
    expect(left).toEqual([3, 4])
    expect(existsSync(`${file}.lock`)).toBe(false)
  })

  it('leaves alone a file locked by a live process, and takes over one whose process is gone', async () => {
    const spoolDir = path.join(t.dir, 'locked')
    const runId = await newRun()
    const busy = await writeSpool({ spoolDir, runId, writerId: 'busy', batches: 1 })
    const orphan = await writeSpool({ spoolDir, runId, writerId: 'orphan', batches: 1 })
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' })
    const dead = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
    await new Promise((resolve) => dead.once('exit', resolve))
    try {
      await writeFile(`${busy}.lock`, `${sleeper.pid}\n`)
      await writeFile(`${orphan}.lock`, `${dead.pid}\n`)
      const result = await replaySpool({ client: t.client, spoolDir, runId })
      expect(result.skipped).toEqual([{ file: busy, reason: `in use by process ${sleeper.pid}` }])
      expect(result.batches).toBe(1)
      expect(existsSync(orphan)).toBe(false)
      expect(existsSync(busy)).toBe(true)
      // In this process too: a file held here is not replayed under its holder.
      await rm(`${busy}.lock`)
      expect(lockSpoolFile(busy)).toEqual({ locked: true })
      expect((await replaySpool({ client: t.client, spoolDir })).skipped).toEqual([
        { file: busy, reason: 'in use in this process' },
      ])
      unlockSpoolFile(busy)
      expect((await replaySpool({ client: t.client, spoolDir })).batches).toBe(1)
    } finally {
      sleeper.kill('SIGKILL')
    }
  })

  it('is what a new logger of the run does first, so earlier points keep their steps', async () => {
    const spoolDir = path.join(t.dir, 'startup')
    const runId = await newRun()
    await writeSpool({ spoolDir, runId, writerId: 'earlier', batches: 4 })
    const other = await writeSpool({ spoolDir, runId: 'another-run', writerId: 'earlier', batches: 1 })
    const logger = new MetricLogger({ client: t.client, runId, spoolDir })
    try {
      for (let i = 4 * BATCH; i < 5 * BATCH; i++) logger.log('loss', i)
      await logger.flush()
    } finally {
      await logger.close()
    }
    const points = await readSeries(t.client, { runId, name: 'loss' })
    expect(points.length, describeSteps(points, 5 * BATCH)).toBe(5 * BATCH)
    expect(points.every((point, i) => point.step === i && point.value === i)).toBe(true)
    expect(existsSync(other)).toBe(true)
  })
})
