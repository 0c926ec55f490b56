import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, testStoreKinds, type TestServer } from '../test-support/test-server.js'

for (const { kind, enabled } of testStoreKinds()) {
  describe.skipIf(!enabled)(`${kind}: MLflow artifact proxy and logged models`, () => {
    let t: TestServer
    const post = async (path: string, body: unknown, method = 'POST') => {
      const response = await fetch(`${t.url}/api/2.0/mlflow/${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      return { status: response.status, body: (await response.json()) as Record<string, unknown> }
    }
    const get = async (path: string) => {
      const response = await fetch(`${t.url}${path}`)
      return { status: response.status, body: (await response.json()) as Record<string, unknown> }
    }
    const proxy = (path: string) => `${t.url}/api/2.0/mlflow-artifacts/artifacts/${path}`

    beforeAll(async () => {
      t = await startTestServer(kind)
    })
    afterAll(async () => {
      await t?.stop()
    })

    async function newRun(): Promise<{ runId: string; root: string }> {
      const created = await post('runs/create', { experiment_id: '0' })
      const info = (created.body.run as { info: { run_id: string; artifact_uri: string } }).info
      return { runId: info.run_id, root: info.artifact_uri.replace(/^mlflow-artifacts:\//, '') }
    }

    it('stores files PUT through the proxy as the run artifacts, lists and serves them', async () => {
      const { runId, root } = await newRun()
      for (const [path, text] of [
        ['model/MLmodel', 'flavors: {}'],
        ['model/data/weights.bin', 'abcdef'],
        ['notes.txt', 'hello'],
      ] as const) {
        const put = await fetch(proxy(`${root}/${path}`), {
          method: 'PUT',
          headers: { 'content-type': 'text/plain' },
          body: text,
        })
        expect(put.status, path).toBe(200)
      }
      const top = await get(`/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(root)}`)
      expect(top.body.files).toEqual([
        { path: 'model', is_dir: true },
        { path: 'notes.txt', is_dir: false, file_size: 5 },
      ])
      const inner = await get(`/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(`${root}/model`)}`)
      expect(inner.body.files).toEqual([
        { path: 'MLmodel', is_dir: false, file_size: 11 },
        { path: 'data', is_dir: true },
      ])
      const listed = await get(`/api/2.0/mlflow/artifacts/list?run_id=${runId}&path=model`)
      expect(listed.body).toEqual({
        root_uri: `mlflow-artifacts:/${root}`,
        files: [
          { path: 'model/MLmodel', is_dir: false, file_size: 11 },
          { path: 'model/data', is_dir: true },
        ],
      })
      const download = await fetch(proxy(`${root}/model/data/weights.bin`))
      expect(download.status).toBe(200)
      expect(await download.text()).toBe('abcdef')
      // The same bytes are the run's artifacts in the native API.
      const native = await fetch(`${t.url}/api/v1/workspaces/default/runs/${runId}/artifacts/content/notes.txt`)
      expect(await native.text()).toBe('hello')

      const missing = await fetch(proxy(`${root}/nope.txt`))
      expect(missing.status).toBe(404)
      expect(await missing.json()).toMatchObject({ error_code: 'RESOURCE_DOES_NOT_EXIST' })
      const escape = await fetch(proxy(`${root}/a%2F..%2F..%2F..%2Fx`), { method: 'PUT', body: 'x' })
      expect(escape.status).toBe(400)
      const multipart = await fetch(`${t.url}/api/2.0/mlflow-artifacts/mpu/create/${root}/big.bin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ path: 'big.bin', num_parts: 2 }),
      })
      expect(multipart.status).toBe(501)
      expect(await multipart.json()).toMatchObject({ error_code: 'NOT_IMPLEMENTED' })
    })

    it('refuses proxy paths with bad percent-encoding or beyond the artifact path limit', async () => {
      const { root } = await newRun()
      const bad = await fetch(proxy(`${root}/bad%ZZname.txt`), { method: 'PUT', body: 'x' })
      expect(bad.status).toBe(400)
      expect(await bad.json()).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' })
      const long = await fetch(proxy(`${root}/${'d/'.repeat(600)}f.txt`), { method: 'PUT', body: 'x' })
      expect(long.status).toBe(400)
      expect(await long.json()).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' })
    })

    it('refuses registered-model tags and descriptions it cannot keep, and bad model-version max_results', async () => {
      for (const extra of [{ description: 'kept?' }, { tags: [{ key: 'team', value: 'a' }] }]) {
        expect(await post('registered-models/create', { name: 'described-model', ...extra })).toMatchObject({
          status: 501,
          body: { error_code: 'NOT_IMPLEMENTED' },
        })
      }
      expect((await post('registered-models/create', { name: 'described-model', description: '', tags: [] })).status).toBe(200)
      for (const max of [-1, 0]) {
        expect(await get(`/api/2.0/mlflow/model-versions/search?max_results=${max}`), String(max)).toMatchObject({
          status: 400,
          body: { error_code: 'INVALID_PARAMETER_VALUE' },
        })
      }
    })

    it('keeps every tag, input and model of concurrent changes to one experiment, logged model or run', async () => {
      const n = 8
      const keys = Array.from({ length: n }, (_, i) => `k${i}`)
      const experimentId = (await post('experiments/create', { name: 'concurrent-tags' })).body.experiment_id as string
      await Promise.all(
        keys.map((key) => post('experiments/set-experiment-tag', { experiment_id: experimentId, key, value: key })),
      )
      const experiment = await get(`/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`)
      const experimentTags = (experiment.body.experiment as { tags: { key: string }[] }).tags.map((t) => t.key)
      expect(experimentTags.sort()).toEqual(keys)

      const { runId } = await newRun()
      const created = await post('logged-models', { experiment_id: '0', name: 'busy', source_run_id: runId })
      const modelId = (created.body.model as { info: { model_id: string } }).info.model_id
      await Promise.all(keys.map((key) => post(`logged-models/${modelId}/tags`, { tags: [{ key, value: key }] }, 'PATCH')))
      const model = await get(`/api/2.0/mlflow/logged-models/${modelId}`)
      const modelTags = (model.body.model as { info: { tags: { key: string }[] } }).info.tags.map((t) => t.key)
      expect(modelTags.sort()).toEqual(keys)

      await Promise.all(
        keys.map((key) =>
          post('runs/log-inputs', {
            run_id: runId,
            datasets: [{ dataset: { name: key, digest: 'd', source_type: 'local', source: 'x' } }],
          }),
        ),
      )
      await Promise.all(
        keys.map((key) =>
          post('runs/log-model', {
            run_id: runId,
            model_json: JSON.stringify({ artifact_path: key, flavors: {}, utc_time_created: 'now', run_id: runId }),
          }),
        ),
      )
      const run = (await get(`/api/2.0/mlflow/runs/get?run_id=${runId}`)).body.run as {
        data: { tags: { key: string; value: string }[] }
        inputs: { dataset_inputs: { dataset: { name: string } }[] }
      }
      expect(run.inputs.dataset_inputs.map((i) => i.dataset.name).sort()).toEqual(keys)
      const history = run.data.tags.find((t) => t.key === 'mlflow.log-model.history')?.value ?? '[]'
      expect((JSON.parse(history) as { artifact_path: string }[]).map((m) => m.artifact_path).sort()).toEqual(keys)
    })

    it('records logged models with their files under the source run, finalizes, tags and finds them', async () => {
      const { runId } = await newRun()
      const created = await post('logged-models', {
        experiment_id: '0',
        name: 'model',
        model_type: 'sklearn',
        source_run_id: runId,
        params: [{ key: 'C', value: '1.0' }],
        tags: [{ key: 'flavor', value: 'sklearn' }],
      })
      expect(created.status).toBe(200)
      const info = (created.body.model as { info: Record<string, unknown> }).info
      const modelId = info.model_id as string
      expect(modelId).toMatch(/^m-[0-9a-f]{32}$/)
      expect(info).toMatchObject({
        experiment_id: '0',
        name: 'model',
        status: 'LOGGED_MODEL_PENDING',
        source_run_id: runId,
        artifact_uri: `mlflow-artifacts:/0/models/${modelId}/artifacts`,
        tags: [{ key: 'flavor', value: 'sklearn' }],
      })
      const put = await fetch(proxy(`0/models/${modelId}/artifacts/MLmodel`), { method: 'PUT', body: 'artifact_path: model' })
      expect(put.status).toBe(200)
      expect(await (await fetch(proxy(`0/models/${modelId}/artifacts/MLmodel`))).text()).toBe('artifact_path: model')
      const listed = await get(`/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(`0/models/${modelId}/artifacts`)}`)
      expect(listed.body.files).toEqual([{ path: 'MLmodel', is_dir: false, file_size: 20 }])

      const ready = await post(`logged-models/${modelId}`, { model_id: modelId, status: 'LOGGED_MODEL_READY' }, 'PATCH')
      expect((ready.body.model as { info: { status: string } }).info.status).toBe('LOGGED_MODEL_READY')
      expect((await post(`logged-models/${modelId}/tags`, { tags: [{ key: 'stage', value: 'dev' }] }, 'PATCH')).status).toBe(200)
      expect((await post(`logged-models/${modelId}/params`, { params: [{ key: 'max_iter', value: '100' }] })).status).toBe(200)
      const fetched = await get(`/api/2.0/mlflow/logged-models/${modelId}`)
      expect(fetched.body.model).toMatchObject({
        info: {
          tags: [
            { key: 'flavor', value: 'sklearn' },
            { key: 'stage', value: 'dev' },
          ],
        },
        data: {
          params: [
            { key: 'C', value: '1.0' },
            { key: 'max_iter', value: '100' },
          ],
        },
      })
      const found = await post('logged-models/search', { experiment_ids: ['0'], filter: "name = 'model'" })
      expect((found.body.models as { info: { model_id: string } }[]).map((m) => m.info.model_id)).toContain(modelId)
      const run = await get(`/api/2.0/mlflow/runs/get?run_id=${runId}`)
      expect(run.body.run).toMatchObject({ outputs: { model_outputs: [{ model_id: modelId, step: 0 }] } })

      const deleted = await fetch(`${t.url}/api/2.0/mlflow/logged-models/${modelId}`, { method: 'DELETE' })
      expect(deleted.status).toBe(200)
      const after = await post('logged-models/search', { experiment_ids: ['0'], filter: "name = 'model'" })
      expect(((after.body.models ?? []) as { info: { model_id: string } }[]).map((m) => m.info.model_id)).not.toContain(modelId)
      expect((await get('/api/2.0/mlflow/logged-models/m-0000')).status).toBe(404)
    })

    it('registers model versions as asset versions and serves their files through the proxy', async () => {
      const { runId, root } = await newRun()
      await fetch(proxy(`${root}/clf/MLmodel`), { method: 'PUT', body: 'flavors: {}' })
      await fetch(proxy(`${root}/clf/model.pkl`), { method: 'PUT', body: 'pickle' })
      expect((await post('registered-models/create', { name: 'clf-model' })).status).toBe(200)
      const first = await post('model-versions/create', { name: 'clf-model', source: `runs:/${runId}/clf`, run_id: runId })
      expect(first.body.model_version).toMatchObject({
        name: 'clf-model',
        version: '1',
        source: `runs:/${runId}/clf`,
        run_id: runId,
        status: 'READY',
        current_stage: 'None',
      })
      expect(await post('registered-models/create', { name: 'clf-model' })).toMatchObject({
        status: 400,
        body: { error_code: 'RESOURCE_ALREADY_EXISTS' },
      })
      const second = await post('model-versions/create', { name: 'clf-model', source: `mlflow-artifacts:/${root}/clf` })
      expect(second.body.model_version).toMatchObject({ version: '2' })
      const uri = await get('/api/2.0/mlflow/model-versions/get-download-uri?name=clf-model&version=1')
      expect(uri.body).toEqual({ artifact_uri: 'mlflow-artifacts:/_assets/clf-model/1/clf' })
      const files = await get(`/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent('_assets/clf-model/1/clf')}`)
      expect(files.body.files).toEqual([
        { path: 'MLmodel', is_dir: false, file_size: 11 },
        { path: 'model.pkl', is_dir: false, file_size: 6 },
      ])
      expect(await (await fetch(proxy('_assets/clf-model/1/clf/model.pkl'))).text()).toBe('pickle')
      expect((await fetch(proxy('_assets/clf-model/1/clf/new.txt'), { method: 'PUT', body: 'x' })).status).toBe(400)
      const latest = await post('registered-models/get-latest-versions', { name: 'clf-model' })
      expect((latest.body.model_versions as { version: string }[]).map((v) => v.version)).toEqual(['2'])
      const model = await get('/api/2.0/mlflow/registered-models/get?name=clf-model')
      expect(model.body.registered_model).toMatchObject({ name: 'clf-model', latest_versions: [{ version: '2' }] })
      const versions = await get(`/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent("name = 'clf-model'")}`)
      expect((versions.body.model_versions as { version: string }[]).map((v) => v.version)).toEqual(['2', '1'])
      // Clients add "tag.`mlflow.prompt.is_prompt` != 'true'" to leave prompts out: models without the tag match.
      const search = await get(
        `/api/2.0/mlflow/registered-models/search?filter=${encodeURIComponent("name LIKE 'clf-%' AND tag.`mlflow.prompt.is_prompt` != 'true'")}`,
      )
      expect((search.body.registered_models as { name: string }[]).map((m) => m.name)).toEqual(['clf-model'])
      expect(await get('/api/2.0/mlflow/model-versions/get?name=clf-model&version=7')).toMatchObject({ status: 404 })
      expect(await post('registered-models/rename', { name: 'clf-model', new_name: 'x' })).toMatchObject({
        status: 501,
        body: { error_code: 'NOT_IMPLEMENTED' },
      })
      expect(await post('model-versions/create', { name: 'clf-model', source: `runs:/${runId}/nothing-here` })).toMatchObject({
        status: 400,
      })
    })
  })
}
