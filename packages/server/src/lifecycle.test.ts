import { afterEach, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import { isWharfError } from '@wharf/contract'
import { loadServerConfig } from './config.js'
import { startTestServer, type TestServer } from './test-support/test-server.js'

const TOKEN = 'correct-horse-battery-staple-42'

describe('server config', () => {
  it('refuses a non-loopback address without a token, and says how to set one', () => {
    let error: unknown
    try {
      loadServerConfig({ host: '0.0.0.0', dataDir: '/tmp/x' })
    } catch (e) {
      error = e
    }
    expect(isWharfError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as Error).message).toContain('WHARF_AUTH_TOKEN')
    expect(loadServerConfig({ host: '0.0.0.0', dataDir: '/tmp/x', authToken: TOKEN }).host).toBe('0.0.0.0')
  })

  it('names the bad setting', () => {
    expect(() => loadServerConfig({ dataDir: '/tmp/x', port: 70000 })).toThrow(/port/)
    expect(() => loadServerConfig({ dataDir: '/tmp/x', databaseUrl: 'mysql://x' })).toThrow(/postgres:\/\//)
    expect(() => loadServerConfig({ dataDir: '/tmp/x', limits: { colour: 1 } })).toThrow(/limits/)
    expect(() => loadServerConfig({ dataDir: '/tmp/x', authToken: 'short' })).toThrow(/16 characters/)
  })
})

describe('server with an auth token', () => {
  let t: TestServer | undefined
  afterEach(async () => {
    await t?.stop()
    t = undefined
  })

  it('requires the bearer token on every request and never logs it', async () => {
    t = await startTestServer('sqlite', { authToken: TOKEN })
    await expect(new WharfClient({ url: t.url }).health()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' })
    await expect(new WharfClient({ url: t.url, token: 'wrong-token-wrong-token' }).listWorkspaces()).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    })
    const unauthorised = await fetch(`${t.url}/api/v1/workspaces/default/runs`)
    expect(unauthorised.status).toBe(401)
    const client = new WharfClient({ url: t.url, token: TOKEN })
    const run = await client.createRun({ experiment: 'auth' })
    expect((await client.getRun(run.id)).id).toBe(run.id)
    expect(t.logLines.join('\n')).not.toContain(TOKEN)
  })
})

describe('client against no server', () => {
  it('says the server cannot be reached and how to start it', async () => {
    const client = new WharfClient({ url: 'http://127.0.0.1:1' })
    const error = await client.health().catch((e: unknown) => e)
    expect(isWharfError(error, 'SERVER_UNREACHABLE')).toBe(true)
    expect((error as Error).message).toMatch(/npm start|wharf server/)
  })
})

describe('graceful shutdown', () => {
  it('finishes every batch in flight before closing: nothing acknowledged is lost', async () => {
    const t = await startTestServer('sqlite')
    const client = new WharfClient({ url: t.url })
    const run = await client.createRun({ experiment: 'shutdown', status: 'Running' })
    let firstAck: () => void = () => undefined
    const acked = new Promise<void>((resolve) => (firstAck = resolve))
    const sends = Array.from({ length: 40 }, (_, i) =>
      client
        .logMetrics(run.id, {
          writerId: 'w',
          sequence: i,
          points: Array.from({ length: 500 }, (_, j) => ({ name: 'm', value: i * 500 + j, step: i * 500 + j })),
        })
        .then((result) => {
          firstAck()
          return result
        }),
    )
    // Close while the other requests are still on the wire; the server must let them finish.
    await acked
    const closing = t.server.close()
    const outcomes = await Promise.allSettled(sends)
    await closing
    const acknowledged = outcomes.filter((o) => o.status === 'fulfilled').length
    expect(acknowledged).toBeGreaterThan(0)
    // Reopen the same data folder and count what is stored.
    const { loadServerConfig: load } = await import('./config.js')
    const { startServer } = await import('./server.js')
    const { createLog } = await import('./log.js')
    const again = await startServer(load({ host: '127.0.0.1', port: 0, dataDir: t.dataDir }), {
      log: createLog({ write: () => undefined }),
    })
    try {
      const summary = (await new WharfClient({ url: again.url }).listMetrics(run.id))[0]
      // Exactly what was acknowledged: nothing lost, and no batch committed without its answer.
      expect(summary?.count ?? 0).toBe(acknowledged * 500)
    } finally {
      await again.close()
      await t.stop()
    }
  })
})
