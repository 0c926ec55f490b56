import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, testStoreKinds, type TestServer } from '../test-support/test-server.js'

/** One MLflow call: GET with a query string (repeated keys for lists), anything else with a JSON body. */
interface Answer {
  status: number
  body: Record<string, unknown>
}

function mlflowCaller(base: () => string, headers: Record<string, string> = {}) {
  return async (method: string, path: string, fields: Record<string, unknown> = {}): Promise<Answer> => {
    let url = `${base()}/api/2.0/mlflow/${path}`
    const init: RequestInit = { method, headers: { ...headers } }
    if (method === 'GET') {
      const query = new URLSearchParams()
      for (const [key, value] of Object.entries(fields)) {
        for (const item of Array.isArray(value) ? value : [value]) query.append(key, String(item))
      }
      url += `?${query.toString()}`
    } else {
      init.body = JSON.stringify(fields)
      init.headers = { ...headers, 'content-type': 'application/json' }
    }
    const response = await fetch(url, init)
    const text = await response.text()
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) }
  }
}

type RunJson = {
  info: Record<string, unknown>
  data: {
    metrics?: { key: string; value: unknown; step: number; timestamp: number }[]
    params?: unknown[]
    tags?: { key: string; value: string }[]
  }
  inputs: { dataset_inputs?: unknown[] }
}

const tagMap = (run: RunJson): Record<string, string> => Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]))

for (const { kind, enabled } of testStoreKinds()) {
  describe.skipIf(!enabled)(`${kind}: MLflow tracking API`, () => {
    let t: TestServer
    const call = mlflowCaller(() => t.url)
    const native = (path: string, init: RequestInit = {}) => fetch(`${t.url}/api/v1/workspaces/default/${path}`, init)

    beforeAll(async () => {
      t = await startTestServer(kind)
    })
    afterAll(async () => {
      await t?.stop()
    })

    async function createRun(fields: Record<string, unknown>): Promise<RunJson> {
      const answer = await call('POST', 'runs/create', fields)
      expect(answer.status, JSON.stringify(answer.body)).toBe(200)
      return answer.body.run as RunJson
    }

    it('has the default experiment "0", and creates, finds, renames, tags, deletes and restores experiments', async () => {
      const zero = await call('GET', 'experiments/get', { experiment_id: '0' })
      expect(zero.body.experiment).toMatchObject({ experiment_id: '0', name: 'Default', lifecycle_stage: 'active' })
      const created = await call('POST', 'experiments/create', { name: 'exp one', tags: [{ key: 'team', value: 'a' }] })
      expect(created.status).toBe(200)
      const id = created.body.experiment_id as string
      expect(id).toMatch(/^\d+$/)
      expect(await call('POST', 'experiments/create', { name: 'exp one' })).toMatchObject({
        status: 400,
        body: { error_code: 'RESOURCE_ALREADY_EXISTS' },
      })
      const byName = await call('GET', 'experiments/get-by-name', { experiment_name: 'exp one' })
      expect(byName.body.experiment).toMatchObject({
        experiment_id: id,
        artifact_location: `mlflow-artifacts:/${id}`,
        tags: [{ key: 'team', value: 'a' }],
      })
      expect(await call('GET', 'experiments/get-by-name', { experiment_name: 'nope' })).toMatchObject({
        status: 404,
        body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: "Could not find experiment with name 'nope'" },
      })
      expect((await call('POST', 'experiments/update', { experiment_id: id, new_name: 'exp renamed' })).status).toBe(200)
      expect((await call('POST', 'experiments/set-experiment-tag', { experiment_id: id, key: 'stage', value: 'b' })).status).toBe(
        200,
      )
      const renamed = await call('GET', 'experiments/get', { experiment_id: id })
      expect(renamed.body.experiment).toMatchObject({
        name: 'exp renamed',
        tags: [
          { key: 'team', value: 'a' },
          { key: 'stage', value: 'b' },
        ],
      })

      expect((await call('POST', 'experiments/delete', { experiment_id: id })).status).toBe(200)
      const active = await call('POST', 'experiments/search', { max_results: 100 })
      expect((active.body.experiments as { name: string }[]).map((e) => e.name)).not.toContain('exp renamed')
      const deleted = await call('GET', 'experiments/search', { view_type: 'DELETED_ONLY' })
      expect(deleted.body.experiments).toEqual([expect.objectContaining({ experiment_id: id, lifecycle_stage: 'deleted' })])
      // A deleted experiment takes no runs, and keeps its name.
      expect(await call('POST', 'runs/create', { experiment_id: id })).toMatchObject({
        status: 400,
        body: { error_code: 'INVALID_PARAMETER_VALUE' },
      })
      expect((await call('POST', 'experiments/create', { name: 'exp renamed' })).status).toBe(400)
      expect((await call('POST', 'experiments/restore', { experiment_id: id })).status).toBe(200)
      expect((await call('GET', 'experiments/get', { experiment_id: id })).body.experiment).toMatchObject({
        lifecycle_stage: 'active',
      })
      expect(await call('GET', 'experiments/get', { experiment_id: '987654' })).toMatchObject({
        status: 404,
        body: { error_code: 'RESOURCE_DOES_NOT_EXIST' },
      })
    })

    it('searches experiments by name and tag, ordered, in pages', async () => {
      for (const name of ['search-b', 'search-a', 'search-c']) {
        await call('POST', 'experiments/create', { name, tags: [{ key: 'kind', value: name === 'search-c' ? 'x' : 'y' }] })
      }
      const first = await call('POST', 'experiments/search', {
        filter: "name LIKE 'search-%'",
        order_by: ['name ASC'],
        max_results: 2,
      })
      expect((first.body.experiments as { name: string }[]).map((e) => e.name)).toEqual(['search-a', 'search-b'])
      const second = await call('POST', 'experiments/search', {
        filter: "name LIKE 'search-%'",
        order_by: ['name ASC'],
        max_results: 2,
        page_token: first.body.next_page_token,
      })
      expect((second.body.experiments as { name: string }[]).map((e) => e.name)).toEqual(['search-c'])
      expect(second.body.next_page_token).toBeUndefined()
      const tagged = await call('POST', 'experiments/search', { filter: "tags.kind = 'x'" })
      expect((tagged.body.experiments as { name: string }[]).map((e) => e.name)).toEqual(['search-c'])
      expect(await call('POST', 'experiments/search', { filter: 'name = unquoted' })).toMatchObject({
        status: 400,
        body: { error_code: 'INVALID_PARAMETER_VALUE' },
      })
    })

    it('logs a run as MLflow clients do, and the native API reads the same run', async () => {
      const { experiment_id: experimentId } = (await call('POST', 'experiments/create', { name: 'native-view' })).body
      const start = Date.parse('2026-03-01T10:00:00.000Z')
      const run = await createRun({
        experiment_id: experimentId,
        run_name: 'lively-run',
        start_time: start,
        tags: [
          { key: 'mlflow.user', value: 'ana' },
          { key: 'mlflow.note.content', value: 'a description' },
          { key: 'team', value: 'vision' },
        ],
      })
      const runId = run.info.run_id as string
      expect(run.info).toMatchObject({
        run_uuid: runId,
        run_name: 'lively-run',
        experiment_id: experimentId,
        user_id: 'ana',
        status: 'RUNNING',
        start_time: start,
        artifact_uri: `mlflow-artifacts:/${String(experimentId)}/${runId}/artifacts`,
        lifecycle_stage: 'active',
      })
      expect(tagMap(run)).toMatchObject({
        'mlflow.runName': 'lively-run',
        'mlflow.note.content': 'a description',
        team: 'vision',
      })

      // log-metric with an explicit step and timestamp, and NaN as the Python client sends it; run_uuid alone names the run.
      expect(
        (await call('POST', 'runs/log-metric', { run_uuid: runId, key: 'loss', value: 0.5, timestamp: start + 1000, step: 3 }))
          .status,
      ).toBe(200)
      expect(
        (await call('POST', 'runs/log-metric', { run_id: runId, key: 'loss', value: 'NaN', timestamp: start + 2000, step: 4 }))
          .status,
      ).toBe(200)
      const batch = await call('POST', 'runs/log-batch', {
        run_id: runId,
        metrics: [
          { key: 'acc', value: 0.8, timestamp: start + 3000, step: 0 },
          { key: 'acc', value: 0.9, timestamp: start + 4000, step: 1 },
        ],
        params: [
          { key: 'lr', value: '0.01' },
          { key: 'layers', value: '3' },
        ],
        tags: [{ key: 'phase', value: 'train' }],
      })
      expect(batch).toEqual({ status: 200, body: {} })
      expect((await call('POST', 'runs/log-parameter', { run_id: runId, key: 'seed', value: '7' })).status).toBe(200)
      // The same value again is fine; another value is refused in MLflow's words.
      expect((await call('POST', 'runs/log-parameter', { run_id: runId, key: 'seed', value: '7' })).status).toBe(200)
      const changed = await call('POST', 'runs/log-parameter', { run_id: runId, key: 'seed', value: '8' })
      expect(changed.status).toBe(400)
      expect(changed.body).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' })
      expect(changed.body.message).toContain('Changing param values is not allowed')
      expect((await call('POST', 'runs/set-tag', { run_id: runId, key: 'mlflow.runName', value: 'renamed-run' })).status).toBe(
        200,
      )
      expect((await call('POST', 'runs/delete-tag', { run_id: runId, key: 'phase' })).status).toBe(200)
      expect(await call('POST', 'runs/delete-tag', { run_id: runId, key: 'phase' })).toMatchObject({ status: 404 })

      const got = (await call('GET', 'runs/get', { run_id: runId })).body.run as RunJson
      expect(got.info.run_name).toBe('renamed-run')
      expect(got.data.metrics).toEqual(
        expect.arrayContaining([
          { key: 'loss', value: 'NaN', timestamp: start + 2000, step: 4 },
          { key: 'acc', value: 0.9, timestamp: start + 4000, step: 1 },
        ]),
      )
      expect(got.data.params).toEqual(
        expect.arrayContaining([
          { key: 'lr', value: '0.01' },
          { key: 'seed', value: '7' },
        ]),
      )
      expect(tagMap(got)).not.toHaveProperty('phase')

      const history = await call('GET', 'metrics/get-history', { run_id: runId, metric_key: 'loss' })
      expect(history.body.metrics).toEqual([
        { key: 'loss', value: 0.5, timestamp: start + 1000, step: 3 },
        { key: 'loss', value: 'NaN', timestamp: start + 2000, step: 4 },
      ])
      const paged = await call('GET', 'metrics/get-history', { run_id: runId, metric_key: 'loss', max_results: 1 })
      expect(paged.body.metrics).toHaveLength(1)
      const rest = await call('GET', 'metrics/get-history', {
        run_id: runId,
        metric_key: 'loss',
        max_results: 1,
        page_token: paged.body.next_page_token,
      })
      expect(rest.body).toEqual({ metrics: [{ key: 'loss', value: 'NaN', timestamp: start + 2000, step: 4 }] })
      expect((await call('GET', 'metrics/get-history', { run_id: runId, metric_key: 'never' })).body).toEqual({})

      const end = start + 60_000
      const updated = await call('POST', 'runs/update', { run_id: runId, status: 'FINISHED', end_time: end })
      expect(updated.body.run_info).toMatchObject({ status: 'FINISHED', end_time: end })

      // The same run through the native API: properties, tags, name, description, status, points.
      const nativeRun = (await (await native(`runs/${runId}`)).json()) as Record<string, unknown>
      expect(nativeRun).toMatchObject({
        experiment: 'native-view',
        displayName: 'renamed-run',
        description: 'a description',
        status: 'Completed',
        endedAt: new Date(end).toISOString(),
        properties: { lr: '0.01', layers: '3', seed: '7' },
        tags: { 'mlflow.user': 'ana', team: 'vision' },
      })
      const series = (await (await native(`runs/${runId}/metrics/series?name=loss`)).json()) as { items: unknown[] }
      expect(series.items).toEqual([
        { step: 3, time: start + 1000, value: 0.5 },
        { step: 4, time: start + 2000, value: 'NaN' },
      ])
    })

    it('reads runs the native API logged', async () => {
      const created = await native('runs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          experiment: 'native-first',
          displayName: 'from-wharf',
          status: 'Running',
          tags: { k: 'v' },
          properties: { p: '1' },
        }),
      })
      const nativeRun = (await created.json()) as { id: string }
      await native(`runs/${nativeRun.id}/metrics`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          points: [
            { name: 'score', value: 3, step: 0 },
            { name: 'score', value: 4 },
          ],
        }),
      })
      const experiment = (await call('GET', 'experiments/get-by-name', { experiment_name: 'native-first' })).body.experiment as {
        experiment_id: string
      }
      const got = (await call('GET', 'runs/get', { run_id: nativeRun.id })).body.run as RunJson
      expect(got.info).toMatchObject({ run_name: 'from-wharf', status: 'RUNNING', experiment_id: experiment.experiment_id })
      expect(got.data.params).toEqual([{ key: 'p', value: '1' }])
      expect(got.data.metrics).toEqual([expect.objectContaining({ key: 'score', value: 4, step: 1 })])
      const found = await call('POST', 'runs/search', {
        experiment_ids: [experiment.experiment_id],
        filter: 'metrics.score >= 4',
      })
      expect((found.body.runs as RunJson[]).map((r) => r.info.run_id)).toEqual([nativeRun.id])
    })

    it('searches runs with the filter grammar, orders them and pages', async () => {
      const { experiment_id: experimentId } = (await call('POST', 'experiments/create', { name: 'grammar' })).body
      const ids: string[] = []
      for (let i = 0; i < 5; i++) {
        const run = await createRun({ experiment_id: experimentId, run_name: `run-${i}`, start_time: 1_000_000 + i * 1000 })
        const runId = run.info.run_id as string
        ids.push(runId)
        await call('POST', 'runs/log-batch', {
          run_id: runId,
          metrics: i === 4 ? [] : [{ key: 'rmse', value: 10 - i, timestamp: 5, step: 0 }],
          params: [{ key: 'model', value: i % 2 === 0 ? 'tree' : 'linear' }],
          tags: [{ key: 'user-name', value: `User${i}` }],
        })
      }
      await call('POST', 'runs/update', { run_id: ids[0], status: 'FAILED', end_time: 2_000_000 })
      const search = async (fields: Record<string, unknown>) => {
        const answer = await call('POST', 'runs/search', { experiment_ids: [experimentId], ...fields })
        expect(answer.status, JSON.stringify(answer.body)).toBe(200)
        return { names: ((answer.body.runs ?? []) as RunJson[]).map((r) => r.info.run_name), token: answer.body.next_page_token }
      }
      // Newest first without an order.
      expect((await search({})).names).toEqual(['run-4', 'run-3', 'run-2', 'run-1', 'run-0'])
      expect((await search({ filter: 'metrics.rmse < 9', order_by: ['metrics.rmse ASC'] })).names).toEqual(['run-3', 'run-2'])
      expect((await search({ filter: "params.model = 'tree' and metrics.rmse >= 8" })).names).toEqual(['run-2', 'run-0'])
      expect((await search({ filter: "tags.`user-name` ILIKE 'user_'", order_by: ['attributes.start_time'] })).names).toEqual([
        'run-0',
        'run-1',
        'run-2',
        'run-3',
        'run-4',
      ])
      expect((await search({ filter: "attributes.status = 'FAILED'" })).names).toEqual(['run-0'])
      expect((await search({ filter: `run_id IN ('${ids[1]}', '${ids[3]}')` })).names).toEqual(['run-3', 'run-1'])
      expect(
        (await search({ filter: "attributes.run_name LIKE 'run-%' AND status != 'FAILED'", order_by: ['run_name DESC'] })).names,
      ).toEqual(['run-4', 'run-3', 'run-2', 'run-1'])
      // Runs lacking the metric sort last, ascending or descending.
      expect((await search({ order_by: ['metrics.rmse DESC'] })).names).toEqual(['run-0', 'run-1', 'run-2', 'run-3', 'run-4'])
      const page1 = await search({ order_by: ['metrics.rmse ASC'], max_results: 2 })
      expect(page1.names).toEqual(['run-3', 'run-2'])
      const page2 = await search({ order_by: ['metrics.rmse ASC'], max_results: 2, page_token: page1.token })
      expect(page2.names).toEqual(['run-1', 'run-0'])
      const page3 = await search({ order_by: ['metrics.rmse ASC'], max_results: 2, page_token: page2.token })
      expect(page3).toEqual({ names: ['run-4'], token: undefined })

      // Deleted runs leave the default view, show in DELETED_ONLY, and take no writes until restored.
      expect((await call('POST', 'runs/delete', { run_id: ids[4] })).status).toBe(200)
      expect((await search({})).names).not.toContain('run-4')
      expect((await search({ run_view_type: 'DELETED_ONLY' })).names).toEqual(['run-4'])
      expect((await call('GET', 'runs/get', { run_id: ids[4] })).body.run).toMatchObject({ info: { lifecycle_stage: 'deleted' } })
      const refused = await call('POST', 'runs/log-metric', { run_id: ids[4], key: 'x', value: 1, timestamp: 1 })
      expect(refused).toMatchObject({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE' } })
      expect((await call('POST', 'runs/restore', { run_id: ids[4] })).status).toBe(200)
      expect((await search({ run_view_type: 'ALL' })).names).toHaveLength(5)

      for (const filter of [
        "metrics.rmse < '1'",
        "params.model > 'a'",
        'metrics.rmse < 1 OR metrics.rmse > 2',
        'bogus.x = 1',
        "attributes.nope = 'x'",
      ]) {
        const answer = await call('POST', 'runs/search', { experiment_ids: [experimentId], filter })
        expect(answer, filter).toMatchObject({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE' } })
      }
    })

    it('samples histories of several runs with get-history-bulk-interval', async () => {
      const a = await createRun({})
      const b = await createRun({})
      const points = (n: number) =>
        Array.from({ length: n }, (_, step) => ({ key: 'curve', value: step * 2, timestamp: 1000 + step, step }))
      await call('POST', 'runs/log-batch', { run_id: a.info.run_id, metrics: points(50) })
      await call('POST', 'runs/log-batch', { run_id: b.info.run_id, metrics: points(20) })
      const all = await call('GET', 'metrics/get-history-bulk-interval', {
        run_ids: [a.info.run_id, b.info.run_id],
        metric_key: 'curve',
      })
      expect((all.body.metrics as unknown[]).length).toBe(70)
      const sampled = await call('GET', 'metrics/get-history-bulk-interval', {
        run_ids: [a.info.run_id, b.info.run_id],
        metric_key: 'curve',
        start_step: 10,
        end_step: 40,
        max_results: 5,
      })
      const rows = sampled.body.metrics as { run_id: string; step: number }[]
      const stepsOfA = rows.filter((r) => r.run_id === a.info.run_id).map((r) => r.step)
      expect(stepsOfA[0]).toBe(10)
      expect(stepsOfA.at(-1)).toBe(40)
      expect(stepsOfA.length).toBeLessThanOrEqual(7)
      expect(
        rows
          .filter((r) => r.run_id === b.info.run_id)
          .map((r) => r.step)
          .at(-1),
      ).toBe(19)
      expect(
        await call('GET', 'metrics/get-history-bulk-interval', { run_ids: [a.info.run_id], metric_key: 'curve', start_step: 1 }),
      ).toMatchObject({
        status: 400,
      })
    })

    it('samples long histories with get-history-bulk-interval and caps the rows as MLflow does', async () => {
      const nativeRun = async (points: number): Promise<string> => {
        const run = await createRun({})
        const runId = run.info.run_id as string
        for (let from = 0; from < points; from += 10_000) {
          const batch = Array.from({ length: Math.min(10_000, points - from) }, (_, i) => ({
            name: 'long',
            value: from + i,
            step: from + i,
          }))
          const answer = await native(`runs/${runId}/metrics`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ points: batch }),
          })
          expect(answer.status, await answer.clone().text()).toBeLessThan(300)
        }
        return runId
      }
      const long = await nativeRun(130_000)
      const sampled = await call('GET', 'metrics/get-history-bulk-interval', {
        run_ids: [long],
        metric_key: 'long',
        max_results: 10,
      })
      expect(sampled.status, JSON.stringify(sampled.body).slice(0, 300)).toBe(200)
      const steps = (sampled.body.metrics as { step: number }[]).map((m) => m.step)
      expect(steps[0]).toBe(0)
      expect(steps.at(-1)).toBe(129_999)
      expect(steps.length).toBeLessThanOrEqual(12)
      const many: string[] = []
      for (let i = 0; i < 11; i++) many.push(await nativeRun(2500))
      const capped = await call('GET', 'metrics/get-history-bulk-interval', { run_ids: many, metric_key: 'long' })
      expect(capped.status).toBe(200)
      expect((capped.body.metrics as unknown[]).length).toBe(25_000)
    }, 120_000)

    it('searches the Default experiment once when asked by "0" and by its own id', async () => {
      const run = await createRun({ experiment_id: '0', run_name: 'default-once' })
      const defaultId = ((await (await native('experiments/Default')).json()) as { id: number }).id
      const found = await call('POST', 'runs/search', {
        experiment_ids: ['0', String(defaultId)],
        filter: "attributes.run_name = 'default-once'",
      })
      expect(found.status).toBe(200)
      expect((found.body.runs as RunJson[]).map((r) => [r.info.run_id, r.info.experiment_id])).toEqual([[run.info.run_id, '0']])
    })

    it('keeps the points of a retried log-batch or log-metric once', async () => {
      const run = await createRun({})
      const runId = run.info.run_id as string
      const batch = {
        run_id: runId,
        metrics: [0, 1, 2].map((step) => ({ key: 'retried', value: step / 2, timestamp: 100 + step, step })),
        params: [{ key: 'seed', value: '7' }],
        tags: [{ key: 'phase', value: 'train' }],
      }
      expect((await call('POST', 'runs/log-batch', batch)).status).toBe(200)
      expect((await call('POST', 'runs/log-batch', batch)).status).toBe(200)
      const single = { run_id: runId, key: 'once', value: 3, timestamp: 5, step: 4 }
      expect((await call('POST', 'runs/log-metric', single)).status).toBe(200)
      expect((await call('POST', 'runs/log-metric', single)).status).toBe(200)
      const history = async (key: string) =>
        ((await call('GET', 'metrics/get-history', { run_id: runId, metric_key: key })).body.metrics as { step: number }[]).map(
          (m) => m.step,
        )
      expect(await history('retried')).toEqual([0, 1, 2])
      expect(await history('once')).toEqual([4])
      // Different points at the same steps are a new batch, not a retry.
      await call('POST', 'runs/log-batch', { ...batch, metrics: [{ key: 'retried', value: 9, timestamp: 200, step: 2 }] })
      expect(await history('retried')).toEqual([0, 1, 2, 2])
    })

    it('checks requests as MLflow does: limits, keys, content type, unknown endpoints', async () => {
      const run = await createRun({})
      const runId = run.info.run_id as string
      const many = Array.from({ length: 101 }, (_, i) => ({ key: `p${i}`, value: '1' }))
      const tooMany = await call('POST', 'runs/log-batch', { run_id: runId, params: many })
      expect(tooMany).toMatchObject({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE' } })
      expect(tooMany.body.message).toContain('at most 100 params')
      for (const key of ['../up', 'a//b', 'bad*char', '/abs']) {
        expect(await call('POST', 'runs/log-metric', { run_id: runId, key, value: 1, timestamp: 1 }), key).toMatchObject({
          status: 400,
        })
      }
      expect(await call('POST', 'runs/log-parameter', { run_id: runId, key: 'long', value: 'x'.repeat(6001) })).toMatchObject({
        status: 400,
      })
      expect(await call('POST', 'runs/log-metric', { run_id: runId, key: 'm', value: true, timestamp: 1 })).toMatchObject({
        status: 400,
      })
      const missing = await call('POST', 'runs/log-metric', { key: 'm', value: 1, timestamp: 1 })
      expect(missing.body).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' })
      expect(missing.body.message).toContain("'run_id'")
      expect(await call('GET', 'runs/get', { run_id: 'no-such-run' })).toEqual({
        status: 404,
        body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Run with id=no-such-run not found' },
      })
      const noType = await fetch(`${t.url}/api/2.0/mlflow/runs/create`, { method: 'POST', body: '{}' })
      expect(noType.status).toBe(400)
      expect(await noType.json()).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' })
      // A body that is itself a JSON string (older clients) is read again.
      const doubled = await fetch(`${t.url}/api/2.0/mlflow/runs/log-parameter`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(JSON.stringify({ run_id: runId, key: 'twice', value: 'ok' })),
      })
      expect(doubled.status).toBe(200)
      const unknown = await fetch(`${t.url}/ajax-api/2.0/mlflow/no/such/thing`)
      expect(unknown.status).toBe(404)
      expect(await unknown.json()).toMatchObject({ error_code: 'ENDPOINT_NOT_FOUND' })
      // MLflow 2.x clients record a logged model on the run in the mlflow.log-model.history tag.
      const modelJson = JSON.stringify({ artifact_path: 'model', flavors: {}, utc_time_created: 'now', run_id: runId })
      expect((await call('POST', 'runs/log-model', { run_id: runId, model_json: modelJson })).status).toBe(200)
      expect(await call('POST', 'runs/log-model', { run_id: runId, model_json: '{"flavors": {}}' })).toMatchObject({
        status: 400,
      })
      const withModel = (await call('GET', 'runs/get', { run_id: runId })).body.run as RunJson
      expect(JSON.parse(tagMap(withModel)['mlflow.log-model.history'] ?? '[]')).toEqual([JSON.parse(modelJson)])
      const info = await fetch(`${t.url}/api/3.0/mlflow/server-info`)
      expect(await info.json()).toMatchObject({ workspaces_enabled: false, multipart_uploads_enabled: false })
    })

    it('answers times no date holds and bad percent-encoding as INVALID_PARAMETER_VALUE, not a server error', async () => {
      for (const start_time of [8.64e15 + 1, -9e15]) {
        expect(await call('POST', 'runs/create', { experiment_id: '0', start_time }), String(start_time)).toMatchObject({
          status: 400,
          body: { error_code: 'INVALID_PARAMETER_VALUE' },
        })
      }
      const run = await createRun({ experiment_id: '0' })
      const ended = await call('POST', 'runs/update', { run_id: run.info.run_id, status: 'FINISHED', end_time: 9e15 })
      expect(ended).toMatchObject({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE' } })
      expect(String(ended.body.message)).toContain('end_time')
      const badEncoding = await fetch(`${t.url}/api/2.0/mlflow/logged-models/%E0%A4%A`)
      expect(badEncoding.status).toBe(400)
      expect(await badEncoding.json()).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' })
    })

    it('accepts dataset inputs and shows them as the run inputs and in dataset filters', async () => {
      const run = await createRun({})
      const runId = run.info.run_id as string
      const dataset = { name: 'digits', digest: 'abc123', source_type: 'code', source: '{}' }
      const logged = await call('POST', 'runs/log-inputs', {
        run_id: runId,
        datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'train' }], dataset }],
      })
      expect(logged.status).toBe(200)
      const got = (await call('GET', 'runs/get', { run_id: runId })).body.run as RunJson
      expect(got.inputs.dataset_inputs).toEqual([{ tags: [{ key: 'mlflow.data.context', value: 'train' }], dataset }])
      expect(tagMap(got)).not.toHaveProperty('wharf.mlflow.inputs')
      const found = await call('POST', 'runs/search', { experiment_ids: ['0'], filter: "dataset.context = 'train'" })
      expect((found.body.runs as RunJson[]).map((r) => r.info.run_id)).toEqual([runId])
    })
  })
}

describe('MLflow API behind a bearer token', () => {
  let t: TestServer
  const token = 'mlflow-token-0123456789'
  beforeAll(async () => {
    t = await startTestServer('sqlite', { authToken: token })
  })
  afterAll(async () => {
    await t?.stop()
  })

  it('answers 401 in MLflow shape without the token, and serves the request with it', async () => {
    const without = await fetch(`${t.url}/api/2.0/mlflow/experiments/get?experiment_id=0`)
    expect(without.status).toBe(401)
    expect(await without.json()).toMatchObject({ error_code: 'UNAUTHENTICATED' })
    const wrong = await fetch(`${t.url}/api/2.0/mlflow-artifacts/artifacts?path=x`, { headers: { authorization: 'Bearer nope' } })
    expect(wrong.status).toBe(401)
    expect(await wrong.json()).toMatchObject({ error_code: 'UNAUTHENTICATED' })
    const call = mlflowCaller(() => t.url, { authorization: `Bearer ${token}` })
    expect(await call('GET', 'experiments/get', { experiment_id: '0' })).toMatchObject({
      status: 200,
      body: { experiment: { name: 'Default' } },
    })
  })
})

describe('MLflow API on a server with small limits', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startTestServer('sqlite', { limits: { metricPageSize: 5, metricNamesPerRun: 3, tagsPerRun: 12 } })
  })
  afterAll(async () => {
    await t?.stop()
  })

  it('clamps get-history max_results to the page size and pages on with the token', async () => {
    const call = mlflowCaller(() => t.url)
    const created = await call('POST', 'runs/create', { experiment_id: '0' })
    const runId = (created.body.run as RunJson).info.run_id as string
    const metrics = Array.from({ length: 12 }, (_, step) => ({ key: 'm', value: step, timestamp: 1 + step, step }))
    expect((await call('POST', 'runs/log-batch', { run_id: runId, metrics })).status).toBe(200)
    const first = await call('GET', 'metrics/get-history', { run_id: runId, metric_key: 'm', max_results: 25_000 })
    expect(first.status, JSON.stringify(first.body)).toBe(200)
    expect((first.body.metrics as unknown[]).length).toBe(5)
    expect(first.body.next_page_token).toEqual(expect.any(String))
    expect(await call('GET', 'metrics/get-history', { run_id: runId, metric_key: 'm', max_results: -1 })).toMatchObject({
      status: 400,
      body: { error_code: 'INVALID_PARAMETER_VALUE' },
    })
  })

  it('refuses a log-batch past a run limit whole, storing none of its params, metrics or tags', async () => {
    const call = mlflowCaller(() => t.url)
    const created = await call('POST', 'runs/create', { experiment_id: '0' })
    const runId = (created.body.run as RunJson).info.run_id as string
    const names = await call('POST', 'runs/log-batch', {
      run_id: runId,
      params: [{ key: 'lr', value: '0.1' }],
      metrics: ['a', 'b', 'c', 'd'].map((key) => ({ key, value: 1, timestamp: 1, step: 0 })),
    })
    expect(names).toMatchObject({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE' } })
    const tags = await call('POST', 'runs/log-batch', {
      run_id: runId,
      params: [{ key: 'lr', value: '0.1' }],
      metrics: [{ key: 'a', value: 1, timestamp: 1, step: 0 }],
      tags: Array.from({ length: 13 }, (_, i) => ({ key: `t${i}`, value: 'x' })),
    })
    expect(tags).toMatchObject({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE' } })
    const run = (await call('GET', 'runs/get', { run_id: runId })).body.run as RunJson
    expect(run.data.params ?? []).toEqual([])
    expect(run.data.metrics ?? []).toEqual([])
    expect(Object.keys(tagMap(run)).filter((key) => /^t\d+$/.test(key))).toEqual([])
  })
})
