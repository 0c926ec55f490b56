import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { replaySpool } from './spool-replay.js'
import {
  describeSteps,
  readSeries,
  runTestScript,
  startLoggerTestServer,
  type LoggerTestServer,
} from '../test-support/logger-servers.js'

const POINTS = 5_000

describe('a script that logs and ends', () => {
  let t: LoggerTestServer

  beforeAll(async () => {
    t = await startLoggerTestServer()
  })
  afterAll(() => t.stop())

  async function runScript(options: { spoolDir: string; end: 'return' | 'exit' }): Promise<{ runId: string; stderr: string }> {
    const result = await runTestScript({
      script: 'log-points-script.ts',
      args: [t.url, options.spoolDir, String(POINTS), options.end],
    })
    expect(result.code, result.stderr).toBe(0)
    const runId = /^run (\S+)$/m.exec(result.stdout)?.[1]
    expect(runId, result.stdout).toBeDefined()
    return { runId: runId ?? '', stderr: result.stderr }
  }

  async function expectAllStored(runId: string): Promise<void> {
    const points = await readSeries(t.client, { runId, name: 'loss' })
    expect(points.length, describeSteps(points, POINTS)).toBe(POINTS)
    expect(points.every((point, i) => point.step === i && point.value === i)).toBe(true)
  }

  it('loses nothing when it just ends without calling flush', async () => {
    const spoolDir = path.join(t.dir, 'return')
    const { runId, stderr } = await runScript({ spoolDir, end: 'return' })
    expect(stderr).toBe('')
    await expectAllStored(runId)
    expect(existsSync(spoolDir) ? await readdir(spoolDir) : []).toEqual([])
  })

  it('loses nothing when it calls process.exit() right after logging, once the spool is replayed', async () => {
    const spoolDir = path.join(t.dir, 'exit')
    const { runId, stderr } = await runScript({ spoolDir, end: 'exit' })
    // The script is told where its points went and how to send them.
    expect(stderr).toMatch(/metric points of run .* saved in .*\.jsonl, and `wharf sync` sends them/)
    const files = await readdir(spoolDir)
    expect(files.filter((name) => name.endsWith('.jsonl'))).toHaveLength(1)
    expect(files.filter((name) => name.endsWith('.lock'))).toEqual([])
    const result = await replaySpool({ client: t.client, spoolDir })
    expect(result.failed).toEqual([])
    expect(result.points).toBe(POINTS)
    await expectAllStored(runId)
    expect(await readdir(spoolDir)).toEqual([])
  })
})
