import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, testStoreKinds, type TestServer } from '../test-support/test-server.js'

interface Answer {
  status: number
  body: Record<string, unknown>
}

type ModelVersionJson = { name: string; version: string; aliases?: string[] }
type RegisteredModelJson = {
  name: string
  aliases?: { alias: string; version: string }[]
  latest_versions: ModelVersionJson[]
}

/** MLflow calls against the server `server()` answers (the one a describe block started). */
function mlflowCalls(server: () => TestServer) {
  /** One MLflow call as the Python client makes it: GET with a query string, anything else with a JSON body. */
  async function call(method: string, path: string, fields: Record<string, unknown> = {}): Promise<Answer> {
    const prefix = path.startsWith('/') ? '' : '/api/2.0/mlflow/'
    const query = method === 'GET' ? `?${new URLSearchParams(fields as Record<string, string>).toString()}` : ''
    const response = await fetch(`${server().url}${prefix}${path}${query}`, {
      method,
      ...(method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields) }),
    })
    const text = await response.text()
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) }
  }

  /** A registered model `name` with `count` versions, each from its own run; answers their sources. */
  async function registerVersions(name: string, count: number): Promise<string[]> {
    const sources: string[] = []
    for (let i = 0; i < count; i++) {
      const created = await call('POST', 'runs/create', { experiment_id: '0' })
      const info = (created.body.run as { info: { run_id: string; artifact_uri: string } }).info
      const root = info.artifact_uri.replace(/^mlflow-artifacts:\//, '')
      const put = await fetch(`${server().url}/api/2.0/mlflow-artifacts/artifacts/${root}/model/MLmodel`, {
        method: 'PUT',
        body: `flavors: {} # ${i + 1}`,
      })
      expect(put.status).toBe(200)
      const source = `runs:/${info.run_id}/model`
      const version = await call('POST', 'model-versions/create', { name, source })
      expect(version.body.model_version, JSON.stringify(version.body)).toMatchObject({ version: String(i + 1) })
      expect((version.body.model_version as ModelVersionJson).aliases).toBeUndefined()
      sources.push(source)
    }
    return sources
  }

  return { call, registerVersions }
}

for (const { kind, enabled } of testStoreKinds()) {
  describe.skipIf(!enabled)(`${kind}: MLflow registered model aliases`, () => {
    let t: TestServer

    const { call, registerVersions } = mlflowCalls(() => t)

    const setAlias = (name: string, alias: string, version: string) =>
      call('POST', 'registered-models/alias', { name, alias, version })
    const byAlias = (name: string, alias: string) => call('GET', 'registered-models/alias', { name, alias })
    const registered = async (name: string) =>
      (await call('GET', 'registered-models/get', { name })).body.registered_model as RegisteredModelJson

    beforeAll(async () => {
      t = await startTestServer(kind)
    })
    afterAll(async () => {
      await t?.stop()
    })

    it('sets, reads, moves and deletes aliases, and shows them on models and versions', async () => {
      await registerVersions('alias-model', 3)
      expect(await setAlias('alias-model', 'champion', '1')).toEqual({ status: 200, body: {} })
      expect(await setAlias('alias-model', 'challenger', '2')).toEqual({ status: 200, body: {} })
      // The same alias again, to the same version, changes nothing.
      expect((await setAlias('alias-model', 'challenger', '2')).status).toBe(200)

      const champion = await byAlias('alias-model', 'champion')
      expect(champion.status).toBe(200)
      expect(champion.body.model_version).toMatchObject({ name: 'alias-model', version: '1', aliases: ['champion'] })
      expect(await registered('alias-model')).toMatchObject({
        aliases: [
          { alias: 'challenger', version: '2' },
          { alias: 'champion', version: '1' },
        ],
        latest_versions: [{ version: '3' }],
      })
      expect((await registered('alias-model')).latest_versions[0]?.aliases).toBeUndefined()

      // Moving: the alias leaves version 1 for version 3, and each version shows the aliases it has.
      expect((await setAlias('alias-model', 'champion', '3')).status).toBe(200)
      expect((await byAlias('alias-model', 'champion')).body.model_version).toMatchObject({ version: '3' })
      const versions = await call('GET', 'model-versions/search', { filter: "name = 'alias-model'" })
      expect(
        (versions.body.model_versions as ModelVersionJson[]).map((v) => ({ version: v.version, aliases: v.aliases })),
      ).toEqual([
        { version: '3', aliases: ['champion'] },
        { version: '2', aliases: ['challenger'] },
        { version: '1', aliases: undefined },
      ])
      expect((await call('GET', 'model-versions/get', { name: 'alias-model', version: '2' })).body.model_version).toMatchObject({
        version: '2',
        aliases: ['challenger'],
      })
      const latest = await call('POST', 'registered-models/get-latest-versions', { name: 'alias-model' })
      expect(latest.body.model_versions).toEqual([expect.objectContaining({ version: '3', aliases: ['champion'] })])
      const search = await call('GET', 'registered-models/search', { filter: "name = 'alias-model'" })
      expect(search.body.registered_models).toEqual([
        expect.objectContaining({
          aliases: [
            { alias: 'challenger', version: '2' },
            { alias: 'champion', version: '3' },
          ],
          latest_versions: [expect.objectContaining({ version: '3', aliases: ['champion'] })],
        }),
      ])
      // `latest` (any case) is the newest version, as in MLflow.
      expect((await byAlias('alias-model', 'Latest')).body.model_version).toMatchObject({ version: '3' })

      // They are Wharf asset aliases: the native API sees them and resolves them.
      const native = await fetch(`${t.url}/api/v1/workspaces/default/assets/alias-model/aliases`)
      expect(((await native.json()) as { items: { alias: string; version: number }[] }).items).toEqual([
        expect.objectContaining({ alias: 'challenger', version: 2 }),
        expect.objectContaining({ alias: 'champion', version: 3 }),
      ])
      const resolved = await fetch(`${t.url}/api/v1/workspaces/default/assets/alias-model/versions/champion`)
      expect(await resolved.json()).toMatchObject({ version: 3 })

      // The Python client deletes with a JSON body; a query string works as well.
      expect(await call('DELETE', 'registered-models/alias', { name: 'alias-model', alias: 'champion' })).toEqual({
        status: 200,
        body: {},
      })
      const byQuery = await fetch(`${t.url}/api/2.0/mlflow/registered-models/alias?name=alias-model&alias=challenger`, {
        method: 'DELETE',
      })
      expect(byQuery.status).toBe(200)
      expect(await byQuery.json()).toEqual({})
      expect((await registered('alias-model')).aliases).toBeUndefined()
      // Deleting an alias the model does not have is no error, as in MLflow.
      expect((await call('DELETE', 'registered-models/alias', { name: 'alias-model', alias: 'champion' })).status).toBe(200)
      expect(await byAlias('alias-model', 'champion')).toMatchObject({ status: 400 })
    })

    it('answers the same on the ajax-api and 3.0 paths, and shows aliases set through the native API', async () => {
      await registerVersions('alias-paths', 2)
      const set = await call('POST', '/ajax-api/2.0/mlflow/registered-models/alias', {
        name: 'alias-paths',
        alias: 'staging',
        version: '2',
      })
      expect(set).toEqual({ status: 200, body: {} })
      const read = await call('GET', '/api/3.0/mlflow/registered-models/alias', { name: 'alias-paths', alias: 'staging' })
      expect(read.body.model_version).toMatchObject({ version: '2', aliases: ['staging'] })
      const put = await fetch(`${t.url}/api/v1/workspaces/default/assets/alias-paths/aliases/prod`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ version: 1 }),
      })
      expect(put.status).toBe(200)
      expect((await registered('alias-paths')).aliases).toEqual([
        { alias: 'prod', version: '1' },
        { alias: 'staging', version: '2' },
      ])
      const deleted = await call('DELETE', '/ajax-api/2.0/mlflow/registered-models/alias', {
        name: 'alias-paths',
        alias: 'staging',
      })
      expect(deleted.status).toBe(200)
      expect((await registered('alias-paths')).aliases).toEqual([{ alias: 'prod', version: '1' }])
    })

    it('answers bad aliases, versions and models with MLflow error codes and statuses', async () => {
      await registerVersions('alias-errors', 1)
      const refused = async (alias: string) => {
        const answer = await setAlias('alias-errors', alias, '1')
        expect(answer.status, alias).toBe(400)
        expect(answer.body.error_code, alias).toBe('INVALID_PARAMETER_VALUE')
        return answer.body.message
      }
      expect(await refused('has space')).toBe(
        "Invalid alias name: 'has space'. Names may only contain alphanumerics, underscores (_), and dashes (-).",
      )
      expect(await refused('dot.ted')).toMatch(/^Invalid alias name: 'dot\.ted'/)
      expect(await refused('LATEST')).toBe("'latest' alias name (case insensitive) is reserved.")
      expect(await refused('v2')).toBe("Version alias name 'v2' is reserved.")
      expect(await refused('a'.repeat(256))).toBe("'Registered model alias name' exceeds the maximum length of 255 characters")
      // MLflow takes a bare number as an alias; Wharf's `name@7` reads it as a version, so it is refused here.
      expect(await refused('7')).toMatch(/^Invalid alias name: '7'\. Registered models are Wharf assets here.*a number/)
      expect(await refused('')).toMatch(/^Missing value for required parameter 'alias'/)

      expect(await setAlias('alias-errors', 'ok', 'one')).toMatchObject({
        status: 400,
        body: { error_code: 'INVALID_PARAMETER_VALUE', message: "Model version must be an integer, got 'one'" },
      })
      expect(await setAlias('alias-errors', 'ok', '9')).toEqual({
        status: 404,
        body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Model Version (name=alias-errors, version=9) not found' },
      })
      // Past what a version column holds: not found, on PostgreSQL too (not a refused query).
      expect(await setAlias('alias-errors', 'ok', '3000000000')).toEqual({
        status: 404,
        body: {
          error_code: 'RESOURCE_DOES_NOT_EXIST',
          message: 'Model Version (name=alias-errors, version=3000000000) not found',
        },
      })
      expect(await setAlias('no-such-model', 'ok', '1')).toMatchObject({
        status: 404,
        body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Registered Model with name=no-such-model not found' },
      })
      // MLflow's server answers an unknown alias with INVALID_PARAMETER_VALUE, an unknown model with RESOURCE_DOES_NOT_EXIST.
      const unknown = await byAlias('alias-errors', 'nope')
      expect(unknown).toMatchObject({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE' } })
      expect(unknown.body.message).toMatch(/^Registered model alias nope not found\. /)
      expect(await byAlias('no-such-model', 'champion')).toMatchObject({
        status: 404,
        body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Registered Model with name=no-such-model not found' },
      })
      expect(await byAlias('alias-errors', 'bad alias')).toMatchObject({
        status: 400,
        body: { error_code: 'INVALID_PARAMETER_VALUE' },
      })
      expect(await call('GET', 'registered-models/alias', { name: 'alias-errors' })).toMatchObject({
        status: 400,
        body: {
          error_code: 'INVALID_PARAMETER_VALUE',
          message: expect.stringMatching(/^Missing value for required parameter 'alias'/),
        },
      })
      expect(await call('DELETE', 'registered-models/alias', { name: 'no-such-model', alias: 'champion' })).toMatchObject({
        status: 404,
        body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Registered Model with name=no-such-model not found' },
      })
      expect(await call('PATCH', 'registered-models/alias', { name: 'alias-errors', alias: 'x' })).toMatchObject({
        status: 404,
        body: { error_code: 'ENDPOINT_NOT_FOUND' },
      })
      // Nothing was set by the refused calls.
      expect((await registered('alias-errors')).aliases).toBeUndefined()
    })
  })

  describe.skipIf(!enabled)(`${kind}: MLflow model version description and tags`, () => {
    let t: TestServer
    // A small tag limit, so that the test reaches it (the version's source is one of the tags).
    const TAGS_PER_VERSION = 5

    const { call, registerVersions } = mlflowCalls(() => t)
    const version = async (name: string, number: string) =>
      (await call('GET', 'model-versions/get', { name, version: number })).body.model_version as ModelVersionJson & {
        description: string
        source: string
        tags?: { key: string; value: string }[]
      }
    const tagsOf = async (name: string, number: string) =>
      ((await version(name, number)).tags ?? []).map((tag) => `${tag.key}=${tag.value}`).sort()
    const searched = async (filter: string) =>
      (((await call('GET', 'model-versions/search', { filter })).body.model_versions ?? []) as ModelVersionJson[]).map(
        (v) => `${v.name}/${v.version}`,
      )

    beforeAll(async () => {
      t = await startTestServer(kind, { limits: { tagsPerRun: TAGS_PER_VERSION } })
    })
    afterAll(async () => {
      await t?.stop()
    })

    it('edits the description and tags of a version, keeps its source, and shows them everywhere', async () => {
      const [source] = await registerVersions('edit-model', 2)
      const updated = await call('PATCH', 'model-versions/update', {
        name: 'edit-model',
        version: '1',
        description: 'first cut',
      })
      expect(updated.status, JSON.stringify(updated.body)).toBe(200)
      expect(updated.body.model_version).toMatchObject({ name: 'edit-model', version: '1', description: 'first cut', source })

      expect(
        await call('POST', 'model-versions/set-tag', { name: 'edit-model', version: '1', key: 'validation', value: 'pending' }),
      ).toEqual({ status: 200, body: {} })
      // Setting a tag again replaces its value; a missing value is empty, as in MLflow.
      expect(
        (await call('POST', 'model-versions/set-tag', { name: 'edit-model', version: '1', key: 'validation', value: 'approved' }))
          .status,
      ).toBe(200)
      expect((await call('POST', 'model-versions/set-tag', { name: 'edit-model', version: '1', key: 'reviewed' })).status).toBe(
        200,
      )
      expect(await tagsOf('edit-model', '1')).toEqual(['reviewed=', 'validation=approved'])
      expect(await version('edit-model', '1')).toMatchObject({ description: 'first cut', source })
      // Version 2 is untouched.
      expect(await version('edit-model', '2')).toMatchObject({ description: '' })
      expect(await tagsOf('edit-model', '2')).toEqual([])

      // Searches see the tags, but not the internal ones that hold the source.
      expect(await searched("tag.validation = 'approved'")).toEqual(['edit-model/1'])
      expect(await searched("name = 'edit-model' AND tag.validation != 'approved'")).toEqual(['edit-model/2'])
      expect(await searched(`tag.\`mlflow.registry.source\` = '${source}'`)).toEqual([])
      expect(await searched(`source = '${source}'`)).toEqual(['edit-model/1'])

      // They are the asset version's: the native API shows them.
      const native = await fetch(`${t.url}/api/v1/workspaces/default/assets/edit-model/versions/1`)
      expect(await native.json()).toMatchObject({
        description: 'first cut',
        tags: { validation: 'approved', reviewed: '', 'mlflow.registry.source': source },
      })

      // The Python client deletes with a JSON body; a query string works as well.
      expect(await call('DELETE', 'model-versions/delete-tag', { name: 'edit-model', version: '1', key: 'validation' })).toEqual({
        status: 200,
        body: {},
      })
      const byQuery = await fetch(`${t.url}/api/2.0/mlflow/model-versions/delete-tag?name=edit-model&version=1&key=reviewed`, {
        method: 'DELETE',
      })
      expect(byQuery.status).toBe(200)
      expect(await tagsOf('edit-model', '1')).toEqual([])
      // Deleting a tag the version does not have is no error, as in MLflow.
      expect(
        (await call('DELETE', 'model-versions/delete-tag', { name: 'edit-model', version: '1', key: 'validation' })).status,
      ).toBe(200)
      expect(await searched("tag.validation = 'approved'")).toEqual([])

      // As MLflow's server does, an update without a description clears it.
      const cleared = await call('PATCH', 'model-versions/update', { name: 'edit-model', version: '1' })
      expect(cleared.body.model_version).toMatchObject({ version: '1', description: '', source })
    })

    it('keeps the tags given at creation and set later, whatever their key', async () => {
      const [source] = await registerVersions('edit-created', 1)
      const created = await call('POST', 'model-versions/create', {
        name: 'edit-created',
        source,
        description: 'made with tags',
        tags: [
          { key: '__proto__', value: 'a tag' },
          { key: 'stage', value: 'dev' },
        ],
      })
      expect(created.body.model_version, JSON.stringify(created.body)).toMatchObject({
        version: '2',
        description: 'made with tags',
        source,
      })
      expect(await tagsOf('edit-created', '2')).toEqual(['__proto__=a tag', 'stage=dev'])
      expect(
        (await call('POST', 'model-versions/set-tag', { name: 'edit-created', version: '1', key: '__proto__' })).status,
      ).toBe(200)
      expect(await tagsOf('edit-created', '1')).toEqual(['__proto__='])
      expect(
        (await call('DELETE', 'model-versions/delete-tag', { name: 'edit-created', version: '2', key: '__proto__' })).status,
      ).toBe(200)
      expect(await tagsOf('edit-created', '2')).toEqual(['stage=dev'])
    })

    it('answers the same on the ajax-api and 3.0 paths', async () => {
      await registerVersions('edit-paths', 1)
      const updated = await call('PATCH', '/ajax-api/2.0/mlflow/model-versions/update', {
        name: 'edit-paths',
        version: '1',
        description: 'from the UI',
      })
      expect(updated.body.model_version).toMatchObject({ description: 'from the UI' })
      const v3 = await call('PATCH', '/api/3.0/mlflow/model-versions/update', {
        name: 'edit-paths',
        version: '1',
        description: 'v3',
      })
      expect(v3.body.model_version).toMatchObject({ description: 'v3' })
      for (const prefix of ['/ajax-api/2.0/mlflow/', '/api/3.0/mlflow/', '/ajax-api/3.0/mlflow/']) {
        expect(
          await call('POST', `${prefix}model-versions/set-tag`, { name: 'edit-paths', version: '1', key: 'k', value: prefix }),
        ).toEqual({ status: 200, body: {} })
        expect(await tagsOf('edit-paths', '1')).toEqual([`k=${prefix}`])
        expect(
          await call('DELETE', `${prefix}model-versions/delete-tag`, { name: 'edit-paths', version: '1', key: 'k' }),
        ).toEqual({
          status: 200,
          body: {},
        })
        expect(await tagsOf('edit-paths', '1')).toEqual([])
      }
      expect(await version('edit-paths', '1')).toMatchObject({ description: 'v3' })
    })

    it('refuses bad keys and values, the internal keys, too many tags, and unknown models and versions', async () => {
      const [source] = await registerVersions('edit-errors', 1)
      const setTag = (key: unknown, value: unknown = 'x', number = '1') =>
        call('POST', 'model-versions/set-tag', { name: 'edit-errors', version: number, key, value })
      const refused = async (answer: Promise<Answer>) => {
        const { status, body } = await answer
        expect({ status, code: body.error_code }, JSON.stringify(body)).toEqual({ status: 400, code: 'INVALID_PARAMETER_VALUE' })
        return body.message as string
      }
      expect(await refused(setTag('has!bang'))).toMatch(/^Invalid tag name: 'has!bang'\. Names may only contain/)
      expect(await refused(setTag('../up'))).toMatch(/cannot be absolute paths/)
      expect(await refused(setTag('k'.repeat(251)))).toMatch(/exceeded length limit of 250/)
      expect(await refused(setTag('big', 'v'.repeat(100_001)))).toMatch(/exceeded length limit of 100000/)
      expect(await refused(setTag(''))).toMatch(/^Missing value for required parameter 'key'/)
      expect(await refused(setTag('ok', 'x', 'one'))).toBe("Model version must be an integer, got 'one'")

      // The tags that hold `source` and `model_id` can be neither set nor deleted, nor given at creation.
      for (const key of ['mlflow.registry.source', 'mlflow.registry.modelId']) {
        expect(await refused(setTag(key, 'runs:/elsewhere/model'))).toMatch(new RegExp(`^Tag key '${key}' is reserved: `))
        expect(await refused(call('DELETE', 'model-versions/delete-tag', { name: 'edit-errors', version: '1', key }))).toMatch(
          /is reserved/,
        )
        expect(
          await refused(
            call('POST', 'model-versions/create', {
              name: 'edit-errors',
              source,
              tags: [{ key, value: 'runs:/elsewhere/model' }],
            }),
          ),
        ).toMatch(/is reserved/)
      }
      expect(
        await refused(call('POST', 'model-versions/create', { name: 'edit-errors', source, tags: [{ key: 'bad key!' }] })),
      ).toMatch(/^Invalid tag name/)
      expect(
        await refused(
          call('PATCH', 'model-versions/update', { name: 'edit-errors', version: '1', description: 'd'.repeat(5001) }),
        ),
      ).toMatch(/description length is 5001; the limit is 5000 \(server limit "descriptionLength"/)

      // Past the server's tag limit, counting the one that holds the source.
      for (let i = 1; i < TAGS_PER_VERSION; i++) expect((await setTag(`t${i}`)).status).toBe(200)
      expect(await refused(setTag('one-more'))).toMatch(/the limit is 5 \(server limit "tagsPerRun"/)
      // Replacing a tag it has is fine at the limit.
      expect((await setTag('t1', 'again')).status).toBe(200)

      const missing = { status: 404, code: 'RESOURCE_DOES_NOT_EXIST' }
      for (const [method, path, fields] of [
        ['PATCH', 'model-versions/update', { description: 'd' }],
        ['POST', 'model-versions/set-tag', { key: 'k', value: 'v' }],
        ['DELETE', 'model-versions/delete-tag', { key: 'k' }],
      ] as const) {
        const noVersion = await call(method, path, { name: 'edit-errors', version: '9', ...fields })
        expect({ status: noVersion.status, code: noVersion.body.error_code }, path).toEqual(missing)
        expect(noVersion.body.message).toBe('Model Version (name=edit-errors, version=9) not found')
        // MLflow names the version for a missing model as well.
        const noModel = await call(method, path, { name: 'no-such-model', version: '1', ...fields })
        expect({ status: noModel.status, code: noModel.body.error_code }, path).toEqual(missing)
        expect(noModel.body.message).toBe('Model Version (name=no-such-model, version=1) not found')
        const noName = await call(method, path, { version: '1', ...fields })
        expect(noName.body.message, path).toMatch(/^Missing value for required parameter 'name'/)
      }

      // Nothing was changed by the refused calls.
      const after = await version('edit-errors', '1')
      expect(after).toMatchObject({ description: '', source })
      expect(await tagsOf('edit-errors', '1')).toEqual(['t1=again', 't2=x', 't3=x', 't4=x'])
      expect(await searched("name = 'edit-errors'")).toEqual(['edit-errors/1'])
    })

    it('answers registered-model description and tag changes NOT_IMPLEMENTED, saying what works', async () => {
      await registerVersions('edit-model-level', 1)
      for (const prefix of ['/api/2.0/mlflow/', '/ajax-api/2.0/mlflow/', '/api/3.0/mlflow/']) {
        for (const [method, path, fields] of [
          ['PATCH', 'registered-models/update', { name: 'edit-model-level', description: 'd' }],
          ['POST', 'registered-models/set-tag', { name: 'edit-model-level', key: 'k', value: 'v' }],
          ['DELETE', 'registered-models/delete-tag', { name: 'edit-model-level', key: 'k' }],
        ] as const) {
          const answer = await call(method, `${prefix}${path}`, fields)
          expect({ status: answer.status, code: answer.body.error_code }, `${method} ${prefix}${path}`).toEqual({
            status: 501,
            code: 'NOT_IMPLEMENTED',
          })
          expect(answer.body.message).toMatch(
            /keeps no description or tags on a registered model .*update_model_version and set_model_version_tag here, `wharf asset update`/,
          )
        }
      }
    })
  })
}
