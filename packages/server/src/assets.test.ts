import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import { startTestServer, testStoreKinds, type TestServer } from './test-support/test-server.js'
import { rejectionOf } from '@wharf/contract/test-support'

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex')

for (const { kind, enabled } of testStoreKinds()) {
  if (!enabled) {
    console.log(
      `skipped: no PostgreSQL (set WHARF_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres to run the ${kind} asset API tests)`,
    )
  }
  describe.skipIf(!enabled)(`${kind}: assets API`, () => {
    let t: TestServer
    let client: WharfClient
    let api: string

    beforeAll(async () => {
      t = await startTestServer(kind, { limits: { tagsPerRun: 3, aliasesPerAsset: 3 } })
      client = new WharfClient({ url: t.url })
      api = `${t.url}/api/v1/workspaces/default`
    })
    afterAll(async () => {
      await t?.stop()
    })

    /** A run with the given artifacts, left Running or moved to Completed. */
    async function runWith(files: Record<string, Buffer | string>, options: { finished: boolean }): Promise<string> {
      const run = await client.createRun({ experiment: 'assets', status: 'Running' })
      for (const [path, body] of Object.entries(files)) await client.uploadArtifact(run.id, { path, body })
      if (options.finished) await client.setRunStatus(run.id, 'Completed')
      return run.id
    }

    async function download(asset: { name: string; version: number; path: string }): Promise<Buffer> {
      const response = await client.downloadAssetFile(asset)
      return Buffer.from(await response.arrayBuffer())
    }

    it('promotes a finished run twice as versions 1 and 2, referencing its artifacts', async () => {
      const model = randomBytes(200_000)
      const runId = await runWith({ 'outputs/model.pkl': model, 'outputs/notes.txt': 'x' }, { finished: true })
      const artifact = (await client.listArtifacts(runId, { prefix: 'outputs/model.pkl' }).toArray())[0]
      const first = await client.promoteAsset({
        name: 'churn-model',
        runId,
        artifactPath: 'outputs/model.pkl',
        description: 'first cut',
        tags: { stage: 'dev' },
      })
      expect(first).toMatchObject({
        workspace: 'default',
        name: 'churn-model',
        version: 1,
        description: 'first cut',
        tags: { stage: 'dev' },
        sourceRunId: runId,
        artifactPath: 'outputs/model.pkl',
        copied: false,
        fileCount: 1,
        size: model.length,
      })
      expect(first.files).toEqual([
        {
          path: 'model.pkl',
          size: model.length,
          sha256: sha256(model),
          contentType: artifact?.contentType,
          datastore: artifact?.datastore,
          key: artifact?.key,
        },
      ])
      const second = await client.promoteAsset({ name: 'churn-model', runId, artifactPath: './outputs//model.pkl' })
      expect(second).toMatchObject({ version: 2, description: '', tags: {}, artifactPath: 'outputs/model.pkl' })

      expect(await client.getAssetVersion('churn-model', 'latest')).toEqual(second)
      expect(await client.getAssetVersion('churn-model', 1)).toEqual(first)
      const versions = await client.listAssetVersions('churn-model', { pageSize: 1 }).toArray()
      expect(versions.map((v) => [v.version, v.files.length, v.fileCount])).toEqual([
        [2, 0, 1],
        [1, 0, 1],
      ])
      const listed = await client.listAssets().toArray()
      expect(listed.find((a) => a.name === 'churn-model')).toEqual({
        name: 'churn-model',
        latestVersion: 2,
        versionCount: 2,
        description: '',
        updatedAt: second.createdAt,
      })

      const bytes = await download({ name: 'churn-model', version: 2, path: 'model.pkl' })
      expect(sha256(bytes)).toBe(first.files[0]?.sha256)
      const part = await client.downloadAssetFile(
        { name: 'churn-model', version: 1, path: 'model.pkl' },
        { range: { start: 100, end: 199 } },
      )
      expect(part.status).toBe(206)
      expect(part.headers.get('content-range')).toBe(`bytes 100-199/${model.length}`)
      expect(Buffer.from(await part.arrayBuffer()).equals(model.subarray(100, 200))).toBe(true)
      const latest = await fetch(`${api}/assets/churn-model/versions/latest/files/model.pkl`, { headers: { range: 'bytes=-10' } })
      expect(latest.headers.get('x-wharf-sha256')).toBe(sha256(model))
      expect(Buffer.from(await latest.arrayBuffer()).equals(model.subarray(model.length - 10))).toBe(true)
      const beyond = await fetch(`${api}/assets/churn-model/versions/1/files/model.pkl`, {
        headers: { range: `bytes=${model.length}-` },
      })
      expect(beyond.status).toBe(416)
    })

    it('takes a folder with its last segment, and a single file by its name', async () => {
      const runId = await runWith(
        {
          'outputs/ckpt/a.pt': 'a',
          'outputs/ckpt/sub/b.pt': 'b',
          'outputs/ckpt.bak': 'not me',
          'outputs/ckpt2/c.pt': 'not me either',
          'model.onnx': 'top level',
        },
        { finished: true },
      )
      const folder = await client.promoteAsset({ name: 'ckpt', runId, artifactPath: 'outputs/ckpt/' })
      expect(folder.files.map((f) => [f.path, f.size, f.sha256])).toEqual([
        ['ckpt/a.pt', 1, sha256('a')],
        ['ckpt/sub/b.pt', 1, sha256('b')],
      ])
      expect(folder).toMatchObject({ artifactPath: 'outputs/ckpt', fileCount: 2, size: 2 })
      expect((await download({ name: 'ckpt', version: 1, path: 'ckpt/sub/b.pt' })).toString()).toBe('b')
      const single = await client.promoteAsset({ name: 'ckpt-bak', runId, artifactPath: 'outputs/ckpt.bak' })
      expect(single.files.map((f) => f.path)).toEqual(['ckpt.bak'])
      const top = await client.promoteAsset({ name: 'onnx', runId, artifactPath: 'model.onnx' })
      expect(top.files.map((f) => f.path)).toEqual(['model.onnx'])
    })

    it('copies the files of a live run, so the asset stays as promoted when the run overwrites them', async () => {
      const runId = await runWith({ 'outputs/model.pkl': 'epoch 1' }, { finished: false })
      const asset = await client.promoteAsset({ name: 'live-model', runId, artifactPath: 'outputs/model.pkl' })
      expect(asset).toMatchObject({ version: 1, copied: true, fileCount: 1 })
      const file = asset.files[0]
      expect(file).toMatchObject({ path: 'model.pkl', size: 7, sha256: sha256('epoch 1'), datastore: 'workspaceblobstore' })
      expect(file?.key).toMatch(/^Assets\/live-model\/[0-9a-z]+\/model\.pkl$/)

      await client.uploadArtifact(runId, { path: 'outputs/model.pkl', body: 'epoch 2, much better' })
      await client.setRunStatus(runId, 'Completed')
      expect((await download({ name: 'live-model', version: 1, path: 'model.pkl' })).toString()).toBe('epoch 1')
      const after = await client.promoteAsset({ name: 'live-model', runId, artifactPath: 'outputs/model.pkl' })
      expect(after).toMatchObject({ version: 2, copied: false })
      expect(after.files[0]?.sha256).toBe(sha256('epoch 2, much better'))
    })

    it('gives concurrent promotes distinct consecutive versions, each with its own copy', async () => {
      const runId = await runWith({ 'outputs/w.bin': randomBytes(50_000) }, { finished: false })
      const created = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          client.promoteAsset({ name: 'racy', runId, artifactPath: 'outputs/w.bin', description: `p${i}` }),
        ),
      )
      expect(created.map((v) => v.version).sort()).toEqual([1, 2, 3, 4, 5, 6])
      expect(new Set(created.map((v) => v.files[0]?.key)).size).toBe(6)
      for (const version of created) {
        const bytes = await download({ name: 'racy', version: version.version, path: 'w.bin' })
        expect(sha256(bytes)).toBe(version.files[0]?.sha256)
      }
    })

    it('refuses bad promotes with the error that says what to do', async () => {
      const runId = await runWith({ 'outputs/model.pkl': 'm' }, { finished: true })
      const nothing = await rejectionOf(
        client.promoteAsset({ name: 'empty', runId, artifactPath: 'outputs/missing' }),
        'ARTIFACT_NOT_FOUND',
      )
      expect(nothing.message).toContain(`run ${runId} has no artifact at outputs/missing`)
      expect(nothing.message).toContain(`wharf history info -r ${runId}`)
      // `outputs/model` is a string prefix of `outputs/model.pkl` but neither that file nor a folder.
      await rejectionOf(client.promoteAsset({ name: 'empty', runId, artifactPath: 'outputs/model' }), 'ARTIFACT_NOT_FOUND')
      await rejectionOf(
        client.promoteAsset({ name: 'x', runId: 'no-such-run', artifactPath: 'outputs/model.pkl' }),
        'RUN_NOT_FOUND',
      )
      for (const name of ['', 'bad name', '../up', '-dash', 'a'.repeat(300)]) {
        const error = await rejectionOf(
          client.promoteAsset({ name, runId, artifactPath: 'outputs/model.pkl' }),
          'INVALID_ARGUMENT',
        )
        expect(error.message).toContain('asset name')
      }
      for (const artifactPath of ['../x', '/etc/passwd', 'outputs/../../x', '']) {
        await rejectionOf(client.promoteAsset({ name: 'x', runId, artifactPath }), 'UNSAFE_PATH')
      }
      await rejectionOf(
        client.promoteAsset({ name: 'x', runId, artifactPath: 'outputs/model.pkl', tags: { a: '1', b: '2', c: '3', d: '4' } }),
        'LIMIT_EXCEEDED',
      )
      await rejectionOf(
        client.promoteAsset({ name: 'x', runId, artifactPath: 'outputs/model.pkl', tags: { '': 'v' } }),
        'INVALID_ARGUMENT',
      )
      const extra = await fetch(`${api}/assets`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'x', runId, artifactPath: 'outputs/model.pkl', colour: 'red' }),
      })
      expect(extra.status).toBe(400)
      await rejectionOf(client.getAssetVersion('empty', 'latest'), 'ASSET_NOT_FOUND')
      expect((await client.listAssets().toArray()).map((a) => a.name)).not.toContain('x')
    })

    it('says ASSET_NOT_FOUND for unknown assets and versions, and refuses unsafe file paths', async () => {
      const runId = await runWith({ 'outputs/m.bin': 'm' }, { finished: true })
      await client.promoteAsset({ name: 'known', runId, artifactPath: 'outputs/m.bin' })
      const unknown = await rejectionOf(client.getAssetVersion('unknown', 'latest'), 'ASSET_NOT_FOUND')
      expect(unknown.message).toContain('asset "unknown"')
      expect(unknown.message).toContain('wharf asset list')
      await rejectionOf(client.getAssetVersion('known', 7), 'ASSET_NOT_FOUND')
      await rejectionOf(client.listAssetVersions('unknown').toArray(), 'ASSET_NOT_FOUND')
      await rejectionOf(client.downloadAssetFile({ name: 'known', version: 7, path: 'm.bin' }), 'ASSET_NOT_FOUND')
      await rejectionOf(client.downloadAssetFile({ name: 'known', version: 1, path: 'other.bin' }), 'FILE_NOT_FOUND')
      for (const [url, status, code] of [
        [`${api}/assets/known/versions/abc`, 404, 'ASSET_ALIAS_NOT_FOUND'],
        [`${api}/assets/known/versions/a%20b`, 400, 'INVALID_ARGUMENT'],
        [`${api}/assets/known/versions/0`, 400, 'INVALID_ARGUMENT'],
        [`${api}/assets/known/versions/v2`, 400, 'INVALID_ARGUMENT'],
        [`${api}/assets/bad%20name/versions/1`, 400, 'INVALID_ARGUMENT'],
        [`${api}/assets/known/versions/1/files/..%2F..%2Fetc%2Fpasswd`, 400, 'UNSAFE_PATH'],
        [`${api}/assets/known/versions/1/files/a%2F..%2F..%2Fm.bin`, 400, 'UNSAFE_PATH'],
        [`${api}/assets/known/versions/1/files/%2Fetc%2Fpasswd`, 400, 'UNSAFE_PATH'],
        [`${api}/assets/known/versions/1/files/%00m.bin`, 400, 'UNSAFE_PATH'],
        [`${t.url}/api/v1/workspaces/nope/assets`, 404, 'WORKSPACE_NOT_FOUND'],
      ] as const) {
        const response = await fetch(url)
        const body = (await response.json()) as { error?: { code: string } }
        expect([response.status, body.error?.code], url).toEqual([status, code])
      }
      expect(t.logLines.filter((l) => l.includes('ERROR'))).toEqual([])
    })

    it('points an alias at a version, reads and downloads by it, moves it and removes it', async () => {
      const first = await runWith({ 'outputs/w.bin': 'one' }, { finished: true })
      const second = await runWith({ 'outputs/w.bin': 'two' }, { finished: true })
      await client.promoteAsset({ name: 'aliased', runId: first, artifactPath: 'outputs/w.bin' })
      await client.promoteAsset({ name: 'aliased', runId: second, artifactPath: 'outputs/w.bin' })
      expect(await client.listAssetAliases('aliased')).toEqual([])

      const set = await client.setAssetAlias({ name: 'aliased', alias: 'champion', version: 1 })
      expect(set).toMatchObject({ name: 'aliased', alias: 'champion', version: 1 })
      expect(Date.parse(set.updatedAt)).not.toBeNaN()
      const byAlias = await client.getAssetVersion('aliased', 'champion')
      expect([byAlias.version, byAlias.sourceRunId]).toEqual([1, first])
      // The file routes take the alias too, so a download link can follow it.
      const file = await fetch(`${api}/assets/aliased/versions/champion/files/w.bin`)
      expect([file.status, await file.text()]).toEqual([200, 'one'])

      await client.setAssetAlias({ name: 'aliased', alias: 'champion', version: 2 })
      await client.setAssetAlias({ name: 'aliased', alias: 'previous', version: 1 })
      expect((await client.getAssetVersion('aliased', 'champion')).sourceRunId).toBe(second)
      expect((await client.listAssetAliases('aliased')).map((a) => [a.alias, a.version])).toEqual([
        ['champion', 2],
        ['previous', 1],
      ])

      expect(await client.deleteAssetAlias({ name: 'aliased', alias: 'champion' })).toEqual({
        name: 'aliased',
        alias: 'champion',
        deleted: true,
      })
      expect((await client.deleteAssetAlias({ name: 'aliased', alias: 'champion' })).deleted).toBe(false)
      const gone = await rejectionOf(client.getAssetVersion('aliased', 'champion'), 'ASSET_ALIAS_NOT_FOUND')
      expect(gone.message).toContain('wharf asset alias list aliased')
      // The version the alias pointed at stays.
      expect((await client.getAssetVersion('aliased', 2)).sourceRunId).toBe(second)
    })

    it("edits a version's description and tags, by number or alias, and leaves its files as they were", async () => {
      const runId = await runWith({ 'outputs/e.bin': 'e' }, { finished: true })
      const made = await client.promoteAsset({
        name: 'editable',
        runId,
        artifactPath: 'outputs/e.bin',
        description: 'first',
        tags: { stage: 'dev', owner: 'a' },
      })
      await client.setAssetAlias({ name: 'editable', alias: 'current', version: 1 })
      const edited = await client.updateAssetVersion(
        { name: 'editable', version: 'current' },
        { description: 'validated', tags: { set: { stage: 'approved', score: '0.93' }, remove: ['owner'] } },
      )
      expect(edited).toMatchObject({ version: 1, description: 'validated', tags: { stage: 'approved', score: '0.93' } })
      expect(edited.files).toEqual(made.files)
      expect(await client.getAssetVersion('editable', 1)).toEqual(edited)
      // Only what is sent changes.
      const tagsOnly = await client.updateAssetVersion({ name: 'editable', version: 1 }, { tags: { remove: ['score'] } })
      expect([tagsOnly.description, tagsOnly.tags]).toEqual(['validated', { stage: 'approved' }])

      await rejectionOf(client.updateAssetVersion({ name: 'editable', version: 2 }, { description: 'x' }), 'ASSET_NOT_FOUND')
      await rejectionOf(client.updateAssetVersion({ name: 'nope', version: 1 }, { description: 'x' }), 'ASSET_NOT_FOUND')
      const tooMany = await rejectionOf(
        client.updateAssetVersion({ name: 'editable', version: 1 }, { tags: { set: { a: '1', b: '2', c: '3' } } }),
        'LIMIT_EXCEEDED',
      )
      expect(tooMany.message).toContain('tagsPerRun')
      await rejectionOf(
        client.updateAssetVersion({ name: 'editable', version: 1 }, { description: 'x'.repeat(5001) }),
        'LIMIT_EXCEEDED',
      )
      const bad = await fetch(`${api}/assets/editable/versions/1`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ files: [] }),
      })
      expect([bad.status, ((await bad.json()) as { error: { code: string } }).error.code]).toEqual([400, 'INVALID_ARGUMENT'])
      expect((await client.getAssetVersion('editable', 1)).tags).toEqual({ stage: 'approved' })
      // The tags where the MLflow registry keeps a version's source can be neither set nor removed.
      for (const change of [{ set: { 'mlflow.registry.source': 'runs:/x/y' } }, { remove: ['mlflow.registry.modelId'] }]) {
        const reserved = await rejectionOf(
          client.updateAssetVersion({ name: 'editable', version: 1 }, { tags: change }),
          'INVALID_ARGUMENT',
        )
        expect(reserved.message).toContain('kept by the model registry')
      }
      await rejectionOf(
        client.promoteAsset({ name: 'editable', runId, artifactPath: 'outputs/e.bin', tags: { 'mlflow.registry.source': 'x' } }),
        'INVALID_ARGUMENT',
      )
    })

    it('refuses aliases that could be read as a version, versions that do not exist, and bad bodies', async () => {
      const runId = await runWith({ 'outputs/m.bin': 'm' }, { finished: true })
      await client.promoteAsset({ name: 'alias-rules', runId, artifactPath: 'outputs/m.bin' })
      for (const alias of ['latest', 'LATEST', '7', 'v2', 'V10', 'a.b', 'x'.repeat(256)]) {
        const refused = await rejectionOf(client.setAssetAlias({ name: 'alias-rules', alias, version: 1 }), 'INVALID_ARGUMENT')
        expect(refused.message).toContain('not "latest", a number or v<number>')
      }
      await rejectionOf(client.setAssetAlias({ name: 'alias-rules', alias: 'prod', version: 2 }), 'ASSET_NOT_FOUND')
      // Past what a version column holds: not found on every engine, never a refused query.
      await rejectionOf(client.setAssetAlias({ name: 'alias-rules', alias: 'prod', version: 3_000_000_000 }), 'ASSET_NOT_FOUND')
      await rejectionOf(client.getAssetVersion('alias-rules', 3_000_000_000), 'ASSET_NOT_FOUND')
      await rejectionOf(client.setAssetAlias({ name: 'no-such-asset', alias: 'prod', version: 1 }), 'ASSET_NOT_FOUND')
      await rejectionOf(client.deleteAssetAlias({ name: 'no-such-asset', alias: 'prod' }), 'ASSET_NOT_FOUND')
      await rejectionOf(client.listAssetAliases('no-such-asset'), 'ASSET_NOT_FOUND')
      for (const body of ['{}', '{"version":0}', '{"version":"1"}', '{"version":1,"extra":true}', 'not json']) {
        const response = await fetch(`${api}/assets/alias-rules/aliases/prod`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body,
        })
        const answer = (await response.json()) as { error?: { code: string } }
        expect([response.status, answer.error?.code], body).toEqual([
          400,
          expect.stringMatching(/INVALID_ARGUMENT|MALFORMED_REQUEST/),
        ])
      }
      expect(await client.listAssetAliases('alias-rules')).toEqual([])

      // At most aliasesPerAsset (3 here) aliases; one that exists can still be moved.
      for (const alias of ['a', 'b', 'c']) await client.setAssetAlias({ name: 'alias-rules', alias, version: 1 })
      const over = await rejectionOf(client.setAssetAlias({ name: 'alias-rules', alias: 'd', version: 1 }), 'LIMIT_EXCEEDED')
      expect(over.message).toContain('aliasesPerAsset')
      await client.setAssetAlias({ name: 'alias-rules', alias: 'a', version: 1 })
      expect((await client.listAssetAliases('alias-rules')).map((a) => a.alias)).toEqual(['a', 'b', 'c'])
      expect(t.logLines.filter((l) => l.includes('ERROR'))).toEqual([])
    })
  })
}
