import { existsSync } from 'node:fs'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import type { Run as RunInfo } from '@wharf/contract'
import { describeSteps, readSeries, startServerProcess, type ServerProcess } from '../test-support/logger-servers.js'
import { runScript, runWharf, type ScriptResult } from '../test-support/sdk-server.js'

// Scripts run the way users run training code (tsx, getLogger(), an interactive run), against a real
// server process that is killed and started again on the same port and data folder.

/**
 * A training loop that logs `points` points and awaits `.wait()` every `every`, as users write it: a
 * rejected wait is not caught, so it fails the script (and the run).
 */
function waitingScript(options: { points: number; every: number }): string {
  return `
import { mkdirSync, writeFileSync } from 'node:fs'
import { getLogger } from '@wharf/sdk'
const log = getLogger()
for (let i = 0; i < ${options.points}; i++) {
  const handle = log.log('loss', i)
  if ((i + 1) % ${options.every} === 0) {
    await handle.wait()
    console.log('logged ' + (i + 1))
  }
}
mkdirSync('outputs', { recursive: true })
writeFileSync('outputs/model.txt', 'weights')
console.log('done')
`
}

/** A free loopback port with nothing listening on it. */
async function freePort(): Promise<number> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wharf-outage-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function onlyRun(client: WharfClient, experiment: string): Promise<RunInfo> {
  const runs = await client.listRuns({ experiment }).toArray()
  expect(runs.map((run) => run.id)).toHaveLength(1)
  return runs[0] as RunInfo
}

async function expectAllPoints(client: WharfClient, options: { runId: string; points: number }): Promise<void> {
  const points = await readSeries(client, { runId: options.runId, name: 'loss' })
  expect(points.length, describeSteps(points, options.points)).toBe(options.points)
  expect(points.every((point, i) => point.step === i && point.value === i)).toBe(true)
}

/** The spool folder of a script run with this WHARF_HOME. */
function spoolOf(home: string): string {
  return path.join(home, 'spool')
}

async function filesUnder(folder: string): Promise<string[]> {
  return existsSync(folder) ? (await readdir(folder, { recursive: true })).map(String).sort() : []
}

describe('a script awaiting .wait() while its server goes away', () => {
  let server: ServerProcess | undefined
  // Every server a test started, the restarted ones too: each is stopped, not only the last.
  const started: ServerProcess[] = []
  const start = async (options: { dataDir: string; port?: number }): Promise<ServerProcess> => {
    const child = await startServerProcess(options)
    started.push(child)
    return child
  }
  afterAll(async () => {
    await Promise.all(started.map((child) => child.kill()))
  })

  /** Runs `writers` scripts at once; when each has logged 10,000 points the server is SIGKILLed, and started again 3 s later. */
  async function loggingThroughRestart(options: { name: string; writers: number; points: number }): Promise<void> {
    const dataDir = path.join(dir, `${options.name}-server`)
    server = await start({ dataDir })
    const { port, url } = server
    let restarted: Promise<void> | undefined
    const midRun = new Set<number>()
    const restart = (i: number, stdout: string): void => {
      if (stdout.includes('logged 10000\n')) midRun.add(i)
      if (restarted !== undefined || midRun.size < options.writers) return
      restarted = (async () => {
        await server?.kill()
        await new Promise((resolve) => setTimeout(resolve, 3_000))
        server = await start({ dataDir, port })
      })()
    }
    const scripts = await Promise.all(
      Array.from({ length: options.writers }, async (_, i) => {
        const cwd = await mkdtemp(path.join(dir, `${options.name}-${i}-`))
        const env = { WHARF_TRACKING_URI: url, WHARF_EXPERIMENT: `${options.name}-${i}`, WHARF_HOME: path.join(cwd, 'home') }
        const result = await runScript({
          cwd,
          env,
          source: waitingScript({ points: options.points, every: 5_000 }),
          onStdout: (stdout) => restart(i, stdout),
        })
        return { i, cwd, result }
      }),
    )
    await restarted
    expect(restarted).toBeDefined()
    const client = new WharfClient({ url })
    for (const { i, cwd, result } of scripts) {
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toContain(`logged ${options.points}`)
      const run = await onlyRun(client, `${options.name}-${i}`)
      expect(run.status, result.stderr).toBe('Completed')
      await expectAllPoints(client, { runId: run.id, points: options.points })
      expect((await client.listArtifacts(run.id).toArray()).map((a) => a.path)).toEqual(['outputs/model.txt'])
      // Everything reached the server in the end: nothing is left for `wharf sync`.
      expect((await filesUnder(spoolOf(path.join(cwd, 'home')))).filter((name) => name.endsWith('.jsonl'))).toEqual([])
    }
  }

  it('loses nothing when the server is SIGKILLed mid-run and restarted 3 s later: every point stored, run Completed', async () => {
    await loggingThroughRestart({ name: 'restart', writers: 1, points: 200_000 })
  }, 180_000)

  it('loses nothing with four such scripts at once', async () => {
    await loggingThroughRestart({ name: 'four', writers: 4, points: 50_000 })
  }, 240_000)

  it('loses nothing behind a proxy that answers one 502', async () => {
    const POINTS = 20_000
    const dataDir = path.join(dir, 'proxy-server')
    const upstream = await startServerProcess({ dataDir })
    const target = new URL(upstream.url)
    let refused = 0
    // A real HTTP proxy on loopback: the first metrics batch gets a 502, everything else is forwarded.
    const proxy = http.createServer((req, res) => {
      if (refused === 0 && req.method === 'POST' && req.url?.includes('/metrics') === true) {
        refused++
        req.resume()
        res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway')
        return
      }
      const forward = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        },
      )
      forward.on('error', () => res.destroy())
      req.pipe(forward)
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    try {
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
      const cwd = await mkdtemp(path.join(dir, 'proxy-'))
      const result = await runScript({
        cwd,
        env: { WHARF_TRACKING_URI: proxyUrl, WHARF_EXPERIMENT: 'proxied', WHARF_HOME: path.join(cwd, 'home') },
        source: waitingScript({ points: POINTS, every: 1_000 }),
      })
      expect(result.code, result.stderr).toBe(0)
      expect(refused).toBe(1)
      expect(result.stdout).toContain('done')
      const client = new WharfClient({ url: upstream.url })
      const run = await onlyRun(client, 'proxied')
      expect(run.status).toBe('Completed')
      await expectAllPoints(client, { runId: run.id, points: POINTS })
    } finally {
      proxy.closeAllConnections()
      await new Promise((resolve) => proxy.close(resolve))
      await upstream.kill()
    }
  }, 120_000)
})

describe('a script whose server cannot be reached', () => {
  it('logs offline when the server is down from the start; wharf sync creates the run with everything, once', async () => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const cwd = await mkdtemp(path.join(dir, 'offline-'))
    const home = path.join(cwd, 'home')
    const env = { WHARF_TRACKING_URI: url, WHARF_EXPERIMENT: 'train', WHARF_HOME: home }
    // The README's train.ts, plus an output file and an uploaded text.
    const result = await runScript({
      cwd,
      env,
      source: `
import { mkdirSync, writeFileSync } from 'node:fs'
import { getLogger } from '@wharf/sdk'

const log = getLogger()
for (let epoch = 1; epoch <= 10; epoch++) log.log('loss', 1 / epoch)
log.log('accuracy', 0.93)
await log.log('accuracy', 0.94).wait()
log.upload('notes.txt', 'trained offline')
mkdirSync('outputs', { recursive: true })
writeFileSync('outputs/model.bin', 'weights')
`,
    })
    expect(result.code, result.stderr).toBe(0)
    const warnings = result.stderr.split('\n').filter((line) => line.includes('warning'))
    expect(warnings, result.stderr).toHaveLength(1)
    expect(warnings[0]).toContain(`could not reach the Wharf server at ${url}`)
    expect(warnings[0]).toContain(spoolOf(home))
    expect(warnings[0]).toContain('12 metric points, 1 output files and its final status (Completed)')
    expect(warnings[0]).toContain('Run `npx wharf sync` when the server is back')
    const runId = /run (\S+) \(experiment "/.exec(warnings[0] ?? '')?.[1] ?? ''
    // Client-made ids look like the server's: a lowercase ULID.
    expect(runId).toMatch(/^[0-9a-hjkmnp-tv-z]{26}$/)
    const spooled = await filesUnder(spoolOf(home))
    expect(spooled.filter((name) => name.endsWith('.jsonl'))).toHaveLength(2)
    const records = (await readFile(path.join(spoolOf(home), 'runs', runId, 'run.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { kind: string })
    expect(records.map((record) => record.kind)).toEqual(['create', 'artifact', 'artifact', 'end'])

    const server = await startServerProcess({ dataDir: path.join(dir, 'offline-server'), port })
    try {
      const first = await runWharf(['sync', '--url', url], { cwd, env })
      expect(first.code, first.stderr).toBe(0)
      expect(first.stdout).toContain('(12 points)')
      const client = new WharfClient({ url })
      const run = await client.getRun(runId)
      expect(run).toMatchObject({ experiment: 'train', status: 'Completed' })
      const records0 = records[0] as unknown as { startedAt: string }
      expect(run.startedAt).toBe(records0.startedAt)
      const metrics = Object.fromEntries((await client.listMetrics(runId)).map((m) => [m.name, m]))
      expect(metrics.loss).toMatchObject({ count: 10, last: 0.1 })
      expect(metrics.accuracy).toMatchObject({ count: 2, last: 0.94 })
      expect((await client.listArtifacts(runId).toArray()).map((a) => a.path)).toEqual(['notes.txt', 'outputs/model.bin'])
      expect(await (await client.downloadArtifact(runId, 'outputs/model.bin')).text()).toBe('weights')
      expect(await filesUnder(spoolOf(home))).toEqual([])

      const second = await runWharf(['sync', '--url', url], { cwd, env })
      expect(second.code, second.stderr).toBe(0)
      expect(second.stdout).toContain('sent 0 batches (0 points)')
      expect(await client.getRun(runId)).toEqual(run)
      expect((await client.listRuns({ experiment: 'train' }).toArray()).map((r) => r.id)).toEqual([runId])
      expect((await client.listMetrics(runId)).map((m) => m.count)).toEqual([2, 10])
    } finally {
      await server.kill()
    }
  }, 120_000)

  it('keeps the final status when the server dies right at the end; wharf sync sets it', async () => {
    const dataDir = path.join(dir, 'end-server')
    let server = await startServerProcess({ dataDir })
    const { port, url } = server
    const cwd = await mkdtemp(path.join(dir, 'end-'))
    const home = path.join(cwd, 'home')
    const env = { WHARF_TRACKING_URI: url, WHARF_EXPERIMENT: 'late', WHARF_HOME: home }
    let killed: Promise<void> | undefined
    try {
      const result = await runScript({
        cwd,
        env,
        onStdout: (stdout) => {
          if (stdout.includes('stored\n')) killed ??= server.kill()
        },
        source: `
import { mkdirSync, writeFileSync } from 'node:fs'
import { getLogger } from '@wharf/sdk'
const log = getLogger()
for (let i = 0; i < 999; i++) log.log('loss', i)
await log.log('loss', 999).wait()
mkdirSync('outputs', { recursive: true })
writeFileSync('outputs/model.txt', 'weights')
console.log('stored')
// The script ends just as its server goes away.
while (await fetch('${url}/api/v1/health').then(() => true, () => false)) await new Promise((resolve) => setTimeout(resolve, 50))
`,
      })
      await killed
      expect(result.code, result.stderr).toBe(0)
      expect(result.stderr).toContain('its final status (Completed)')
      expect(result.stderr).toContain('Run `npx wharf sync` when the server is back')
      server = await startServerProcess({ dataDir, port })
      const client = new WharfClient({ url })
      const before = await onlyRun(client, 'late')
      expect(before.status).toBe('Running')
      const first = await runWharf(['sync', '--url', url], { cwd, env })
      expect(first.code, first.stderr).toBe(0)
      const run = await client.getRun(before.id)
      expect(run.status).toBe('Completed')
      await expectAllPoints(client, { runId: run.id, points: 1000 })
      expect((await client.listArtifacts(run.id).toArray()).map((a) => a.path)).toEqual(['outputs/model.txt'])
      const second = await runWharf(['sync', '--url', url], { cwd, env })
      expect(second.code, second.stderr).toBe(0)
      expect(await client.getRun(run.id)).toEqual(run)
    } finally {
      await server.kill()
    }
  }, 120_000)
})

describe('logging after the run has ended', () => {
  it('throws at the call instead of dropping the point', async () => {
    const server = await startServerProcess({ dataDir: path.join(dir, 'closed-server') })
    try {
      const cwd = await mkdtemp(path.join(dir, 'closed-'))
      const result: ScriptResult = await runScript({
        cwd,
        env: { WHARF_TRACKING_URI: server.url, WHARF_EXPERIMENT: 'closed', WHARF_HOME: path.join(cwd, 'home') },
        source: `
import { getContextRun, getLogger } from '@wharf/sdk'
const log = getLogger()
await log.log('loss', 1).wait()
await (await getContextRun()).complete()
try {
  log.log('loss', 2)
  console.log('accepted')
} catch (error) {
  console.log('threw ' + (error as { code: string }).code)
}
`,
      })
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout.trim()).toBe('threw INVALID_ARGUMENT')
    } finally {
      await server.kill()
    }
  }, 60_000)
})
