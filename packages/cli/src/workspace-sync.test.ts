import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import { MetricLogger } from '@wharf/sdk'
import { createLog, loadServerConfig, startServer, type RunningServer } from '@wharf/server'
import { runWharf } from './test-support/run-cli.js'

let server: RunningServer
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wharf-cli-ws-'))
  server = await startServer(loadServerConfig({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'server') }), {
    log: createLog({ write: () => undefined }),
    checkResponses: true,
  })
})
afterAll(async () => {
  await server?.close()
  await rm(dir, { recursive: true, force: true })
})

describe('wharf workspace init', () => {
  it('writes .wharf/config.json after checking the server, and refuses to overwrite without --force', async () => {
    const project = path.join(dir, 'project')
    const env = { WHARF_TRACKING_URI: '', WHARF_HOME: path.join(dir, 'home') }
    const first = await runWharf(['workspace', 'init', '--url', server.url, '--dir', project], { env })
    expect(first.code).toBe(0)
    const file = path.join(project, '.wharf', 'config.json')
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ url: server.url, workspace: 'default' })
    const again = await runWharf(['workspace', 'init', '--url', server.url, '--dir', project], { env })
    expect(again.code).toBe(5)
    expect(again.stderr).toContain('--force')
    const token = await runWharf(
      ['workspace', 'init', '--url', server.url, '--dir', project, '--force', '--token', 'secret-token-123456', '--no-check'],
      { env },
    )
    expect(token.code).toBe(0)
    expect(token.stdout).not.toContain('secret-token-123456')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
  })

  it('says when the server cannot be reached, with exit code 6', async () => {
    const result = await runWharf(['workspace', 'init', '--url', 'http://127.0.0.1:9', '--dir', path.join(dir, 'other')], {
      env: { WHARF_HOME: path.join(dir, 'home') },
    })
    expect(result.code).toBe(6)
    expect(result.stderr).toContain('cannot reach the Wharf server')
  })
})

describe('wharf sync', () => {
  it('sends batches spooled while the server was down, once, however often it runs', async () => {
    const spoolDir = path.join(dir, 'spool')
    const client = new WharfClient({ url: server.url })
    const run = await client.createRun({ experiment: 'offline', status: 'Running' })
    // A logger whose server is unreachable spools what it cannot send.
    const offline = new MetricLogger({
      client: new WharfClient({ url: 'http://127.0.0.1:9' }),
      runId: run.id,
      spoolDir,
      retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
      onError: () => undefined,
    })
    for (let i = 0; i < 2500; i++) offline.log('loss', 1 / (i + 1))
    await offline.close().catch(() => undefined)
    expect((await readdir(spoolDir)).length).toBeGreaterThan(0)
    const env = { WHARF_HOME: path.join(dir, 'home') }
    const first = await runWharf(['sync', '--url', server.url, '--spool-dir', spoolDir], { env })
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(/sent \d+ batch(es)? \(2500 points\)/)
    const second = await runWharf(['sync', '--url', server.url, '--spool-dir', spoolDir], { env })
    expect(second.code).toBe(0)
    expect(second.stdout).toContain('sent 0 batches (0 points)')
    const summary = (await client.listMetrics(run.id))[0]
    expect(summary).toMatchObject({ name: 'loss', count: 2500, lastStep: 2499 })
  })
})
