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

for (const { kind, enabled } of testStoreKinds()) {
  describe.skipIf(!enabled)(`${kind}: MLflow registered model aliases`, () => {
    let t: TestServer

    /** One MLflow call as the Python client makes it: GET with a query string, anything else with a JSON body. */
    async function call(method: string, path: string, fields: Record<string, string> = {}): Promise<Answer> {
      const prefix = path.startsWith('/') ? '' : '/api/2.0/mlflow/'
      const query = method === 'GET' ? `?${new URLSearchParams(fields).toString()}` : ''
      const response = await fetch(`${t.url}${prefix}${path}${query}`, {
        method,
        ...(method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields) }),
      })
      const text = await response.text()
      return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) }
    }

    /** A registered model `name` with `count` versions, each from its own run. */
    async function registerVersions(name: string, count: number): Promise<void> {
      for (let i = 0; i < count; i++) {
        const created = await call('POST', 'runs/create', { experiment_id: '0' })
        const info = (created.body.run as { info: { run_id: string; artifact_uri: string } }).info
        const root = info.artifact_uri.replace(/^mlflow-artifacts:\//, '')
        const put = await fetch(`${t.url}/api/2.0/mlflow-artifacts/artifacts/${root}/model/MLmodel`, {
          method: 'PUT',
          body: `flavors: {} # ${i + 1}`,
        })
        expect(put.status).toBe(200)
        const version = await call('POST', 'model-versions/create', { name, source: `runs:/${info.run_id}/model` })
        expect(version.body.model_version, JSON.stringify(version.body)).toMatchObject({ version: String(i + 1) })
        expect((version.body.model_version as ModelVersionJson).aliases).toBeUndefined()
      }
    }

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
}
