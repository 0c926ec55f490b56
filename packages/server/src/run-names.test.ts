import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import { startTestServer, testStoreKinds, type TestServer } from './test-support/test-server.js'

const READABLE = /^[a-z]+-[a-z]+-\d{1,3}$/

for (const { kind, enabled } of testStoreKinds()) {
  describe.skipIf(!enabled)(`readable run names (${kind})`, () => {
    let t: TestServer
    let client: WharfClient
    beforeAll(async () => {
      t = await startTestServer(kind)
      client = new WharfClient({ url: t.url })
    })
    afterAll(async () => {
      await t?.stop()
    })

    it('names a run created without a name adjective-noun-number, keeps its id, and stores the name', async () => {
      const runs = await Promise.all(Array.from({ length: 8 }, () => client.createRun({ experiment: 'names' })))
      for (const run of runs) {
        expect(run.displayName).toMatch(READABLE)
        expect(run.id).toMatch(/^[0-9a-hjkmnp-tv-z]{26}$/)
        expect((await client.getRun(run.id)).displayName).toBe(run.displayName)
      }
      // Derived from ids that differ: not one name for all.
      expect(new Set(runs.map((r) => r.displayName)).size).toBeGreaterThan(1)
      const listed = await client.listRuns({ experiment: 'names' }).toArray()
      expect(listed.map((r) => r.displayName).sort()).toEqual(runs.map((r) => r.displayName).sort())
    })

    it('names a run whose id the client made, the same way for the same id', async () => {
      const run = await client.createRun({ experiment: 'names', runId: 'offline-run-0001' })
      expect(run.displayName).toMatch(READABLE)
      const other = await startTestServer('sqlite')
      try {
        const again = await new WharfClient({ url: other.url }).createRun({ experiment: 'names', runId: 'offline-run-0001' })
        expect(again.displayName).toBe(run.displayName)
      } finally {
        await other.stop()
      }
    })

    it('keeps a name the client gives', async () => {
      const run = await client.createRun({ experiment: 'names', displayName: 'baseline, lr 0.1' })
      expect(run.displayName).toBe('baseline, lr 0.1')
    })
  })
}
if (!testStoreKinds().every((k) => k.enabled))
  console.log('skipped: readable run names on PostgreSQL: WHARF_TEST_DATABASE_URL is not set')
