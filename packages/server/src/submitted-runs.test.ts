import { createHash } from 'node:crypto'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROUTES, routePath, type ErrorBody, type Run, type RunDefinition, type RouteName } from '@wharf/contract'
import { loadServerConfig } from './config.js'
import { RUN_TOKEN_KEY_LABEL, createRunTokens } from './run-token.js'
import { createSecretBox, loadSecretKey } from './secret-box.js'
import { startTestServer, testStoreKinds, type TestServer } from './test-support/test-server.js'

const AUTH = 'submitted-runs-test-token-0123456789'

const sha256Of = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')

/** A route's JSON answer as its contract says, or the text of a binary one. */
type BodyOf<N extends RouteName> = (typeof ROUTES)[N]['response'] extends { _zod: { output: infer O } } ? O : string

/**
 * What a route answered. `body` is typed as the route's success answer and as the error body at once:
 * each test reads the one its status says it got, and a misspelt field is a type error.
 */
interface Answer<N extends RouteName> {
  status: number
  body: BodyOf<N> & ErrorBody
  headers: Headers
  text: string
}

interface Call {
  token?: string | undefined
  params?: Record<string, string>
  query?: Record<string, string | number>
  json?: unknown
  bytes?: string | Buffer
  rest?: string
}

/** One request by route name, as any client would send it; answers status and body whatever they are. */
async function call<N extends RouteName>(url: string, name: N, options: Call = {}): Promise<Answer<N>> {
  const def = ROUTES[name]
  let target = routePath(def.path, { workspace: 'default', ...options.params })
  if (target.endsWith('*')) target = target.slice(0, -1) + (options.rest ?? '')
  const search = new URLSearchParams(Object.entries(options.query ?? {}).map(([k, v]): [string, string] => [k, String(v)]))
  const headers: Record<string, string> = {}
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  let body: string | Buffer | undefined
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.json)
  } else if (options.bytes !== undefined) {
    headers['content-type'] = 'application/octet-stream'
    body = options.bytes
  }
  const response = await fetch(`${url}${target}${search.size > 0 ? `?${search.toString()}` : ''}`, {
    method: def.method,
    headers,
    ...(body !== undefined ? { body } : {}),
  })
  const text = await response.text()
  let parsed: unknown = text
  if (response.headers.get('content-type')?.startsWith('application/json')) parsed = JSON.parse(text)
  return { status: response.status, body: parsed as BodyOf<N> & ErrorBody, headers: response.headers, text }
}

const definition = (overrides: Partial<RunDefinition> = {}): RunDefinition => ({
  script: 'train.py',
  command: ['python3', 'train.py'],
  dataReferences: [],
  environmentVariables: {},
  sourceDirectoryDataStore: 'workspaceblobstore',
  python: null,
  maxRunDurationSeconds: 3600,
  ...overrides,
})

describe('server settings for submitted runs', () => {
  it('reads the runner timeout (default 30 s) and refuses an auth token that looks like a run token', () => {
    expect(loadServerConfig({ dataDir: '/tmp/x' }).runnerTimeoutSeconds).toBe(30)
    expect(loadServerConfig({ dataDir: '/tmp/x', runnerTimeoutSeconds: 5 }).runnerTimeoutSeconds).toBe(5)
    expect(() => loadServerConfig({ dataDir: '/tmp/x', runnerTimeoutSeconds: 0 })).toThrow(/runnerTimeoutSeconds/)
    expect(() => loadServerConfig({ dataDir: '/tmp/x', authToken: 'wrt1.0123456789abcdef' })).toThrow(/prefix of run tokens/)
  })
})

for (const { kind, enabled } of testStoreKinds()) {
  if (!enabled) {
    console.log(
      `skipped: no PostgreSQL (set WHARF_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres to run the ${kind} submitted-run tests)`,
    )
  }

  describe.skipIf(!enabled)(`${kind}: submitted runs over HTTP (auth on)`, () => {
    let t: TestServer
    const api = <N extends RouteName>(name: N, options: Call = {}) => call(t.url, name, { token: AUTH, ...options })

    beforeAll(async () => {
      t = await startTestServer(kind, {
        authToken: AUTH,
        limits: { snapshotFiles: 5, snapshotBytes: 1000, logAppendBytes: 64 },
      })
    })
    afterAll(async () => {
      await t?.stop()
    })

    /** Uploads each content and creates the snapshot until complete; answers its id. */
    async function completeSnapshot(files: Record<string, string>): Promise<string> {
      const manifest = Object.entries(files).map(([p, content]) => ({ path: p, sha256: sha256Of(content), size: content.length }))
      const first = await api('createSnapshot', { json: { files: manifest } })
      for (const [, content] of Object.entries(files)) {
        if (first.body.missing.includes(sha256Of(content))) {
          expect((await api('uploadSnapshotBlob', { params: { sha256: sha256Of(content) }, bytes: content })).status).toBe(201)
        }
      }
      const done = await api('createSnapshot', { json: { files: manifest } })
      expect(done.body.complete).toBe(true)
      return done.body.id
    }

    const createRun = async (body: Record<string, unknown>): Promise<Run> => {
      const answer = await api('createRun', { json: { experiment: 'submitted', ...body } })
      expect(answer.status, answer.text).toBe(201)
      return answer.body
    }

    describe('snapshots', () => {
      it('answers the missing contents, takes each once, and is content-addressed', async () => {
        const files = [
          { path: 'train.py', sha256: sha256Of('print(1)\n'), size: 9, executable: true },
          { path: 'lib/a.py', sha256: sha256Of('x = 1\n'), size: 6 },
          { path: 'lib/copy.py', sha256: sha256Of('x = 1\n'), size: 6 },
        ]
        const created = await api('createSnapshot', { json: { files } })
        expect(created.status).toBe(201)
        expect(created.body).toEqual({
          id: expect.stringMatching(/^[0-9a-f]{64}$/) as string,
          datastore: 'workspaceblobstore',
          fileCount: 3,
          totalBytes: 21,
          complete: false,
          missing: [sha256Of('print(1)\n'), sha256Of('x = 1\n')].sort(),
        })
        // Not usable before it is complete.
        expect((await api('getSnapshot', { params: { snapshotId: created.body.id } })).body.error.code).toBe(
          'SNAPSHOT_INCOMPLETE',
        )
        const refused = await api('createRun', { json: { experiment: 'submitted', snapshotId: created.body.id } })
        expect([refused.status, refused.body.error.code]).toEqual([409, 'SNAPSHOT_INCOMPLETE'])

        // Bytes that do not hash to the name are refused, and nothing is kept.
        const wrong = await api('uploadSnapshotBlob', { params: { sha256: sha256Of('x = 1\n') }, bytes: 'x = 2\n' })
        expect([wrong.status, wrong.body.error.code]).toEqual([400, 'INVALID_ARGUMENT'])
        expect(wrong.body.error.message).toMatch(/nothing was stored/)
        const listing = await api('listDatastoreFiles', {
          params: { datastore: 'workspaceblobstore' },
          query: { prefix: '.wharf/snapshots/' },
        })
        expect(listing.body.items).toEqual([])

        const stored = await api('uploadSnapshotBlob', { params: { sha256: sha256Of('x = 1\n') }, bytes: 'x = 1\n' })
        expect([stored.status, stored.body]).toEqual([201, { sha256: sha256Of('x = 1\n'), size: 6, stored: true }])
        const again = await api('uploadSnapshotBlob', { params: { sha256: sha256Of('x = 1\n') }, bytes: 'x = 1\n' })
        expect([again.status, again.body.stored]).toEqual([200, false])

        const half = await api('createSnapshot', { json: { files } })
        expect([half.status, half.body.complete, half.body.missing]).toEqual([200, false, [sha256Of('print(1)\n')]])
        await api('uploadSnapshotBlob', { params: { sha256: sha256Of('print(1)\n') }, bytes: 'print(1)\n' })
        const complete = await api('createSnapshot', { json: { files: [...files].reverse() } })
        expect([complete.status, complete.body.id, complete.body.complete, complete.body.missing]).toEqual([
          200,
          created.body.id,
          true,
          [],
        ])

        const snapshot = await api('getSnapshot', { params: { snapshotId: created.body.id } })
        expect(snapshot.body).toMatchObject({ id: created.body.id, datastore: 'workspaceblobstore', totalBytes: 21 })
        expect(snapshot.body.files).toEqual([
          { path: 'lib/a.py', sha256: sha256Of('x = 1\n'), size: 6, executable: false },
          { path: 'lib/copy.py', sha256: sha256Of('x = 1\n'), size: 6, executable: false },
          { path: 'train.py', sha256: sha256Of('print(1)\n'), size: 9, executable: true },
        ])
        const blob = await api('downloadSnapshotBlob', { params: { sha256: sha256Of('print(1)\n') } })
        expect([blob.status, blob.text, blob.headers.get('x-wharf-sha256')]).toEqual([200, 'print(1)\n', sha256Of('print(1)\n')])
        const none = await api('downloadSnapshotBlob', { params: { sha256: sha256Of('nothing') } })
        expect([none.status, none.body.error.code]).toEqual([404, 'FILE_NOT_FOUND'])

        // Another executable bit is another snapshot.
        const other = await api('createSnapshot', { json: { files: files.map((f) => ({ ...f, executable: false })) } })
        expect([other.status, other.body.complete]).toEqual([201, true])
        expect(other.body.id).not.toBe(created.body.id)

        const run = await createRun({ snapshotId: created.body.id, definition: definition(), status: 'Queued' })
        expect(run).toMatchObject({ snapshotId: created.body.id, definition: definition(), status: 'Queued' })
        expect(Object.keys(run.statusTimes)).toEqual(['Queued'])
      })

      it('takes a content again when its bytes are gone from the datastore, though it was recorded', async () => {
        const content = 'lost = True\n'
        const sha256 = sha256Of(content)
        expect((await api('uploadSnapshotBlob', { params: { sha256 }, bytes: content })).status).toBe(201)
        const key = `.wharf/snapshots/blobs/${sha256.slice(0, 2)}/${sha256}`
        const folder = await api('datastoreAccess', {
          params: { datastore: 'workspaceblobstore' },
          json: { operation: 'read' },
        })
        if (folder.body.mode !== 'filesystem')
          throw new Error(`workspaceblobstore is reached by ${folder.body.mode}, not as a folder`)
        const { rm } = await import('node:fs/promises')
        await rm(path.join(folder.body.path, key))
        const again = await api('uploadSnapshotBlob', { params: { sha256 }, bytes: content })
        expect([again.status, again.body]).toEqual([201, { sha256, size: content.length, stored: true }])
        const back = await api('downloadSnapshotBlob', { params: { sha256 } })
        expect([back.status, back.text]).toEqual([200, content])
        // Held now: taken once.
        expect((await api('uploadSnapshotBlob', { params: { sha256 }, bytes: content })).status).toBe(200)
      })

      it('enforces the file and byte limits, naming them', async () => {
        const file = (i: number, size = 1) => ({ path: `f${i}.txt`, sha256: sha256Of(String(i)), size })
        const many = await api('createSnapshot', { json: { files: [0, 1, 2, 3, 4, 5].map((i) => file(i)) } })
        expect([many.status, many.body.error.code, many.body.error.details?.limit]).toEqual([
          400,
          'LIMIT_EXCEEDED',
          'snapshotFiles',
        ])
        const big = await api('createSnapshot', { json: { files: [file(0, 600), file(1, 600)] } })
        expect([big.body.error.code, big.body.error.details?.limit]).toEqual(['LIMIT_EXCEEDED', 'snapshotBytes'])
        const blob = 'x'.repeat(1001)
        const tooLarge = await api('uploadSnapshotBlob', { params: { sha256: sha256Of(blob) }, bytes: blob })
        expect(tooLarge.body.error.details?.limit).toBe('snapshotBytes')
      })

      it('refuses paths that are not relative, canonical and unique, a bad hash and an unknown datastore', async () => {
        const entry = (p: string) => ({ path: p, sha256: sha256Of(p), size: 1 })
        for (const bad of ['../escape.py', '/etc/passwd', 'a/../b.py', 'dir\\file.py', './train.py', 'a//b.py', 'dir/']) {
          const answer = await api('createSnapshot', { json: { files: [entry(bad)] } })
          expect([answer.status, answer.body.error.code], bad).toEqual([400, 'UNSAFE_PATH'])
        }
        const twice = await api('createSnapshot', { json: { files: [entry('a.py'), entry('a.py')] } })
        expect([twice.body.error.code, twice.body.error.message]).toEqual([
          'INVALID_ARGUMENT',
          expect.stringMatching(/listed twice/),
        ])
        const badHash = await api('uploadSnapshotBlob', { params: { sha256: 'ABC' }, bytes: 'x' })
        expect(badHash.body.error.code).toBe('INVALID_ARGUMENT')
        const unknown = await api('createSnapshot', { json: { datastore: 'nope', files: [entry('a.py')] } })
        expect(unknown.body.error.code).toBe('DATASTORE_NOT_FOUND')
        const noRun = await api('createRun', { json: { experiment: 'x', snapshotId: sha256Of('no such snapshot') } })
        expect([noRun.status, noRun.body.error.code]).toEqual([404, 'SNAPSHOT_NOT_FOUND'])
        const unknownInput = await api('createRun', {
          json: {
            experiment: 'x',
            definition: definition({
              dataReferences: [
                { name: 'raw', datastore: 'nope', pathOnDatastore: null, mode: 'mount', pathOnCompute: null, overwrite: false },
              ],
            }),
          },
        })
        expect([unknownInput.status, unknownInput.body.error.code]).toEqual([404, 'DATASTORE_NOT_FOUND'])
      })

      it('refuses a file that is also a folder, anything under .wharf/, and a bad or twice-named data reference', async () => {
        const entry = (p: string) => ({ path: p, sha256: sha256Of(p), size: 1 })
        const both = await api('createSnapshot', { json: { files: [entry('a/b.py'), entry('a')] } })
        expect([both.status, both.body.error.code, both.body.error.message]).toEqual([
          400,
          'INVALID_ARGUMENT',
          expect.stringMatching(/"a" is a file, but "a\/b.py" puts it as a folder/),
        ])
        for (const hidden of ['.wharf/config.json', 'sub/.wharf/config.json']) {
          const config = await api('createSnapshot', { json: { files: [entry('train.py'), entry(hidden)] } })
          expect([config.status, config.body.error.code, config.body.error.message], hidden).toEqual([
            400,
            'INVALID_ARGUMENT',
            expect.stringMatching(/in a "\.wharf\/" folder/),
          ])
        }
        // A file named .wharf is no folder of configuration.
        expect((await api('createSnapshot', { json: { files: [entry('.wharf')] } })).status).toBe(201)
        const reference = (name: string, pathOnDatastore: string | null) => ({
          name,
          datastore: 'workspaceblobstore',
          pathOnDatastore,
          mode: 'download' as const,
          pathOnCompute: null,
          overwrite: false,
        })
        const submit = (dataReferences: ReturnType<typeof reference>[]) =>
          api('createRun', { json: { experiment: 'x', definition: definition({ dataReferences }) } })
        for (const bad of ['../escape', 'a/../b', 'a//b', './a/./b', 'dir\\x']) {
          const answer = await submit([reference('raw', bad)])
          expect([answer.status, answer.body.error.code], bad).toEqual([400, 'UNSAFE_PATH'])
        }
        const twice = await submit([reference('raw', 'a'), reference('raw', 'b')])
        expect([twice.status, twice.body.error.code, twice.body.error.message]).toEqual([
          400,
          'INVALID_ARGUMENT',
          expect.stringMatching(/data reference "raw" is listed twice/),
        ])
        for (const good of [null, '/', '.', './', 'data/', '/data/train.csv', 'runs/{runId}/out']) {
          const answer = await submit([reference('raw', good)])
          expect(answer.status, `${good} ${answer.text}`).toBe(201)
        }
      })
    })

    describe('cancel and heartbeat', () => {
      it('cancels at once a run no runner holds, and leaves a finished run as it is', async () => {
        const run = await createRun({ status: 'Queued', definition: definition() })
        const canceled = await api('cancelRun', { params: { runId: run.id } })
        expect(canceled.body).toMatchObject({ status: 'Canceled', cancelRequestedAt: null })
        expect(Object.keys((canceled.body as Run).statusTimes)).toEqual(['Queued', 'Canceled'])
        expect((await api('cancelRun', { params: { runId: run.id } })).body).toEqual(canceled.body)
      })

      it('asks the runner of a run it supervises, which then ends it Canceled', async () => {
        const run = await createRun({ status: 'Queued', definition: definition() })
        expect((await api('runHeartbeat', { params: { runId: run.id } })).body).toEqual({
          status: 'Queued',
          cancelRequested: false,
        })
        const asked = await api('cancelRun', { params: { runId: run.id } })
        expect(asked.body.status).toBe('Queued')
        expect(asked.body.cancelRequestedAt).toEqual(expect.any(String))
        expect((await api('runHeartbeat', { params: { runId: run.id } })).body).toEqual({
          status: 'Queued',
          cancelRequested: true,
        })
        const ended = await api('setRunStatus', { params: { runId: run.id }, json: { status: 'Canceled' } })
        expect(ended.body.status).toBe('Canceled')
        expect((await api('runHeartbeat', { params: { runId: run.id } })).body.status).toBe('Canceled')
      })

      it('refuses a heartbeat for a run that was not submitted: it has no runner', async () => {
        const run = await createRun({ status: 'Running' })
        const answer = await api('runHeartbeat', { params: { runId: run.id } })
        expect([answer.status, answer.body.error.code, answer.body.error.message]).toEqual([
          400,
          'INVALID_ARGUMENT',
          expect.stringMatching(/only a submitted run has a runner/),
        ])
        expect(((await api('getRun', { params: { runId: run.id } })).body as Run).heartbeatAt).toBeNull()
      })
    })

    describe('live logs', () => {
      const append = (runId: string, offset: number, bytes: string | Buffer) =>
        api('appendRunLog', { params: { runId, log: 'std_log.txt' }, query: { offset }, bytes })
      const read = (runId: string, query: Record<string, number> = {}) =>
        api('readRunLog', { params: { runId, log: 'std_log.txt' }, query })

      it('appends idempotently, refuses a gap naming the offset, and reads by range', async () => {
        const run = await createRun({ status: 'Running' })
        expect((await append(run.id, 0, 'hello ')).body).toEqual({ name: 'std_log.txt', size: 6 })
        expect((await append(run.id, 0, 'hello ')).body.size).toBe(6)
        expect((await append(run.id, 6, 'world\n')).body.size).toBe(12)
        const gap = await append(run.id, 20, 'x')
        expect([gap.status, gap.body.error.code, gap.body.error.details?.expectedOffset]).toEqual([409, 'WRITE_CONFLICT', 12])
        const tooLarge = await append(run.id, 12, 'x'.repeat(65))
        expect([tooLarge.status, tooLarge.body.error.code, tooLarge.body.error.details?.limit]).toEqual([
          400,
          'LIMIT_EXCEEDED',
          'logAppendBytes',
        ])
        expect((await read(run.id)).body).toEqual({
          name: 'std_log.txt',
          offset: 0,
          nextOffset: 12,
          size: 12,
          content: 'hello world\n',
          runStatus: 'Running',
          ended: false,
        })
        expect((await read(run.id, { offset: 3, limit: 4 })).body).toMatchObject({ content: 'lo w', nextOffset: 7 })
        expect((await api('listRunLogs', { params: { runId: run.id } })).body.items).toEqual([
          { name: 'std_log.txt', size: 12, updatedAt: expect.any(String) },
        ])
        const badName = await api('readRunLog', { params: { runId: run.id, log: '.hidden' } })
        expect(badName.body.error.code).toBe('INVALID_ARGUMENT')
      })

      it('cuts content at UTF-8 character boundaries', async () => {
        const run = await createRun({ status: 'Running' })
        const text = Buffer.from('café €', 'utf8') // é is 2 bytes, € is 3
        await append(run.id, 0, text.subarray(0, 4)) // "caf" and the first byte of é
        expect((await read(run.id)).body).toMatchObject({ content: 'caf', nextOffset: 3, size: 4 })
        await append(run.id, 4, text.subarray(4))
        expect((await read(run.id, { offset: 3 })).body).toMatchObject({ content: 'é €', nextOffset: text.length })
        // A limit inside a character stops before it, and one smaller than it answers it whole.
        expect((await read(run.id, { offset: 0, limit: 4 })).body).toMatchObject({ content: 'caf', nextOffset: 3 })
        expect((await read(run.id, { offset: 6, limit: 1 })).body).toMatchObject({ content: '€', nextOffset: 9 })
      })

      // Reads wait up to 60 s, twice this test's time: answering at all proves they answered early.
      it(
        'a waiting read returns as soon as bytes arrive, and says ended once the run ended and all was read',
        {
          timeout: 30_000,
        },
        async () => {
          const run = await createRun({ status: 'Running' })
          await append(run.id, 0, 'line 1\n')
          let settled = false
          const waiting = read(run.id, { offset: 7, waitMs: 60_000 }).finally(() => (settled = true))
          await sleep(300)
          expect(settled).toBe(false)
          await append(run.id, 7, 'line 2\n')
          expect((await waiting).body).toMatchObject({ content: 'line 2\n', offset: 7, nextOffset: 14, ended: false })

          // Without waiting: nothing new, not ended.
          expect((await read(run.id, { offset: 14 })).body).toMatchObject({ content: '', nextOffset: 14, ended: false })
          let ended = false
          const untilEnd = read(run.id, { offset: 14, waitMs: 60_000 }).finally(() => (ended = true))
          await sleep(300)
          expect(ended).toBe(false)
          await api('setRunStatus', { params: { runId: run.id }, json: { status: 'Completed' } })
          expect((await untilEnd).body).toMatchObject({ content: '', nextOffset: 14, ended: true, runStatus: 'Completed' })
          // Not ended while bytes remain unread, and the log stays readable.
          expect((await read(run.id, { offset: 0, limit: 7 })).body).toMatchObject({ content: 'line 1\n', ended: false })
          expect((await read(run.id, { offset: 7 })).body).toMatchObject({ content: 'line 2\n', ended: true })
        },
      )
    })

    describe('run tokens', () => {
      let run: Run
      let snapshotId: string
      let token: string

      beforeAll(async () => {
        for (const name of ['inputs', 'outputs', 'private']) {
          const registered = await api('registerDatastore', {
            json: { name, kind: 'filesystem', path: path.join(t.dataDir, name), createIfNotExists: true },
          })
          expect(registered.status, registered.text).toBe(201)
        }
        await api('uploadDatastoreFile', { params: { datastore: 'inputs' }, rest: 'train.csv', bytes: 'a,b\n1,2\n' })
        await api('uploadDatastoreFile', { params: { datastore: 'private' }, rest: 'secret.txt', bytes: 'secret' })
        snapshotId = await completeSnapshot({ 'train.py': 'print("train")\n' })
        run = await createRun({
          status: 'Queued',
          snapshotId,
          definition: definition({
            dataReferences: [
              {
                name: 'raw',
                datastore: 'inputs',
                pathOnDatastore: null,
                mode: 'download',
                pathOnCompute: null,
                overwrite: false,
              },
              {
                name: 'out',
                datastore: 'outputs',
                pathOnDatastore: '{runId}',
                mode: 'upload',
                pathOnCompute: null,
                overwrite: false,
              },
            ],
          }),
        })
        const minted = await api('mintRunToken', { params: { runId: run.id }, json: {} })
        expect(minted.status).toBe(201)
        token = minted.body.token
        expect(token.startsWith('wrt1.')).toBe(true)
        const lifetime = Date.parse(minted.body.expiresOn) - Date.now()
        expect(lifetime).toBeGreaterThan((3600 + 86_400 - 60) * 1000)
        expect(lifetime).toBeLessThan((3600 + 86_400 + 60) * 1000)
      })

      const asRun = <N extends RouteName>(name: N, options: Call = {}) => call(t.url, name, { token, ...options })

      it('lets the token work on its own run: status, metrics, artifacts, tags, logs, heartbeat', async () => {
        const own = { params: { runId: run.id } }
        expect((await asRun('getRun', own)).body.id).toBe(run.id)
        expect((await asRun('setRunStatus', { ...own, json: { status: 'Running' } })).body.status).toBe('Running')
        const metrics = await asRun('logMetrics', { ...own, json: { points: [{ name: 'loss', value: 0.5 }] } })
        expect(metrics.status, metrics.text).toBe(200)
        expect((await asRun('listMetrics', own)).body.items[0]?.name).toBe('loss')
        const artifact = await asRun('uploadArtifact', { ...own, rest: 'outputs/model.txt', bytes: 'weights' })
        expect(artifact.status, artifact.text).toBe(201)
        expect((await asRun('updateTags', { ...own, json: { set: { phase: 'train' } } })).status).toBe(200)
        expect(
          (await asRun('appendRunLog', { params: { runId: run.id, log: 'std_log.txt' }, query: { offset: 0 }, bytes: 'hi\n' }))
            .status,
        ).toBe(200)
        expect((await asRun('runHeartbeat', own)).body).toEqual({ status: 'Running', cancelRequested: false })
        expect((await asRun('health')).status).toBe(200)
        expect((await asRun('getWorkspace')).status).toBe(200)
      })

      it('reads its snapshot and the contents it lists, its inputs, and writes its outputs', async () => {
        expect((await asRun('getSnapshot', { params: { snapshotId } })).body.id).toBe(snapshotId)
        const blob = await asRun('downloadSnapshotBlob', { params: { sha256: sha256Of('print("train")\n') } })
        expect([blob.status, blob.text]).toEqual([200, 'print("train")\n'])
        const input = await asRun('downloadDatastoreFile', { params: { datastore: 'inputs' }, rest: 'train.csv' })
        expect([input.status, input.text]).toEqual([200, 'a,b\n1,2\n'])
        expect((await asRun('listDatastoreFiles', { params: { datastore: 'inputs' } })).body.items).toHaveLength(1)
        expect((await asRun('datastoreAccess', { params: { datastore: 'inputs' }, json: { operation: 'read' } })).status).toBe(
          200,
        )
        const output = await asRun('uploadDatastoreFile', {
          params: { datastore: 'outputs' },
          rest: `${run.id}/result.txt`,
          bytes: '42',
        })
        expect(output.status, output.text).toBe(201)
        expect((await asRun('datastoreAccess', { params: { datastore: 'outputs' }, json: { operation: 'write' } })).status).toBe(
          200,
        )
        // Reads what it writes: an upload step may check what is there.
        expect((await asRun('getDatastore', { params: { datastore: 'outputs' } })).status).toBe(200)
      })

      it("reads the workspace's assets, registers its own artifacts, and points aliases only at its own versions", async () => {
        // A model another run made, published by a user.
        const base = await createRun({ status: 'Running' })
        await api('uploadArtifact', { params: { runId: base.id }, rest: 'outputs/base.bin', bytes: 'base weights' })
        const published = await api('promoteAsset', {
          json: { name: 'base-model', runId: base.id, artifactPath: 'outputs/base.bin' },
        })
        expect(published.status, published.text).toBe(201)
        await api('setAssetAlias', { params: { asset: 'base-model', alias: 'production' }, json: { version: 1 } })

        // A script loads it, by alias too.
        expect((await asRun('listAssets')).body.items.map((a: { name: string }) => a.name)).toContain('base-model')
        expect((await asRun('getAssetVersion', { params: { asset: 'base-model', version: 'production' } })).body.version).toBe(1)
        const file = await asRun('downloadAssetFile', { params: { asset: 'base-model', version: '1' }, rest: 'base.bin' })
        expect([file.status, file.text]).toEqual([200, 'base weights'])
        expect((await asRun('listAssetAliases', { params: { asset: 'base-model' } })).status).toBe(200)

        // ...and registers what it trained, naming it.
        if ((await asRun('getRun', { params: { runId: run.id } })).body.status === 'Queued') {
          await asRun('setRunStatus', { params: { runId: run.id }, json: { status: 'Running' } })
        }
        await asRun('uploadArtifact', { params: { runId: run.id }, rest: 'outputs/tuned.bin', bytes: 'tuned weights' })
        const tuned = await asRun('promoteAsset', {
          json: { name: 'tuned-model', runId: run.id, artifactPath: 'outputs/tuned.bin' },
        })
        expect(tuned.status, tuned.text).toBe(201)
        const named = await asRun('setAssetAlias', { params: { asset: 'tuned-model', alias: 'candidate' }, json: { version: 1 } })
        expect([named.status, named.body.version]).toEqual([200, 1])
        const missing = await asRun('setAssetAlias', {
          params: { asset: 'tuned-model', alias: 'candidate' },
          json: { version: 9 },
        })
        expect([missing.status, missing.body.error?.code]).toEqual([404, 'ASSET_NOT_FOUND'])

        // Never another run's artifacts, nor an alias onto a version it did not make.
        const stolen = await asRun('promoteAsset', {
          json: { name: 'tuned-model', runId: base.id, artifactPath: 'outputs/base.bin' },
        })
        expect([stolen.status, stolen.body.error?.code]).toEqual([403, 'FORBIDDEN'])
        expect(stolen.body.error.message).toContain('its own run')
        const hijack = await asRun('setAssetAlias', {
          params: { asset: 'base-model', alias: 'production' },
          json: { version: 1 },
        })
        expect([hijack.status, hijack.body.error?.code]).toEqual([403, 'FORBIDDEN'])
        const moved = await asRun('setAssetAlias', { params: { asset: 'base-model', alias: 'mine' }, json: { version: 1 } })
        expect(moved.status).toBe(403)
        // Its own version of the same asset: it may name it, but not move `production` (which points at
        // a version another run made) onto it.
        await asRun('uploadArtifact', { params: { runId: run.id }, rest: 'outputs/base-v2.bin', bytes: 'v2' })
        const own = await asRun('promoteAsset', {
          json: { name: 'base-model', runId: run.id, artifactPath: 'outputs/base-v2.bin' },
        })
        expect([own.status, own.body.version]).toEqual([201, 2])
        const repoint = await asRun('setAssetAlias', {
          params: { asset: 'base-model', alias: 'production' },
          json: { version: 2 },
        })
        expect([repoint.status, repoint.body.error?.code]).toEqual([403, 'FORBIDDEN'])
        expect(repoint.body.error.message).toContain('version 1, where it points now,')
        const mine = await asRun('setAssetAlias', { params: { asset: 'base-model', alias: 'mine' }, json: { version: 2 } })
        expect(mine.status).toBe(200)
        expect(
          (await api('listAssetAliases', { params: { asset: 'base-model' } })).body.items.map(
            (a: { alias: string; version: number }) => [a.alias, a.version],
          ),
        ).toEqual([
          ['mine', 2],
          ['production', 1],
        ])
        expect((await api('listAssetVersions', { params: { asset: 'tuned-model' } })).body.items).toHaveLength(1)
      })

      it('cannot reach other runs, list runs, change the workspace, mint tokens or use other data', async () => {
        const other = await createRun({ status: 'Running' })
        const otherSnapshot = await completeSnapshot({ 'other.py': 'other\n' })
        const forbidden: [RouteName, Call][] = [
          ['getRun', { params: { runId: other.id } }],
          ['logMetrics', { params: { runId: other.id }, json: { points: [{ name: 'loss', value: 1 }] } }],
          ['setRunStatus', { params: { runId: other.id }, json: { status: 'Failed' } }],
          ['uploadArtifact', { params: { runId: other.id }, rest: 'x.txt', bytes: 'x' }],
          ['readRunLog', { params: { runId: other.id, log: 'std_log.txt' } }],
          ['cancelRun', { params: { runId: other.id } }],
          ['listRuns', {}],
          ['createRun', { json: { experiment: 'sneaky' } }],
          ['listDatastores', {}],
          [
            'registerDatastore',
            { json: { name: 'mine', kind: 'filesystem', path: path.join(t.dataDir, 'mine'), createIfNotExists: true } },
          ],
          ['setDefaultDatastore', { json: { name: 'outputs' } }],
          ['mintRunToken', { params: { runId: run.id }, json: {} }],
          ['createSnapshot', { json: { files: [] } }],
          ['uploadSnapshotBlob', { params: { sha256: sha256Of('x') }, bytes: 'x' }],
          ['getSnapshot', { params: { snapshotId: otherSnapshot } }],
          ['downloadSnapshotBlob', { params: { sha256: sha256Of('other\n') } }],
          ['datastoreAccess', { params: { datastore: 'inputs' }, json: { operation: 'write' } }],
          ['uploadDatastoreFile', { params: { datastore: 'inputs' }, rest: 'evil.csv', bytes: 'x' }],
          ['downloadDatastoreFile', { params: { datastore: 'private' }, rest: 'secret.txt' }],
          ['listDatastoreFiles', { params: { datastore: 'private' } }],
          ['getDatastore', { params: { datastore: 'private' } }],
          ['deleteDatastoreFile', { params: { datastore: 'outputs' }, rest: `${run.id}/result.txt` }],
          ['listExperiments', {}],
          ['deleteAssetAlias', { params: { asset: 'anything', alias: 'production' } }],
        ]
        for (const [name, options] of forbidden) {
          const answer = await asRun(name, options)
          expect([answer.status, answer.body?.error?.code], name).toEqual([403, 'FORBIDDEN'])
          expect(answer.text).not.toContain(token)
        }
        expect((await asRun('getRun', { params: { runId: other.id } })).body.error.message).toMatch(/a run token can only/)
        await api('createWorkspace', { json: { name: 'elsewhere' } })
        const elsewhere = await asRun('getWorkspace', { params: { workspace: 'elsewhere' } })
        expect(elsewhere.status).toBe(403)
        // Nothing it was refused happened.
        expect((await api('getRun', { params: { runId: other.id } })).body.status).toBe('Running')
      })

      it('holds a token to the paths its references name: no other run, no .wharf/, proxy for a path', async () => {
        for (const [rest, bytes] of [
          ['sets/a/x.csv', 'x'],
          ['sets/ab/y.csv', 'y'],
          ['other/z.csv', 'z'],
        ] as const) {
          expect((await api('uploadDatastoreFile', { params: { datastore: 'inputs' }, rest, bytes })).status).toBe(201)
        }
        const other = await createRun({ status: 'Running' })
        expect((await api('uploadArtifact', { params: { runId: other.id }, rest: 'outputs/m.txt', bytes: 'm' })).status).toBe(201)
        const blobs = await api('listDatastoreFiles', {
          params: { datastore: 'workspaceblobstore' },
          query: { prefix: '.wharf/' },
        })
        const blobKey = blobs.body.items[0]?.path as string
        const scoped = await createRun({
          status: 'Queued',
          snapshotId,
          definition: definition({
            dataReferences: [
              {
                name: 'in',
                datastore: 'inputs',
                pathOnDatastore: '/sets/a/',
                mode: 'download',
                pathOnCompute: null,
                overwrite: false,
              },
              {
                name: 'res',
                datastore: 'workspaceblobstore',
                pathOnDatastore: 'results/{runId}',
                mode: 'upload',
                pathOnCompute: null,
                overwrite: false,
              },
            ],
          }),
        })
        const scopedToken = (await api('mintRunToken', { params: { runId: scoped.id }, json: {} })).body.token
        const as = <N extends RouteName>(name: N, options: Call = {}) => call(t.url, name, { token: scopedToken, ...options })
        const blob = { datastore: 'workspaceblobstore' }
        const refused: [RouteName, Call][] = [
          ['listDatastoreFiles', { params: blob }],
          ['listDatastoreFiles', { params: blob, query: { prefix: 'ExperimentRun/' } }],
          ['listDatastoreFiles', { params: blob, query: { prefix: `ExperimentRun/${other.id}/` } }],
          ['listDatastoreFiles', { params: blob, query: { prefix: '.wharf/' } }],
          ['downloadDatastoreFile', { params: blob, rest: blobKey }],
          ['downloadDatastoreFile', { params: blob, rest: `ExperimentRun/${other.id}/outputs/m.txt` }],
          ['uploadDatastoreFile', { params: blob, rest: '.wharf/evil', bytes: 'x' }],
          ['uploadDatastoreFile', { params: blob, rest: `ExperimentRun/${other.id}/outputs/m2.txt`, bytes: 'x' }],
          ['uploadDatastoreFile', { params: blob, rest: `results/${other.id}/out.txt`, bytes: 'x' }],
          ['uploadDatastoreFile', { params: blob, rest: 'results/out.txt', bytes: 'x' }],
          ['uploadDatastoreFile', { params: { datastore: 'inputs' }, rest: 'sets/a/new.csv', bytes: 'x' }],
          ['downloadDatastoreFile', { params: { datastore: 'inputs' }, rest: 'sets/ab/y.csv' }],
          ['downloadDatastoreFile', { params: { datastore: 'inputs' }, rest: 'other/z.csv' }],
          ['downloadDatastoreFile', { params: { datastore: 'inputs' }, rest: 'train.csv' }],
          ['listDatastoreFiles', { params: { datastore: 'inputs' } }],
          ['listDatastoreFiles', { params: { datastore: 'inputs' }, query: { prefix: 'sets/' } }],
          ['datastoreAccess', { params: { datastore: 'inputs' }, json: { operation: 'write' } }],
          ['deleteDatastoreFile', { params: blob, rest: `results/${scoped.id}/out.txt` }],
          ['getDatastore', { params: { datastore: 'outputs' } }],
        ]
        for (const [name, options] of refused) {
          const answer = await as(name, options)
          expect([answer.status, answer.body?.error?.code], `${name} ${JSON.stringify(options)}`).toEqual([403, 'FORBIDDEN'])
        }
        // Inside its input: read and listed; a string prefix lists only what is inside.
        expect((await as('downloadDatastoreFile', { params: { datastore: 'inputs' }, rest: 'sets/a/x.csv' })).text).toBe('x')
        const listed = async (prefix: string) =>
          (
            (await as('listDatastoreFiles', { params: { datastore: 'inputs' }, query: { prefix } })).body.items as {
              path: string
            }[]
          ).map((item) => item.path)
        expect(await listed('sets/a/')).toEqual(['sets/a/x.csv'])
        expect(await listed('sets/a')).toEqual(['sets/a/x.csv'])
        // Its output, `{runId}` replaced: written, then read back.
        const written = await as('uploadDatastoreFile', { params: blob, rest: `results/${scoped.id}/out.txt`, bytes: 'out' })
        expect(written.status, written.text).toBe(201)
        expect((await as('downloadDatastoreFile', { params: blob, rest: `results/${scoped.id}/out.txt` })).text).toBe('out')
        expect((await as('getDatastore', { params: blob })).status).toBe(200)
        // A path scope gets the file routes, never a SAS or a folder.
        expect((await as('datastoreAccess', { params: { datastore: 'inputs' }, json: { operation: 'read' } })).body).toEqual({
          mode: 'proxy',
        })
        expect((await as('datastoreAccess', { params: blob, json: { operation: 'write' } })).body).toEqual({ mode: 'proxy' })
        // A whole-datastore scope keeps the direct answer.
        expect((await asRun('datastoreAccess', { params: { datastore: 'inputs' }, json: { operation: 'read' } })).body.mode).toBe(
          'filesystem',
        )
        // The first run's output is `{runId}` of "outputs": a path scope.
        expect((await asRun('datastoreAccess', { params: { datastore: 'outputs' }, json: { operation: 'write' } })).body).toEqual(
          {
            mode: 'proxy',
          },
        )
        // Even a whole-datastore scope on the workspace's blob store never lists .wharf/ or another run's artifacts.
        const wide = await createRun({
          status: 'Queued',
          definition: definition({
            dataReferences: [
              {
                name: 'all',
                datastore: 'workspaceblobstore',
                pathOnDatastore: null,
                mode: 'download',
                pathOnCompute: null,
                overwrite: false,
              },
            ],
          }),
        })
        const wideToken = (await api('mintRunToken', { params: { runId: wide.id }, json: {} })).body.token
        const all = await call(t.url, 'listDatastoreFiles', { token: wideToken, params: blob, query: { pageSize: 1000 } })
        expect(all.status, all.text).toBe(200)
        const paths = (all.body.items as { path: string }[]).map((item) => item.path)
        expect(paths).toContain(`results/${scoped.id}/out.txt`)
        expect(paths.filter((p) => p.startsWith('.wharf/') || p.startsWith('ExperimentRun/'))).toEqual([])
        const wideBlob = await call(t.url, 'downloadDatastoreFile', { token: wideToken, params: blob, rest: blobKey })
        expect(wideBlob.status).toBe(403)
      })

      it('refuses an altered, foreign or expired token as UNAUTHENTICATED', async () => {
        const [prefix, payload, signature] = token.split('.') as [string, string, string]
        const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>
        const widened = Buffer.from(JSON.stringify({ ...claims, run: 'someone-else' })).toString('base64url')
        const tampered = [
          `${prefix}.${widened}.${signature}`,
          `${prefix}.${payload}.${signature.slice(0, -2)}AA`,
          `${prefix}.${payload}`,
          'wrt1.garbage',
        ]
        for (const bad of tampered) {
          const answer = await call(t.url, 'getRun', { token: bad, params: { runId: run.id } })
          expect([answer.status, answer.body.error.code]).toEqual([401, 'UNAUTHENTICATED'])
          expect(answer.text).not.toContain(bad)
        }
        // Signed with this server's key, but expired.
        const box = createSecretBox(await loadSecretKey({ dataDir: t.dataDir }))
        const tokens = createRunTokens(box.deriveKey(RUN_TOKEN_KEY_LABEL))
        const expired = tokens.mint({ run, expiresInSeconds: 60, now: Date.now() - 120_000 }).token
        const answer = await call(t.url, 'getRun', { token: expired, params: { runId: run.id } })
        expect([answer.status, answer.body.error.code]).toEqual([401, 'UNAUTHENTICATED'])
        expect(answer.body.error.message).toMatch(/expired/)
        // The same, still valid, is accepted: the key survives in the data folder.
        const fresh = tokens.mint({ run }).token
        expect((await call(t.url, 'getRun', { token: fresh, params: { runId: run.id } })).status).toBe(200)
        // And no token at all is still refused.
        expect((await call(t.url, 'getRun', { params: { runId: run.id } })).status).toBe(401)
        expect(t.logLines.join('\n')).not.toContain(payload)
      })
    })
  })

  describe.skipIf(!enabled)(`${kind}: the heartbeat watchdog and run tokens with auth off`, () => {
    let t: TestServer
    const api = <N extends RouteName>(name: N, options: Call = {}) => call(t.url, name, options)

    beforeAll(async () => {
      // 3 s of silence: far more than a loaded machine takes between two heartbeats of a live runner
      // (1 s failed a reporting run on a busy CI machine), still quick to see a silent one fail.
      t = await startTestServer(kind, { watchdog: { timeoutMs: 3_000, intervalMs: 200 } })
    })
    afterAll(async () => {
      await t?.stop()
    })

    it('fails a run whose runner fell silent with RUNNER_LOST, and keeps one whose runner reports', async () => {
      const silent = (await api('createRun', { json: { experiment: 'watched', status: 'Queued', definition: definition() } }))
        .body as Run
      const alive = (await api('createRun', { json: { experiment: 'watched', status: 'Queued', definition: definition() } }))
        .body as Run
      const never = (await api('createRun', { json: { experiment: 'watched', status: 'Queued', definition: definition() } }))
        .body as Run
      await api('runHeartbeat', { params: { runId: silent.id } })
      await api('appendRunLog', { params: { runId: silent.id, log: 'std_log.txt' }, query: { offset: 0 }, bytes: 'before\n' })
      // The reporting runner beats on its own clock, as a real one does, not between the polls below.
      let beating = true
      const beats = (async () => {
        while (beating) {
          await api('runHeartbeat', { params: { runId: alive.id } })
          await sleep(100)
        }
      })()
      const deadline = Date.now() + 20_000
      let failed: Run | undefined
      try {
        while (Date.now() < deadline) {
          const current = (await api('getRun', { params: { runId: silent.id } })).body as Run
          if (current.status === 'Failed') {
            failed = current
            break
          }
          await sleep(150)
        }
      } finally {
        beating = false
        await beats
      }
      expect(failed?.error).toMatchObject({
        code: 'RUNNER_LOST',
        message: expect.stringMatching(/stopped reporting/) as string,
      })
      expect(Object.keys(failed?.statusTimes ?? {})).toEqual(['Queued', 'Failed'])
      expect(((await api('getRun', { params: { runId: alive.id } })).body as Run).status).toBe('Queued')
      expect(((await api('getRun', { params: { runId: never.id } })).body as Run).status).toBe('Queued')
      // Its logs are kept.
      const log = await api('readRunLog', { params: { runId: silent.id, log: 'std_log.txt' } })
      expect(log.body).toMatchObject({ content: 'before\n', ended: true })
      expect(t.logLines.some((line) => line.includes('runner stopped reporting') && line.includes(silent.id))).toBe(true)
      await api('setRunStatus', { params: { runId: alive.id }, json: { status: 'Canceled' } })
    })

    it('fails a submitted run whose token was minted but whose runner never reported; a cancel then waits for a runner', async () => {
      const submitted = { experiment: 'watched', status: 'Queued', definition: definition() }
      const minted = (await api('createRun', { json: submitted })).body as Run
      expect((await api('mintRunToken', { params: { runId: minted.id }, json: {} })).status).toBe(201)
      expect(((await api('getRun', { params: { runId: minted.id } })).body as Run).heartbeatAt).not.toBeNull()
      const deadline = Date.now() + 20_000
      let current = minted
      while (Date.now() < deadline && current.status === 'Queued') {
        await sleep(150)
        current = (await api('getRun', { params: { runId: minted.id } })).body
      }
      expect(current.status).toBe('Failed')
      expect(current.error?.code).toBe('RUNNER_LOST')
      // Minted, the run is held by a runner: a cancel is asked of it, not done at once.
      const held = (await api('createRun', { json: submitted })).body as Run
      await api('mintRunToken', { params: { runId: held.id }, json: {} })
      const canceled = (await api('cancelRun', { params: { runId: held.id } })).body as Run
      expect([canceled.status, canceled.cancelRequestedAt === null]).toEqual(['Queued', false])
      // Not minted: no runner holds it, so a cancel ends it at once.
      const unheld = (await api('createRun', { json: submitted })).body as Run
      expect(((await api('cancelRun', { params: { runId: unheld.id } })).body as Run).status).toBe('Canceled')
    })

    // The read waits up to 60 s, twice this test's time: the stop must end it.
    it('answers a waiting log read at once when the server stops, instead of holding the stop', { timeout: 30_000 }, async () => {
      const own = await startTestServer(kind)
      const run = (await call(own.url, 'createRun', { json: { experiment: 'stopping', status: 'Running' } })).body as Run
      const waiting = call(own.url, 'readRunLog', { params: { runId: run.id, log: 'std_log.txt' }, query: { waitMs: 60_000 } })
      await sleep(300)
      await own.stop()
      const answer = await waiting
      expect([answer.status, answer.body.content, answer.body.ended]).toEqual([200, '', false])
    })

    it('holds run tokens to their run even when the server has no token of its own', async () => {
      const run = (await api('createRun', { json: { experiment: 'open', status: 'Running' } })).body as Run
      const token = (await api('mintRunToken', { params: { runId: run.id }, json: {} })).body.token
      expect((await call(t.url, 'getRun', { token, params: { runId: run.id } })).status).toBe(200)
      expect((await call(t.url, 'listRuns', { token })).status).toBe(403)
      expect((await call(t.url, 'mintRunToken', { token, params: { runId: run.id }, json: {} })).status).toBe(403)
      const altered = `${token.slice(0, -3)}abc`
      expect((await call(t.url, 'getRun', { token: altered, params: { runId: run.id } })).status).toBe(401)
      // Any other bearer is ignored on an open server, as before.
      expect((await call(t.url, 'listRuns', { token: 'anything-at-all' })).status).toBe(200)
    })
  })
}
