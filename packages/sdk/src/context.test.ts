import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import { runScript, startSdkTestServer } from './test-support/sdk-server.js'

let t: Awaited<ReturnType<typeof startSdkTestServer>>
let client: WharfClient

beforeAll(async () => {
  t = await startSdkTestServer()
  client = new WharfClient({ url: t.url })
})
afterAll(async () => {
  await t?.stop()
})

async function lastRunOf(experiment: string) {
  const runs = await client.listRuns({ experiment }).toArray()
  expect(runs.length).toBe(1)
  return runs[0]!
}

describe('getLogger in a script outside a submitted run', () => {
  it('runs the Workbench snippet as an interactive run that completes, with outputs, when the script ends', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'wharf-script-'))
    try {
      const result = await runScript({
        cwd,
        env: { WHARF_TRACKING_URI: t.url, WHARF_EXPERIMENT: 'snippet', WHARF_HOME: path.join(cwd, 'home') },
        source: `
import { mkdirSync, writeFileSync } from 'node:fs'
import { getLogger } from '@wharf/sdk'
const logger = getLogger()
logger.log('simple integer value', 7)
logger.log('simple float value', 3.141592)
logger.log('simple string value', 'this is a string metric')
logger.log('chart data points', [1, 3, 5, 10, 6, 4])
await logger.log('my metric 1', 1).wait()
logger.upload('artifact/path', 'contents of artifact/path')
mkdirSync('outputs/sub', { recursive: true })
writeFileSync('outputs/sub/result.json', '{"ok":true}')
for (let i = 0; i < 3000; i++) logger.log('loss', 1 / (i + 1))
`,
      })
      expect(result.stderr).not.toMatch(/Error/)
      expect(result.code).toBe(0)
      const run = await lastRunOf('snippet')
      expect(run.status).toBe('Completed')
      const metrics = await client.listMetrics(run.id)
      const byName = Object.fromEntries(metrics.map((m) => [m.name, m]))
      expect(byName['simple integer value']?.last).toBe(7)
      expect(byName['simple string value']?.last).toBe('this is a string metric')
      expect(byName['chart data points']?.count).toBe(6)
      expect(byName.loss?.count).toBe(3000)
      const files = (await client.listArtifacts(run.id).toArray()).map((a) => a.path)
      expect(files).toEqual(['artifact/path', 'outputs/sub/result.json'])
      expect(await (await client.downloadArtifact(run.id, 'artifact/path')).text()).toBe('contents of artifact/path')
    } finally {
      await rm(cwd, { recursive: true, force: true })
    }
  })

  it('marks the run Failed with the error when the script throws', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'wharf-script-'))
    try {
      const result = await runScript({
        cwd,
        env: { WHARF_TRACKING_URI: t.url, WHARF_EXPERIMENT: 'crashes', WHARF_HOME: path.join(cwd, 'home') },
        source: `
import { getLogger } from '@wharf/sdk'
const logger = getLogger()
await logger.log('epoch', 1).wait()
logger.log('epoch', 2)
setTimeout(() => { throw new Error('CUDA out of memory') }, 10)
`,
      })
      expect(result.code).toBe(1)
      expect(result.stderr).toContain('CUDA out of memory')
      const run = await lastRunOf('crashes')
      expect(run.status).toBe('Failed')
      expect(run.error?.message).toBe('CUDA out of memory')
      expect((await client.listMetrics(run.id))[0]?.count).toBe(2)
    } finally {
      await rm(cwd, { recursive: true, force: true })
    }
  })

  it('stores what was logged and marks the run Canceled on SIGTERM', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'wharf-script-'))
    try {
      const result = await runScript({
        cwd,
        env: { WHARF_TRACKING_URI: t.url, WHARF_EXPERIMENT: 'stopped', WHARF_HOME: path.join(cwd, 'home') },
        source: `
import { getLogger } from '@wharf/sdk'
const logger = getLogger()
await logger.log('step', 0).wait()
for (let i = 1; i < 500; i++) logger.log('step', i)
process.kill(process.pid, 'SIGTERM')
setInterval(() => undefined, 1000) // a training loop that would go on
`,
      })
      expect(result.code).toBe(143)
      const run = await lastRunOf('stopped')
      expect(run.status).toBe('Canceled')
      expect((await client.listMetrics(run.id))[0]?.count).toBe(500)
    } finally {
      await rm(cwd, { recursive: true, force: true })
    }
  })

  it('binds to a submitted run from WHARF_RUN_ID and leaves its status to the runner', async () => {
    const submitted = await client.createRun({ experiment: 'submitted', status: 'Running' })
    const cwd = await mkdtemp(path.join(tmpdir(), 'wharf-script-'))
    try {
      const result = await runScript({
        cwd,
        env: { WHARF_TRACKING_URI: t.url, WHARF_RUN_ID: submitted.id, WHARF_HOME: path.join(cwd, 'home') },
        source: `
import { Run } from '@wharf/sdk'
const run = await Run.getContext()
console.log(run.id)
for (let i = 0; i < 100; i++) run.log('acc', i / 100)
`,
      })
      expect(result.code).toBe(0)
      expect(result.stdout.trim()).toBe(submitted.id)
      expect((await client.getRun(submitted.id)).status).toBe('Running')
      expect((await client.listMetrics(submitted.id))[0]?.count).toBe(100)
    } finally {
      await rm(cwd, { recursive: true, force: true })
    }
  })

  it('logs explicit steps before and after the run is known; wait() resolves when stored, or rejects with the real error', async () => {
    // The server's own limits are smaller than the defaults the SDK checks against before it knows them.
    const small = await startSdkTestServer({ limits: { metricTextLength: 8 } })
    const cwd = await mkdtemp(path.join(tmpdir(), 'wharf-script-'))
    try {
      const result = await runScript({
        cwd,
        env: { WHARF_TRACKING_URI: small.url, WHARF_EXPERIMENT: 'steps', WHARF_HOME: path.join(cwd, 'home') },
        source: `
import { getContextRun, getLogger } from '@wharf/sdk'
const log = getLogger()
const codeOf = (call: () => unknown) => { try { call(); return 'none' } catch (e) { return (e as { code: string }).code } }
// Before the run is known: checked now, kept, and logged once it has started.
log.log('early', 1, { step: 5 })
log.log('early', 2)
log.log('early', [3, 4], { step: 20 })
const tooLong = log.log('note', 'x'.repeat(9))
log.log('note', 'x'.repeat(9)) // unobserved: a warning, never a crash
console.log('early bad step', codeOf(() => log.log('early', 1, { step: -1 })))
await log.log('early', 5).wait()
console.log('early stored')
try { await tooLong.wait(); console.log('too long stored') } catch (e) { console.log('too long', (e as { code: string }).code) }
// Once the run is known: straight to its logger.
const run = await getContextRun()
log.log('late', 1, { step: 3 })
await log.log('late', 2)
console.log('late bad step', codeOf(() => log.log('late', 1, { step: 1.5 })))
await run.complete()
console.log('after end', codeOf(() => log.log('late', 3)))
`,
      })
      expect(result.stdout.split('\n').filter(Boolean)).toEqual([
        'early bad step INVALID_ARGUMENT',
        'early stored',
        'too long LIMIT_EXCEEDED',
        'late bad step INVALID_ARGUMENT',
        'after end INVALID_ARGUMENT',
      ])
      expect(result.stderr).toMatch(/2 metric point\(s\) logged before run \S+ started were refused/)
      expect(result.code).toBe(0)
      const smallClient = new WharfClient({ url: small.url })
      const [run] = await smallClient.listRuns({ experiment: 'steps' }).toArray()
      expect(run?.status).toBe('Completed')
      const series = async (name: string): Promise<number[][]> =>
        (await smallClient.getMetricSeries(run?.id ?? '', { name }).toArray()).map((p) => [p.step, p.value as number])
      expect(await series('early')).toEqual([
        [5, 1],
        [6, 2],
        [20, 3],
        [21, 4],
        [22, 5],
      ])
      expect(await series('late')).toEqual([
        [3, 1],
        [4, 2],
      ])
      expect((await smallClient.listMetrics(run?.id ?? '')).map((m) => m.name).sort()).toEqual(['early', 'late'])
    } finally {
      await rm(cwd, { recursive: true, force: true })
      await small.stop()
    }
  })

  it('never crashes a script over points whose run could not start; a wait rejects with why', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'wharf-script-'))
    try {
      const result = await runScript({
        cwd,
        env: { WHARF_TRACKING_URI: '', WHARF_HOME: path.join(cwd, 'home') },
        source: `
import { getLogger } from '@wharf/sdk'
const log = getLogger()
log.log('loss', 1) // unobserved
const waited = log.log('loss', 2, { step: 4 })
try { await waited.wait(); console.log('stored') } catch (e) { console.log('early', (e as { code: string }).code) }
try { await log.log('loss', 3); console.log('stored') } catch (e) { console.log('later', (e as { code: string }).code) }
`,
      })
      expect(result.stdout.split('\n').filter(Boolean)).toEqual(['early CONFIG_NOT_FOUND', 'later CONFIG_NOT_FOUND'])
      expect(result.code).toBe(0)
    } finally {
      await rm(cwd, { recursive: true, force: true })
    }
  })

  it('says how to configure when there is no workspace config', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'wharf-script-'))
    try {
      const result = await runScript({
        cwd,
        env: { WHARF_TRACKING_URI: '', WHARF_HOME: path.join(cwd, 'home') },
        source: `
import { Workspace } from '@wharf/sdk'
try { await Workspace.fromConfig() } catch (e) { console.log((e as { code: string }).code, (e as Error).message) }
`,
      })
      expect(result.stdout).toContain('CONFIG_NOT_FOUND')
      expect(result.stdout).toContain('wharf workspace init')
    } finally {
      await rm(cwd, { recursive: true, force: true })
    }
  })
})
