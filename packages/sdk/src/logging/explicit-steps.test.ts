import path from 'node:path'
import { readFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MetricSeriesIn } from '@wharf/contract'
import { isWharfError } from '@wharf/contract'
import { ColumnBatch } from './column-batch.js'
import { MetricLogger } from './metric-logger.js'
import { replaySpool } from './spool-replay.js'
import { Workspace } from '../workspace.js'
import { readSeries, startLoggerTestServer, type LoggerTestServer } from '../test-support/logger-servers.js'
import { seededRandom as seeded } from '@wharf/contract/test-support'

/** The error `call` throws at once, or undefined. */
function thrownBy(call: () => unknown): unknown {
  try {
    call()
  } catch (error) {
    return error
  }
  return undefined
}

describe('a batch with explicit and server-assigned steps in one metric', () => {
  it('splits each metric into consecutive series entries, steps all-or-none, in logging order (seeded)', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const random = seeded(seed)
      const batch = new ColumnBatch(0)
      const logged: { name: string; value: number; step: number | undefined }[] = []
      for (let i = 0; i < 200; i++) {
        const name = random() < 0.5 ? 'a' : 'b'
        const step = random() < 0.4 ? Math.floor(random() * 1000) : undefined
        logged.push({ name, value: i, step })
        batch.add(name, i, step, 1_700_000_000_000 + i)
      }
      for (const entry of batch.series) {
        const count = entry.values?.length ?? 0
        expect(count, `seed ${seed}`).toBeGreaterThan(0)
        if (entry.steps !== undefined) expect(entry.steps.length, `seed ${seed}`).toBe(count)
      }
      for (const name of ['a', 'b']) {
        const entries = batch.series.filter((entry) => entry.name === name)
        // Neighbouring entries of a name differ in kind: a split happens only where the kind changes.
        for (let i = 1; i < entries.length; i++) {
          expect((entries[i]?.steps === undefined) !== (entries[i - 1]?.steps === undefined), `seed ${seed}`).toBe(true)
        }
        const flattened = entries.flatMap((entry: MetricSeriesIn) =>
          (entry.values ?? []).map((value, i) => ({ name, value, step: entry.steps?.[i] })),
        )
        expect(flattened, `seed ${seed}`).toEqual(logged.filter((point) => point.name === name))
      }
    }
  })
})

describe('explicit steps against a real server', () => {
  let t: LoggerTestServer
  let ws: Workspace

  beforeAll(async () => {
    t = await startLoggerTestServer()
    ws = Workspace.connect({ url: t.url, spoolDir: path.join(t.dir, 'spool') })
  })
  afterAll(() => t.stop())

  it('stores run.log(name, value, { step }) and logList(name, values, { step }) at those steps', async () => {
    const run = await ws.experiment('steps').startLogging({ outputs: false })
    run.log('loss', 0.9, { step: 100 })
    run.log('loss', 0.8, { step: 200 })
    run.log('flag', true, { step: 3 })
    run.logList('chart', [1, 2, 3], { step: 50 })
    await run.log('loss', 0.7, { step: 300 })
    expect(await readSeries(t.client, { runId: run.id, name: 'loss' })).toMatchObject([
      { step: 100, value: 0.9 },
      { step: 200, value: 0.8 },
      { step: 300, value: 0.7 },
    ])
    expect(await readSeries(t.client, { runId: run.id, name: 'flag' })).toMatchObject([{ step: 3, value: 1 }])
    expect((await readSeries(t.client, { runId: run.id, name: 'chart' })).map((p) => [p.step, p.value])).toEqual([
      [50, 1],
      [51, 2],
      [52, 3],
    ])
    await run.complete()
  })

  it('keeps the logging order of a metric that mixes explicit and server-assigned steps, across batches', async () => {
    const run = await t.client.createRun({ experiment: 'steps', status: 'Running' })
    // Batches of 3 points: the mixed runs of points cross batch boundaries too.
    const logger = new MetricLogger({ client: t.client, runId: run.id, spoolDir: path.join(t.dir, 'spool'), maxBatchPoints: 3 })
    try {
      const plan: (number | undefined)[] = [undefined, undefined, 10, 11, undefined, undefined, 20, undefined, 30, 31, 32]
      for (const [value, step] of plan.entries()) logger.log('mixed', value, step === undefined ? undefined : { step })
      logger.log('other', 1)
      await logger.flush()
      const points = await readSeries(t.client, { runId: run.id, name: 'mixed' })
      // The server gives a point without a step the one after the metric's last: read by step, the
      // values come back in the order they were logged.
      expect(points.map((point) => point.value)).toEqual(plan.map((_, value) => value))
      expect(points.map((point) => point.step)).toEqual([0, 1, 10, 11, 12, 13, 20, 21, 30, 31, 32])
    } finally {
      await logger.close()
    }
  })

  it('refuses a bad step at the call with INVALID_ARGUMENT saying what to pass, and buffers nothing', async () => {
    const run = await ws.experiment('steps').startLogging({ outputs: false })
    for (const step of [-1, 1.5, 2 ** 53, Number.NaN, '3' as unknown as number, null as unknown as number]) {
      const error = thrownBy(() => run.log('loss', 1, { step }))
      expect(isWharfError(error, 'INVALID_ARGUMENT'), `step ${String(step)}`).toBe(true)
      expect((error as Error).message).toMatch(
        /metric "loss": step must be a whole number from 0 to 9007199254740991, got .*; pass \{ step:/,
      )
    }
    // A list whose last step would pass the largest safe integer is refused whole.
    expect(
      isWharfError(
        thrownBy(() => run.logList('chart', [1, 2], { step: Number.MAX_SAFE_INTEGER })),
        'INVALID_ARGUMENT',
      ),
    ).toBe(true)
    expect(run.logger.bufferedPoints).toBe(0)
    await run.complete()
  })

  it('keeps explicit steps through the spool file and its replay (`wharf sync`)', async () => {
    const spoolDir = path.join(t.dir, 'spool-steps')
    const run = await t.client.createRun({ experiment: 'steps', status: 'Running' })
    // An offline logger writes every batch to its spool file and sends nothing.
    const logger = new MetricLogger({ client: t.client, runId: run.id, spoolDir, offline: true, maxBatchPoints: 4 })
    logger.log('loss', 0.5)
    logger.log('loss', 0.4, { step: 7 })
    logger.logList('loss', [0.3, 0.2], { step: 10 })
    logger.log('loss', 0.1)
    logger.log('text', 'hello', { step: 42 })
    await logger.close()
    expect(await t.client.listMetrics(run.id)).toEqual([])
    // In the file the explicit steps are columns of their own series entries, beside entries without.
    const lines = (await readFile(logger.spoolFile, 'utf8')).trim().split('\n')
    const entries = lines.flatMap((line) => (JSON.parse(line) as { series: MetricSeriesIn[] }).series)
    expect(entries.filter((entry) => entry.name === 'loss').map((entry) => entry.steps ?? null)).toEqual([
      null,
      [7, 10, 11],
      null,
    ])
    const result = await replaySpool({ client: t.client, spoolDir })
    expect(result).toMatchObject({ files: 1, points: 6, failed: [] })
    expect((await readSeries(t.client, { runId: run.id, name: 'loss' })).map((p) => [p.step, p.value])).toEqual([
      [0, 0.5],
      [7, 0.4],
      [10, 0.3],
      [11, 0.2],
      [12, 0.1],
    ])
    expect(await readSeries(t.client, { runId: run.id, name: 'text' })).toMatchObject([{ step: 42, text: 'hello' }])
  })
})
