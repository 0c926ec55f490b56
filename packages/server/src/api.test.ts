import { createHash, randomBytes } from 'node:crypto'
import { readFile, readdir, stat } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import { encode } from '@msgpack/msgpack'
import {
  DEFAULT_LIMITS,
  encodeMetricBatch,
  isWharfError,
  newRunId,
  toJson,
  toWireNumber,
  type ErrorCode,
  type MetricBatch,
  type WharfError,
} from '@wharf/contract'
import { startTestServer, testStoreKinds, type TestServer } from './test-support/test-server.js'

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(isWharfError(error), `expected ${code}, got ${String(error)}`).toBe(true)
  expect((error as { code: string }).code).toBe(code)
}

async function raw(
  url: string,
  init: { method: string; body?: string | Uint8Array; headers?: Record<string, string> },
): Promise<{ status: number; json: { error?: { code: string; message: string; details?: Record<string, unknown> } } }> {
  const response = await fetch(url, init)
  const text = await response.text()
  return { status: response.status, json: text ? (JSON.parse(text) as { error?: { code: string; message: string } }) : {} }
}

for (const { kind, enabled } of testStoreKinds()) {
  if (!enabled) {
    console.log(
      `skipped: no PostgreSQL (set WHARF_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres to run the ${kind} API tests)`,
    )
  }
  describe.skipIf(!enabled)(`${kind}: HTTP API`, () => {
    let t: TestServer
    let client: WharfClient
    let api: string

    beforeAll(async () => {
      t = await startTestServer(kind, { limits: { tagsPerRun: 5, metricTextLength: 64 } })
      client = new WharfClient({ url: t.url })
      api = `${t.url}/api/v1/workspaces/default`
    })
    afterAll(async () => {
      await t?.stop()
    })

    describe('meta and workspaces', () => {
      it('answers health with the store kind and the limits it enforces', async () => {
        expect(await client.health()).toEqual({
          status: 'ok',
          version: 'test',
          store: kind,
          limits: { ...DEFAULT_LIMITS, tagsPerRun: 5, metricTextLength: 64 },
        })
      })

      it('starts with the default workspace and its two datastores, blob store the default', async () => {
        const ws = await client.getWorkspace()
        expect(ws).toMatchObject({
          name: 'default',
          defaultDatastore: 'workspaceblobstore',
          artifactDatastore: 'workspaceblobstore',
        })
        const stores = await client.listDatastores()
        expect(stores.map((s) => [s.name, s.kind, s.isDefault]).sort()).toEqual([
          ['workspaceblobstore', 'filesystem', true],
          ['workspacefilestore', 'filesystem', false],
        ])
        for (const s of stores) {
          expect(s.hasSecret).toBe(false)
          expect(s).not.toHaveProperty('secret')
          expect((await stat(String(s.settings.path))).isDirectory()).toBe(true)
        }
      })

      it('creates another workspace with its own datastores, once', async () => {
        const ws = await client.createWorkspace('team-a')
        expect(ws.defaultDatastore).toBe('workspaceblobstore')
        expect((await client.withWorkspace('team-a').listDatastores()).length).toBe(2)
        await expectCode(client.createWorkspace('team-a'), 'WORKSPACE_EXISTS')
        await expectCode(client.createWorkspace('bad name!'), 'INVALID_ARGUMENT')
        await expectCode(client.withWorkspace('nope').getWorkspace(), 'WORKSPACE_NOT_FOUND')
      })
    })

    describe('experiments and runs', () => {
      it('creates an experiment on first use and lists it', async () => {
        const run = await client.createRun({ experiment: 'mnist' })
        expect(run).toMatchObject({ experiment: 'mnist', status: 'NotStarted', computeTarget: 'local', parentRunId: null })
        expect((await client.getExperiment('mnist')).name).toBe('mnist')
        const again = await client.createExperiment('mnist')
        expect(again.id).toBe((await client.getExperiment('mnist')).id)
        const names = (await client.listExperiments().toArray()).map((e) => e.name)
        expect(names).toContain('mnist')
        await expectCode(client.getExperiment('missing'), 'EXPERIMENT_NOT_FOUND')
        await expectCode(client.createRun({ experiment: '../etc' }), 'INVALID_ARGUMENT')
      })

      it('walks the lifecycle and refuses illegal moves with 409', async () => {
        const run = await client.createRun({ experiment: 'life' })
        expect((await client.setRunStatus(run.id, 'Queued')).status).toBe('Queued')
        const running = await client.setRunStatus(run.id, 'Running')
        expect(running.startedAt).not.toBeNull()
        await expectCode(client.setRunStatus(run.id, 'Queued'), 'INVALID_STATUS_TRANSITION')
        const done = await client.setRunStatus(run.id, 'Completed')
        expect(done.endedAt).not.toBeNull()
        await expectCode(client.setRunStatus(run.id, 'Running'), 'INVALID_STATUS_TRANSITION')
        const failed = await client.createRun({ experiment: 'life', status: 'Running' })
        const f = await client.setRunStatus(failed.id, 'Failed', { error: { message: 'CUDA out of memory' } })
        expect(f.error).toEqual({ message: 'CUDA out of memory' })
        const res = await raw(`${api}/runs/${run.id}/status`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ status: 'Done' }),
        })
        expect(res.status).toBe(400)
        expect(res.json.error?.code).toBe('INVALID_ARGUMENT')
      })

      it('changes display name and description; tags are mutable; properties add-only', async () => {
        const run = await client.createRun({ experiment: 'meta', displayName: 'first', tags: { a: '1' }, properties: { p: 'x' } })
        expect(run.displayName).toBe('first')
        const renamed = await client.updateRun(run.id, { displayName: 'second', description: '**markdown**' })
        expect(renamed).toMatchObject({ displayName: 'second', description: '**markdown**' })
        const tagged = await client.updateTags(run.id, { set: { a: '2', b: '' }, remove: ['missing'] })
        expect(tagged.tags).toEqual({ a: '2', b: '' })
        expect((await client.updateTags(run.id, { remove: ['a'] })).tags).toEqual({ b: '' })
        expect((await client.addProperties(run.id, { q: 'y', p: 'x' })).properties).toEqual({ p: 'x', q: 'y' })
        await expectCode(client.addProperties(run.id, { p: 'changed' }), 'PROPERTY_IMMUTABLE')
        expect((await client.getRun(run.id)).properties).toEqual({ p: 'x', q: 'y' })
        await expectCode(client.updateTags(run.id, { set: { c: '1', d: '1', e: '1', f: '1', g: '1' } }), 'LIMIT_EXCEEDED')
      })

      it('names the limit an oversize value breaks', async () => {
        const res = await raw(`${api}/runs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ experiment: 'limits', displayName: 'x'.repeat(300) }),
        })
        expect(res.status).toBe(400)
        expect(res.json.error?.code).toBe('LIMIT_EXCEEDED')
        expect(res.json.error?.message).toContain('displayNameLength')
        expect(res.json.error?.details).toMatchObject({ limit: 'displayNameLength', max: 256, actual: 300 })
      })

      it('keeps child runs under their parent', async () => {
        const parent = await client.createRun({ experiment: 'tree', status: 'Running' })
        const a = await client.createRun({ experiment: 'tree', parentRunId: parent.id })
        const b = await client.createRun({ experiment: 'tree', parentRunId: parent.id })
        const children = await client.listRuns({ parentRunId: parent.id }).toArray()
        expect(children.map((r) => r.id).sort()).toEqual([a.id, b.id].sort())
        const roots = await client.listRuns({ experiment: 'tree', rootOnly: 'true' }).toArray()
        expect(roots.map((r) => r.id)).toEqual([parent.id])
        await expectCode(client.createRun({ experiment: 'tree', parentRunId: 'no-such-run' }), 'RUN_NOT_FOUND')
        await expectCode(client.createRun({ experiment: 'tree', runId: a.id }), 'RUN_EXISTS')
      })

      it('creates a run with a client-made id once, however often it is sent, keeping its start time', async () => {
        const runId = newRunId()
        const startedAt = '2026-01-02T03:04:05.000Z'
        const body = JSON.stringify({ experiment: 'offline', runId, status: 'Running', startedAt })
        const first = await fetch(`${api}/runs`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })
        expect(first.status).toBe(201)
        const again = await fetch(`${api}/runs`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })
        expect(again.status).toBe(200)
        expect(await again.json()).toEqual(await first.json())
        expect(await client.getRun(runId)).toMatchObject({ id: runId, experiment: 'offline', createdAt: startedAt, startedAt })
        expect((await client.listRuns({ experiment: 'offline' }).toArray()).map((r) => r.id)).toEqual([runId])
        // The same id in another experiment is another run: refused.
        await expectCode(client.createRun({ experiment: 'elsewhere', runId }), 'RUN_EXISTS')
        const endedAt = '2026-01-02T04:00:00.000Z'
        expect(await client.setRunStatus(runId, 'Completed', { at: endedAt })).toMatchObject({ status: 'Completed', endedAt })
        await expectCode(client.createRun({ experiment: 'offline', runId, startedAt: 'yesterday' }), 'INVALID_ARGUMENT')
      })

      it('lists by experiment, status and tag, sorts by time or metric, and pages', async () => {
        const ids: string[] = []
        for (let i = 0; i < 7; i++) {
          const run = await client.createRun({ experiment: 'sweep', status: 'Running', tags: { lr: String(i % 2) } })
          await client.logMetrics(run.id, { points: [{ name: 'acc', value: (i * 37) % 11 }] })
          if (i < 3) await client.setRunStatus(run.id, 'Completed')
          ids.push(run.id)
        }
        const all = await client.listRuns({ experiment: 'sweep', pageSize: 2 }).toArray()
        expect(all.map((r) => r.id)).toEqual([...ids].reverse())
        const pages = []
        for await (const page of client.listRuns({ experiment: 'sweep', pageSize: 3 }).byPage()) pages.push(page.items.length)
        expect(pages).toEqual([3, 3, 1])
        const completed = await client.listRuns({ experiment: 'sweep', status: 'Completed' }).toArray()
        expect(completed.map((r) => r.id).sort()).toEqual(ids.slice(0, 3).sort())
        const tagged = await client.listRuns({ experiment: 'sweep', tag: 'lr=1' }).toArray()
        expect(tagged.length).toBe(3)
        const byAcc = await client
          .listRuns({ experiment: 'sweep', orderBy: 'metric:acc', order: 'desc', includeMetrics: 'true', pageSize: 4 })
          .toArray()
        const values = byAcc.map((r) => r.metrics.acc as number)
        expect(values).toEqual([...values].sort((x, y) => y - x))
        expect(values.length).toBe(7)
        await expectCode(client.listRuns({ orderBy: 'colour' }).toArray(), 'INVALID_ARGUMENT')
      })
    })

    describe('metrics', () => {
      it('stores numbers, NaN, ±Infinity and strings, with default steps, and summarises', async () => {
        const run = await client.createRun({ experiment: 'metrics', status: 'Running' })
        const result = await client.logMetrics(run.id, {
          points: [
            { name: 'loss', value: 0.5 },
            { name: 'loss', value: 'NaN' },
            { name: 'loss', value: 'Infinity' },
            { name: 'loss', value: -2 },
            { name: 'note', text: 'warming up' },
            { name: 'chart data points', value: 1 },
            { name: 'chart data points', value: 3 },
          ],
        })
        expect(result).toEqual({ accepted: 7, duplicate: false })
        const points = await client.getMetricSeries(run.id, { name: 'loss' }).toArray()
        expect(points.map((p) => [p.step, p.value])).toEqual([
          [0, 0.5],
          [1, 'NaN'],
          [2, 'Infinity'],
          [3, -2],
        ])
        const summaries = await client.listMetrics(run.id)
        const loss = summaries.find((s) => s.name === 'loss')
        expect(loss).toMatchObject({ kind: 'number', count: 4, last: -2, lastStep: 3, min: -2, max: 'Infinity' })
        expect(summaries.find((s) => s.name === 'note')).toMatchObject({ kind: 'text', last: 'warming up' })
      })

      it('takes the columnar form and stores it like rows', async () => {
        const run = await client.createRun({ experiment: 'metrics', status: 'Running' })
        const result = await client.logMetrics(run.id, {
          writerId: 'cols',
          sequence: 0,
          series: [
            { name: 'loss', values: [0.9, 0.5, 'NaN'], times: [1000, 2000, 3000] },
            { name: 'phase', texts: ['warmup', 'train'], steps: [0, 10] },
          ],
        })
        expect(result).toEqual({ accepted: 5, duplicate: false })
        const loss = await client.getMetricSeries(run.id, { name: 'loss' }).toArray()
        expect(loss).toEqual([
          { step: 0, time: 1000, value: 0.9 },
          { step: 1, time: 2000, value: 0.5 },
          { step: 2, time: 3000, value: 'NaN' },
        ])
        const phase = await client.getMetricSeries(run.id, { name: 'phase' }).toArray()
        expect(phase.map((p) => [p.step, p.text])).toEqual([
          [0, 'warmup'],
          [10, 'train'],
        ])
      })

      it('stores a retried batch once', async () => {
        const run = await client.createRun({ experiment: 'metrics', status: 'Running' })
        const batch = {
          writerId: 'w1',
          sequence: 0,
          points: [
            { name: 'x', value: 1 },
            { name: 'x', value: 2 },
          ],
        }
        expect(await client.logMetrics(run.id, batch)).toEqual({ accepted: 2, duplicate: false })
        expect(await client.logMetrics(run.id, batch)).toEqual({ accepted: 2, duplicate: true })
        await client.logMetrics(run.id, { ...batch, sequence: 1 })
        expect((await client.listMetrics(run.id))[0]?.count).toBe(4)
      })

      it('pages a long series and downsamples it with spikes kept', async () => {
        const run = await client.createRun({ experiment: 'metrics', status: 'Running' })
        const points = Array.from({ length: 5000 }, (_, i) => ({ name: 'loss', value: i === 2345 ? 1000 : 1 / (i + 1) }))
        await client.logMetrics(run.id, { points })
        const pages = []
        for await (const page of client.getMetricSeries(run.id, { name: 'loss', pageSize: 1000, fromStep: 500 }).byPage()) {
          pages.push(page.items.length)
        }
        expect(pages).toEqual([1000, 1000, 1000, 1000, 500])
        const buckets = await client.getMetricBuckets(run.id, { name: 'loss', buckets: 50 })
        expect(buckets.buckets.length).toBe(50)
        expect(buckets.bucketWidth).toBe(100)
        expect(Math.max(...buckets.buckets.map((b) => b.max ?? 0))).toBe(1000)
        expect(buckets.buckets[0]).toMatchObject({ fromStep: 0, toStep: 99, count: 100, first: 1, last: 1 / 100 })
        const zoom = await client.getMetricBuckets(run.id, { name: 'loss', fromStep: 2300, toStep: 2399, buckets: 10 })
        expect(zoom.buckets.find((b) => b.fromStep === 2340)?.max).toBe(1000)
        await expectCode(client.getMetricBuckets(run.id, { name: 'absent' }), 'METRIC_NOT_FOUND')
      })

      it('answers bad batches with clear 4xx errors', async () => {
        const run = await client.createRun({ experiment: 'metrics', status: 'Running' })
        const url = `${api}/runs/${run.id}/metrics`
        const post = (body: string, type = 'application/json') =>
          raw(url, { method: 'POST', headers: { 'content-type': type }, body })
        const cases: [string, number, ErrorCode][] = [
          ['{"points": [', 400, 'MALFORMED_REQUEST'],
          ['{"points": [{"name": "x", "value": "high"}]}', 400, 'INVALID_ARGUMENT'],
          ['{"points": [{"name": "x"}]}', 400, 'INVALID_ARGUMENT'],
          ['{"points": [{"name": "", "value": 1}]}', 400, 'INVALID_ARGUMENT'],
          ['{"points": [{"name": "x", "value": 1, "step": -1}]}', 400, 'INVALID_ARGUMENT'],
          ['{"points": [{"name": "x", "value": 1, "colour": 1}]}', 400, 'INVALID_ARGUMENT'],
          [`{"points": [{"name": "${'n'.repeat(300)}", "value": 1}]}`, 400, 'LIMIT_EXCEEDED'],
          [`{"points": [{"name": "t", "text": "${'n'.repeat(65)}"}]}`, 400, 'LIMIT_EXCEEDED'],
          ['{"writerId": "w", "points": []}', 400, 'INVALID_ARGUMENT'],
          ['[]', 400, 'INVALID_ARGUMENT'],
        ]
        for (const [body, status, code] of cases) {
          const res = await post(body)
          expect([res.status, res.json.error?.code], body).toEqual([status, code])
          expect(res.json.error?.message.length).toBeGreaterThan(10)
        }
        expect((await post('points', 'text/plain')).json.error?.code).toBe('UNSUPPORTED_MEDIA_TYPE')
        const missing = await raw(`${api}/runs/nope/metrics`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"points":[{"name":"x","value":1}]}',
        })
        expect([missing.status, missing.json.error?.code]).toEqual([404, 'RUN_NOT_FOUND'])
        expect((await client.listMetrics(run.id)).length).toBe(0)
      })

      it('takes a MessagePack body and a JSON body alike: the same points, -0, NaN and texts kept', async () => {
        const batch: MetricBatch = {
          writerId: 'wire',
          sequence: 0,
          // Every point has its time: one left to the server would differ between the two runs.
          points: [{ name: 'row', value: -0, time: 500 }],
          series: [
            { name: 'loss', values: [0.25, -0, 'NaN', '-Infinity'], times: [1000, 2000, 3000, 4000], steps: [0, 5, 6, 9] },
            { name: 'phase', values: [1, null], texts: [null, 'train'], times: [5000.5, 6000] },
          ],
        }
        const stored: string[] = []
        for (const metricWire of ['json', 'msgpack'] as const) {
          const wired = new WharfClient({ url: t.url, metricWire })
          const run = await wired.createRun({ experiment: 'metrics-wire', status: 'Running' })
          expect(await wired.logMetrics(run.id, batch)).toEqual({ accepted: 7, duplicate: false })
          // The same batch in the other form is the same batch: a duplicate, not new points.
          const other = new WharfClient({ url: t.url, metricWire: metricWire === 'json' ? 'msgpack' : 'json' })
          expect(await other.logMetrics(run.id, batch)).toEqual({ accepted: 7, duplicate: true })
          const series = await Promise.all(
            ['row', 'loss', 'phase'].map((name) => wired.getMetricSeries(run.id, { name }).toArray()),
          )
          stored.push(toJson(series))
        }
        expect(stored[1]).toBe(stored[0])
        expect(stored[0]).toContain('"value":-0')
      })

      it('reads a series as MessagePack columns: the same points as the JSON pages, -0, NaN, Infinity and texts kept', async () => {
        const run = await client.createRun({ experiment: 'metrics-columns', status: 'Running' })
        const values = [0.25, -0, 'NaN', 'Infinity', '-Infinity', 1e-300, null] as const
        const texts = [null, null, null, null, null, null, 'warm-up'] as const
        await client.logMetrics(run.id, {
          series: [
            { name: 'm', values: [...values], texts: [...texts], steps: [3, 1, 2, 2, 0, 9, 4], times: [7, 6, 5, 4, 3, 2, 1.5] },
          ],
        })
        const json = await client.getMetricSeries(run.id, { name: 'm' }).toArray()
        const read: { step: number; time: number; value?: number; text?: string }[] = []
        let pageToken: string | undefined
        do {
          const page = await client.getMetricColumns(run.id, { name: 'm', pageSize: 3, ...(pageToken ? { pageToken } : {}) })
          expect(page.steps.length).toBeLessThanOrEqual(3)
          for (let i = 0; i < page.steps.length; i++) {
            const text = page.texts?.[i] ?? null
            read.push(
              text !== null
                ? { step: page.steps[i]!, time: page.times[i]!, text }
                : { step: page.steps[i]!, time: page.times[i]!, value: page.values[i]! },
            )
          }
          pageToken = page.nextPageToken
        } while (pageToken !== undefined)
        expect(read.map((p) => p.step)).toEqual([0, 1, 2, 2, 3, 4, 9])
        expect(toJson(read.map((p) => ({ ...p, value: p.value === undefined ? undefined : toWireNumber(p.value) })))).toBe(
          toJson(json),
        )
        expect(Object.is(read[1]?.value, -0)).toBe(true)
        // A bad format is the usual clear error, never a 500.
        const bad = await raw(`${api}/runs/${run.id}/metrics/series?name=m&format=csv`, { method: 'GET' })
        expect([bad.status, bad.json.error?.code]).toEqual([400, 'INVALID_ARGUMENT'])
      })

      it('sends JSON to a server that reads only JSON, after its first refusal', async () => {
        // A server from before MessagePack bodies, played by a proxy that refuses them as it would.
        let refused = 0
        const old = http.createServer((request, response) => {
          const chunks: Buffer[] = []
          request.on('data', (chunk: Buffer) => chunks.push(chunk))
          request.on('end', () => {
            const type = request.headers['content-type'] ?? ''
            if (!type.startsWith('application/json')) {
              refused++
              response.writeHead(415, { 'content-type': 'application/json' })
              response.end(
                JSON.stringify({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: `expected a JSON body, got "${type}"` } }),
              )
              return
            }
            void fetch(`${t.url}${request.url ?? ''}`, {
              method: request.method ?? 'GET',
              headers: { 'content-type': type },
              body: Buffer.concat(chunks),
            }).then(async (answer) => {
              response.writeHead(answer.status, { 'content-type': 'application/json' })
              response.end(await answer.text())
            })
          })
        })
        await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve))
        try {
          const { port } = old.address() as AddressInfo
          const viaOld = new WharfClient({ url: `http://127.0.0.1:${port}` })
          const run = await viaOld.createRun({ experiment: 'metrics', status: 'Running' })
          for (let sequence = 0; sequence < 3; sequence++) {
            const batch = { writerId: 'old', sequence, series: [{ name: 'loss', values: [sequence] }] }
            expect(await viaOld.logMetrics(run.id, batch)).toEqual({ accepted: 1, duplicate: false })
          }
          expect(refused).toBe(1)
          expect((await client.getMetricSeries(run.id, { name: 'loss' }).toArray()).map((p) => p.value)).toEqual([0, 1, 2])
        } finally {
          await new Promise((resolve) => old.close(resolve))
        }
      })

      it('answers malformed MessagePack bodies with 400 and stores nothing', async () => {
        const run = await client.createRun({ experiment: 'metrics', status: 'Running' })
        const url = `${api}/runs/${run.id}/metrics`
        const whole = encodeMetricBatch({ series: [{ name: 'x', values: [1, 2] }] })
        const cases: [string, Uint8Array, ErrorCode][] = [
          ['cut short', whole.subarray(0, whole.length - 2), 'MALFORMED_REQUEST'],
          ['trailing bytes', Uint8Array.from([...whole, 0xc0]), 'MALFORMED_REQUEST'],
          ['a byte MessagePack never uses', Uint8Array.of(0xc1), 'MALFORMED_REQUEST'],
          ['an array claiming 4 billion entries', Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff), 'MALFORMED_REQUEST'],
          ['empty', new Uint8Array(), 'MALFORMED_REQUEST'],
          ['a float64 column of 9 bytes', encode({ series: [{ name: 'x', values: new Uint8Array(9) }] }), 'INVALID_ARGUMENT'],
          ['a string column', encode({ series: [{ name: 'x', values: 'high' }] }), 'INVALID_ARGUMENT'],
          ['a NaN time', encode({ series: [{ name: 'x', values: [1], times: new Float64Array([NaN]) }] }), 'INVALID_ARGUMENT'],
          ['an unknown field', encode({ series: [{ name: 'x', values: [1], colour: 1 }] }), 'INVALID_ARGUMENT'],
          ['a number at the top', encode(5), 'INVALID_ARGUMENT'],
        ]
        for (const [what, body, code] of cases) {
          const res = await raw(url, { method: 'POST', headers: { 'content-type': 'application/msgpack' }, body })
          expect([res.status, res.json.error?.code], what).toEqual([400, code])
          expect(res.json.error?.message.length, what).toBeGreaterThan(10)
        }
        const octets = await raw(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: whole })
        expect([octets.status, octets.json.error?.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE'])
        expect(octets.json.error?.message).toContain('application/msgpack')
        expect((await client.listMetrics(run.id)).length).toBe(0)
      })
    })

    describe('artifacts', () => {
      it('streams an upload, records size and sha256, and serves it back with ranges', async () => {
        const run = await client.createRun({ experiment: 'art', status: 'Running' })
        const bytes = randomBytes(3 * 1024 * 1024 + 17)
        const artifact = await client.uploadArtifact(run.id, { path: 'outputs/model.bin', body: bytes })
        expect(artifact).toMatchObject({
          path: 'outputs/model.bin',
          size: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          datastore: 'workspaceblobstore',
          key: `ExperimentRun/${run.id}/outputs/model.bin`,
        })
        const blobRoot = (await client.getDatastore('workspaceblobstore')).settings.path as string
        expect((await readFile(path.join(blobRoot, artifact.key))).equals(bytes)).toBe(true)
        const whole = Buffer.from(await (await client.downloadArtifact(run.id, 'outputs/model.bin')).arrayBuffer())
        expect(whole.equals(bytes)).toBe(true)
        const part = await client.downloadArtifact(run.id, 'outputs/model.bin', { range: { start: 10, end: 19 } })
        expect(part.status).toBe(206)
        expect(part.headers.get('content-range')).toBe(`bytes 10-19/${bytes.length}`)
        expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true)
        const tail = await fetch(`${api}/runs/${run.id}/artifacts/content/outputs/model.bin`, { headers: { range: 'bytes=-5' } })
        expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(bytes.length - 5))).toBe(true)
        const beyond = await fetch(`${api}/runs/${run.id}/artifacts/content/outputs/model.bin`, {
          headers: { range: `bytes=${bytes.length}-` },
        })
        expect(beyond.status).toBe(416)
      })

      it('serves stored files as untrusted: never sniffed, sandboxed if rendered, and active types (SVG, HTML) only as attachments', async () => {
        const run = await client.createRun({ experiment: 'art', status: 'Running' })
        const svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>document.title="owned"</script></svg>'
        await client.uploadArtifact(run.id, { path: 'plots/loss.svg', body: svg, contentType: 'image/svg+xml' })
        await client.uploadArtifact(run.id, {
          path: 'pages/report.html',
          body: '<script>alert(1)</script>',
          contentType: 'text/html',
        })
        await client.uploadArtifact(run.id, { path: 'plots/loss.png', body: randomBytes(64), contentType: 'image/png' })
        for (const [file, attachment] of [
          ['plots/loss.svg', 'loss.svg'],
          ['pages/report.html', 'report.html'],
          ['plots/loss.png', undefined],
        ] as const) {
          const response = await fetch(`${api}/runs/${run.id}/artifacts/content/${file}`)
          expect(response.status, file).toBe(200)
          expect(response.headers.get('x-content-type-options'), file).toBe('nosniff')
          expect(response.headers.get('content-security-policy'), file).toMatch(/^sandbox; default-src 'none'/)
          if (attachment === undefined) expect(response.headers.get('content-disposition'), file).toBeNull()
          else expect(response.headers.get('content-disposition'), file).toBe(`attachment; filename*=UTF-8''${attachment}`)
          await response.arrayBuffer()
        }
      })

      it('refuses an upload that was still streaming when the run finished, and keeps no stray bytes', async () => {
        const run = await client.createRun({ experiment: 'art', status: 'Running' })
        await client.uploadArtifact(run.id, { path: 'outputs/kept.txt', body: 'recorded' })
        let release: () => void = () => undefined
        const gate = new Promise<void>((resolve) => (release = resolve))
        let sent = 0
        const slow = new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (sent === 1) await gate
            if (sent === 2) return controller.close()
            sent++
            controller.enqueue(new TextEncoder().encode('late bytes '))
          },
        })
        const replacing = client.uploadArtifact(run.id, { path: 'outputs/kept.txt', body: slow })
        const fresh = client.uploadArtifact(run.id, {
          path: 'outputs/new.txt',
          body: new ReadableStream<Uint8Array>({
            async pull(controller) {
              await gate
              controller.enqueue(new TextEncoder().encode('x'))
              controller.close()
            },
          }),
        })
        const outcomes = Promise.allSettled([replacing, fresh])
        await new Promise((resolve) => setTimeout(resolve, 100))
        await client.setRunStatus(run.id, 'Completed')
        release()
        const codes = (await outcomes).map((o) => (o.status === 'rejected' ? (o.reason as { code?: string }).code : 'stored'))
        expect(codes).toEqual(['RUN_FINISHED', 'RUN_FINISHED'])
        expect(await (await client.downloadArtifact(run.id, 'outputs/kept.txt')).text()).toBe('recorded')
        const blobRoot = (await client.getDatastore('workspaceblobstore')).settings.path as string
        const left = await readdir(path.join(blobRoot, 'ExperimentRun', run.id), { recursive: true })
        expect(left.filter((f) => !f.endsWith('outputs') && !f.endsWith('.replaced'))).toEqual(['outputs/kept.txt'])
      })

      it('guesses content types, lists by prefix and pages', async () => {
        const run = await client.createRun({ experiment: 'art', status: 'Running' })
        for (const p of ['outputs/a.json', 'outputs/b.txt', 'outputs/deep/c.png', 'logs/driver.log', 'name with spaces é.txt']) {
          await client.uploadArtifact(run.id, { path: p, body: `content of ${p}` })
        }
        const outputs = await client.listArtifacts(run.id, { prefix: 'outputs/', pageSize: 2 }).toArray()
        expect(outputs.map((a) => a.path)).toEqual(['outputs/a.json', 'outputs/b.txt', 'outputs/deep/c.png'])
        expect(outputs.map((a) => a.contentType)).toEqual(['application/json', 'text/plain', 'image/png'])
        const spaced = await client.downloadArtifact(run.id, 'name with spaces é.txt')
        expect(await spaced.text()).toBe('content of name with spaces é.txt')
        expect((await client.listArtifacts(run.id).toArray()).length).toBe(5)
      })

      it('refuses unsafe paths, unknown artifacts and changes after the run finished', async () => {
        const run = await client.createRun({ experiment: 'art', status: 'Running' })
        for (const bad of ['..%2F..%2Fetc%2Fpasswd', 'a%2F..%2Fb', 'a/%2E%2E%2Fb', '%00x', '%2Fabs', 'C%3A%5Cwin']) {
          const res = await raw(`${api}/runs/${run.id}/artifacts/content/${bad}`, { method: 'PUT', body: 'x' })
          expect([res.status, res.json.error?.code], bad).toEqual([400, 'UNSAFE_PATH'])
        }
        await expectCode(client.downloadArtifact(run.id, 'missing.txt'), 'ARTIFACT_NOT_FOUND')
        // The client keeps dot segments from being resolved away by URL parsing, so the server refuses them.
        await expectCode(client.uploadArtifact(run.id, { path: 'a/../../b', body: 'x' }), 'UNSAFE_PATH')
        const v1 = await client.uploadArtifact(run.id, { path: 'outputs/final.txt', body: 'v1' })
        const v2 = await client.uploadArtifact(run.id, { path: 'outputs/final.txt', body: 'v2' })
        expect(await (await client.downloadArtifact(run.id, 'outputs/final.txt')).text()).toBe('v2')
        // A replacement never rewrites the bytes a record points at; the replaced bytes are removed.
        expect(v2.key).not.toBe(v1.key)
        const blobRoot = (await client.getDatastore('workspaceblobstore')).settings.path as string
        await expect(readFile(path.join(blobRoot, v1.key))).rejects.toMatchObject({ code: 'ENOENT' })
        expect(await readFile(path.join(blobRoot, v2.key), 'utf8')).toBe('v2')
        await client.setRunStatus(run.id, 'Completed')
        await expectCode(client.uploadArtifact(run.id, { path: 'outputs/final.txt', body: 'v3' }), 'RUN_FINISHED')
        await expectCode(client.uploadArtifact(run.id, { path: 'outputs/new.txt', body: 'v3' }), 'RUN_FINISHED')
        expect(await (await client.downloadArtifact(run.id, 'outputs/final.txt')).text()).toBe('v2')
      })
    })

    describe('errors', () => {
      it('reports a request its caller aborts mid-upload as ABORTED (499, exit 130), and serves on', async () => {
        const run = await client.createRun({ experiment: 'abort', status: 'Running' })
        let bodyStarted: () => void = () => undefined
        const started = new Promise<void>((resolve) => (bodyStarted = resolve))
        let pulls = 0
        const stalled = new ReadableStream<Uint8Array>({
          // The first chunk goes out; the next pull means fetch is sending the body, and it never gets more.
          pull(controller) {
            if (++pulls > 1) {
              bodyStarted()
              return new Promise<void>(() => undefined)
            }
            controller.enqueue(new TextEncoder().encode('first bytes '))
            return undefined
          },
        })
        const controller = new AbortController()
        const upload = client.uploadArtifact(run.id, { path: 'outputs/stalled.txt', body: stalled, signal: controller.signal })
        await started
        controller.abort()
        const error = await upload.then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(isWharfError(error, 'ABORTED'), `expected ABORTED, got ${String(error)}`).toBe(true)
        expect((error as WharfError).status).toBe(499)
        expect((error as WharfError).exitCode).toBe(130)
        expect((error as WharfError).message).toMatch(/aborted by the caller/)
        expect((await client.health()).status).toBe('ok')
      })

      it('answers unknown routes, ids and bad JSON with the error shape, never 500', async () => {
        const checks: [string, { method: string; body?: string; headers?: Record<string, string> }, number, ErrorCode][] = [
          [`${t.url}/api/v1/nothing`, { method: 'GET' }, 404, 'ROUTE_NOT_FOUND'],
          [`${api}/runs/unknown-run`, { method: 'GET' }, 404, 'RUN_NOT_FOUND'],
          [`${api}/runs/bad%20id`, { method: 'GET' }, 400, 'INVALID_ARGUMENT'],
          [
            `${api}/runs`,
            { method: 'POST', body: '{', headers: { 'content-type': 'application/json' } },
            400,
            'MALFORMED_REQUEST',
          ],
          [
            `${api}/runs`,
            { method: 'POST', body: '{"experiment": 5}', headers: { 'content-type': 'application/json' } },
            400,
            'INVALID_ARGUMENT',
          ],
          [
            `${api}/runs`,
            { method: 'POST', body: '{"experiment": "x", "colour": 1}', headers: { 'content-type': 'application/json' } },
            400,
            'INVALID_ARGUMENT',
          ],
          [
            `${api}/runs`,
            { method: 'POST', body: 'experiment=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
            415,
            'UNSUPPORTED_MEDIA_TYPE',
          ],
          [`${api}/runs?pageSize=0`, { method: 'GET' }, 400, 'INVALID_ARGUMENT'],
          [`${api}/runs?pageSize=100000`, { method: 'GET' }, 400, 'LIMIT_EXCEEDED'],
          [`${api}/runs?status=Done`, { method: 'GET' }, 400, 'INVALID_ARGUMENT'],
          [`${t.url}/api/v1/workspaces/nope/runs`, { method: 'GET' }, 404, 'WORKSPACE_NOT_FOUND'],
          [`${api}/datastores/nope`, { method: 'GET' }, 404, 'DATASTORE_NOT_FOUND'],
        ]
        for (const [url, init, status, code] of checks) {
          const res = await raw(url, init)
          expect([res.status, res.json.error?.code], `${init.method} ${url}`).toEqual([status, code])
        }
        expect(t.logLines.filter((l) => l.includes('ERROR'))).toEqual([])
      })
    })
  })
}
