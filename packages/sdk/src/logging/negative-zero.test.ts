import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import { startTestServer, testStoreKinds, type TestServer } from '@wharf/server/test-support'
import { MetricLogger } from './metric-logger.js'
import { replaySpool } from './spool-replay.js'
import { readSeries } from '../test-support/logger-servers.js'

for (const { kind, enabled } of testStoreKinds()) {
  if (!enabled) {
    console.log(
      `skipped: no PostgreSQL (set WHARF_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres to run the ${kind} -0 tests)`,
    )
  }
  describe.skipIf(!enabled)(`${kind}: a metric value of -0`, () => {
    let t: TestServer
    let client: WharfClient
    let dir: string
    beforeAll(async () => {
      t = await startTestServer(kind)
      client = new WharfClient({ url: t.url })
      dir = await mkdtemp(path.join(tmpdir(), 'wharf-negzero-'))
    })
    afterAll(async () => {
      await t.stop()
      await rm(dir, { recursive: true, force: true })
    })

    it('logged by the SDK reads back as -0 from the API (JSON -0) and the client', async () => {
      const runId = (await client.createRun({ experiment: 'signs', status: 'Running' })).id
      const logger = new MetricLogger({ client, runId, spoolDir: path.join(dir, 'spool') })
      logger.log('zero', -0)
      logger.log('zero', 0)
      logger.logList('zeros', [-0, 1, -0])
      await logger.close()
      const series = await readSeries(client, { runId, name: 'zero' })
      expect(series.map((p) => Object.is(p.value, -0))).toEqual([true, false])
      const raw = await (await fetch(`${t.url}/api/v1/workspaces/default/runs/${runId}/metrics/series?name=zeros`)).text()
      expect(raw).toMatch(/"value":-0[,}].*"value":1[,}].*"value":-0[,}]/)
      const summary = (await client.listMetrics(runId)).find((m) => m.name === 'zeros')
      expect(Object.is(summary?.last, -0)).toBe(true)
    })

    it('keeps -0 through the spool', async () => {
      const runId = (await client.createRun({ experiment: 'signs', status: 'Running' })).id
      const spoolDir = path.join(dir, 'spool-offline')
      // A server that is not there: the points go to the spool file.
      const offline = new WharfClient({ url: 'http://127.0.0.1:9', timeoutMs: 500 })
      const logger = new MetricLogger({
        client: offline,
        runId,
        spoolDir,
        retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
      })
      logger.log('offline', -0)
      await logger.close({ timeoutMs: 2_000 }).catch(() => undefined)
      const files = await readdir(spoolDir)
      expect((await Promise.all(files.map((f) => readFile(path.join(spoolDir, f), 'utf8')))).join('')).toContain('-0')
      await replaySpool({ spoolDir, client })
      const series = await readSeries(client, { runId, name: 'offline' })
      expect(Object.is(series[0]?.value, -0)).toBe(true)
    })
  })
}
