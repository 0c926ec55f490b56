import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isWharfError, type RunDefinition, type SnapshotFile } from '@wharf/contract'
import { rejectionCodeOf } from '@wharf/contract/test-support'
import type { MetadataStore, NewRun, NewSnapshot, StoreKind } from './index.js'
import { createTestStore, describeEachStore, newRunInput } from './test-support/index.js'
import type { TestStore } from './test-support/index.js'

const T0 = Date.parse('2026-01-01T00:00:00.000Z')
const iso = (offsetSeconds: number) => new Date(T0 + offsetSeconds * 1000).toISOString()
const hex = (n: number) => n.toString(16).padStart(64, '0')

let counter = 0
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`

const DEFINITION: RunDefinition = {
  script: 'train.py',
  command: ['python3', 'train.py'],
  dataReferences: [
    { name: 'raw', datastore: 'inputs', pathOnDatastore: null, mode: 'download', pathOnCompute: null, overwrite: false },
  ],
  environmentVariables: { SEED: '1' },
  sourceDirectoryDataStore: 'workspaceblobstore',
  python: null,
  maxRunDurationSeconds: 3600,
}

describeEachStore('submitted runs in the store', (kind: StoreKind) => {
  let t: TestStore
  let store: MetadataStore

  beforeAll(async () => {
    t = await createTestStore(kind)
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  async function newWorkspace(): Promise<string> {
    const name = unique('ws')
    await store.createWorkspace({
      name,
      defaultDatastore: 'workspaceblobstore',
      artifactDatastore: 'workspaceblobstore',
      createdAt: iso(0),
      datastores: [
        {
          workspace: name,
          name: 'workspaceblobstore',
          kind: 'filesystem',
          settings: { rootPath: '/data/blobs', readOnly: false, depth: 2 },
          authType: 'none',
          secret: null,
          createdAt: iso(0),
          updatedAt: iso(0),
        },
      ],
    })
    return name
  }

  const newRun = (workspace: string, overrides: Partial<NewRun> = {}) =>
    store.createRun(newRunInput({ workspace, id: unique('run'), createdAt: iso(1), ...overrides }))

  function snapshotInput(workspace: string, overrides: Partial<NewSnapshot> = {}): NewSnapshot {
    const files: SnapshotFile[] = [
      { path: 'train.py', sha256: hex(1), size: 10, executable: false },
      { path: 'lib/util.py', sha256: hex(2), size: 20, executable: true },
    ]
    return {
      workspace,
      id: hex(counter + 1000),
      datastore: 'workspaceblobstore',
      files,
      totalBytes: 30,
      complete: true,
      createdAt: iso(0),
      ...overrides,
    }
  }

  describe('snapshots', () => {
    it('records a manifest once, and marks an incomplete one complete later', async () => {
      const ws = await newWorkspace()
      const input = snapshotInput(ws, { complete: false })
      const first = await store.putSnapshot(input)
      expect(first.created).toBe(true)
      expect(first.snapshot).toMatchObject({ id: input.id, complete: false, totalBytes: 30, files: input.files })
      expect(await rejectionCodeOf(store.getSnapshot({ workspace: ws, id: input.id }))).toBe('SNAPSHOT_INCOMPLETE')
      const again = await store.putSnapshot({ ...input, complete: true, createdAt: iso(5) })
      expect(again.created).toBe(false)
      expect(again.snapshot).toMatchObject({ complete: true, createdAt: iso(0) })
      expect((await store.getSnapshot({ workspace: ws, id: input.id })).files).toEqual(input.files)
      expect(await rejectionCodeOf(store.getSnapshot({ workspace: ws, id: hex(7) }))).toBe('SNAPSHOT_NOT_FOUND')
      expect(await store.findSnapshot({ workspace: await newWorkspace(), id: input.id })).toBeUndefined()
    })

    it('notes the contents a datastore holds, once each, and answers them for long lists', async () => {
      const ws = await newWorkspace()
      const blob = { workspace: ws, datastore: 'workspaceblobstore', sha256: hex(3), size: 5, createdAt: iso(0) }
      expect(await store.recordSnapshotBlob(blob)).toBe(true)
      expect(await store.recordSnapshotBlob(blob)).toBe(false)
      for (let i = 0; i < 3; i++) await store.recordSnapshotBlob({ ...blob, sha256: hex(600 + i * 300), size: i })
      const asked = Array.from({ length: 1300 }, (_, i) => hex(i))
      const held = await store.findSnapshotBlobs({ workspace: ws, datastore: 'workspaceblobstore', sha256s: asked })
      expect([...held.entries()].sort()).toEqual([
        [hex(3), 5],
        [hex(600), 0],
        [hex(900), 1],
        [hex(1200), 2],
      ])
      expect((await store.findSnapshotBlobs({ workspace: ws, datastore: 'other', sha256s: asked })).size).toBe(0)
    })
  })

  describe('runs with a snapshot and a definition', () => {
    it('keeps snapshot, definition and the time of each status', async () => {
      const ws = await newWorkspace()
      const snapshot = snapshotInput(ws)
      await store.putSnapshot(snapshot)
      const run = await newRun(ws, { status: 'Queued', snapshotId: snapshot.id, definition: DEFINITION })
      expect(run).toMatchObject({
        snapshotId: snapshot.id,
        definition: DEFINITION,
        statusTimes: { Queued: iso(1) },
        heartbeatAt: null,
        cancelRequestedAt: null,
      })
      await store.transitionRun({ workspace: ws, runId: run.id, status: 'Running', at: iso(2) })
      const done = await store.transitionRun({ workspace: ws, runId: run.id, status: 'Completed', at: iso(3) })
      expect(done.statusTimes).toEqual({ Queued: iso(1), Running: iso(2), Completed: iso(3) })
      expect(await store.getRun({ workspace: ws, runId: run.id })).toEqual(done)
    })

    it('refuses a snapshot that is not recorded, or not complete, saying what to do', async () => {
      const ws = await newWorkspace()
      const missing = await newRun(ws, { snapshotId: hex(99) }).catch((error: unknown) => error)
      expect(isWharfError(missing, 'SNAPSHOT_NOT_FOUND')).toBe(true)
      expect((missing as Error).message).toMatch(/create it first/)
      const incomplete = snapshotInput(ws, { complete: false })
      await store.putSnapshot(incomplete)
      const refused = await newRun(ws, { snapshotId: incomplete.id }).catch((error: unknown) => error)
      expect(isWharfError(refused, 'SNAPSHOT_INCOMPLETE')).toBe(true)
      expect((refused as Error).message).toMatch(/upload each content/)
      // A snapshot of another workspace is not this one's.
      const other = await newWorkspace()
      const theirs = snapshotInput(other)
      await store.putSnapshot(theirs)
      expect(await rejectionCodeOf(newRun(ws, { snapshotId: theirs.id }))).toBe('SNAPSHOT_NOT_FOUND')
    })
  })

  describe('heartbeat, cancel and the sweep of silent runs', () => {
    it('a heartbeat is recorded and answers whether a cancel was asked', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws, { status: 'Queued' })
      expect(await store.heartbeatRun({ workspace: ws, runId: run.id, at: iso(5) })).toEqual({
        status: 'Queued',
        cancelRequested: false,
      })
      expect((await store.getRun({ workspace: ws, runId: run.id })).heartbeatAt).toBe(iso(5))
      const asked = await store.requestRunCancel({ workspace: ws, runId: run.id, at: iso(6) })
      expect(asked).toMatchObject({ status: 'Queued', cancelRequestedAt: iso(6) })
      // Idempotent: the first request's time stays.
      expect((await store.requestRunCancel({ workspace: ws, runId: run.id, at: iso(7) })).cancelRequestedAt).toBe(iso(6))
      expect(await store.heartbeatRun({ workspace: ws, runId: run.id, at: iso(8) })).toEqual({
        status: 'Queued',
        cancelRequested: true,
      })
      const canceled = await store.transitionRun({ workspace: ws, runId: run.id, status: 'Canceled', at: iso(9) })
      expect(canceled.statusTimes).toEqual({ Queued: iso(1), Canceled: iso(9) })
      // A heartbeat after the end changes nothing.
      expect(await store.heartbeatRun({ workspace: ws, runId: run.id, at: iso(10) })).toEqual({
        status: 'Canceled',
        cancelRequested: true,
      })
      expect((await store.getRun({ workspace: ws, runId: run.id })).heartbeatAt).toBe(iso(8))
      expect(await rejectionCodeOf(store.heartbeatRun({ workspace: ws, runId: 'no-such-run', at: iso(1) }))).toBe('RUN_NOT_FOUND')
    })

    it('a run no runner reported for is canceled at once; a finished run is left as it is', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws, { status: 'Running', startedAt: iso(1) })
      const canceled = await store.requestRunCancel({ workspace: ws, runId: run.id, at: iso(4) })
      expect(canceled).toMatchObject({ status: 'Canceled', endedAt: iso(4), cancelRequestedAt: null })
      expect(canceled.statusTimes).toEqual({ Running: iso(1), Canceled: iso(4) })
      expect(await store.requestRunCancel({ workspace: ws, runId: run.id, at: iso(5) })).toEqual(canceled)
    })

    it('fails live runs whose runner fell silent, once, however many sweeps run at once', async () => {
      const ws = await newWorkspace()
      const silent = await newRun(ws, { status: 'Queued' })
      const fresh = await newRun(ws, { status: 'Queued' })
      const neverReported = await newRun(ws, { status: 'Queued' })
      const finished = await newRun(ws, { status: 'Queued' })
      await store.heartbeatRun({ workspace: ws, runId: silent.id, at: iso(10) })
      await store.transitionRun({ workspace: ws, runId: silent.id, status: 'Running', at: iso(11) })
      await store.heartbeatRun({ workspace: ws, runId: fresh.id, at: iso(100) })
      await store.heartbeatRun({ workspace: ws, runId: finished.id, at: iso(10) })
      await store.transitionRun({ workspace: ws, runId: finished.id, status: 'Canceled', at: iso(12) })
      const sweeps = await Promise.all([1, 2, 3, 4].map(() => store.failSilentRuns({ heartbeatBefore: iso(50), at: iso(60) })))
      const failedIds = sweeps.flat().filter((id) => [silent.id, fresh.id, neverReported.id, finished.id].includes(id))
      expect(failedIds).toEqual([silent.id])
      const failed = await store.getRun({ workspace: ws, runId: silent.id })
      expect(failed).toMatchObject({ status: 'Failed', endedAt: iso(60), error: { code: 'RUNNER_LOST' } })
      expect(failed.error?.message).toContain(`last heartbeat ${iso(10)}`)
      expect(failed.statusTimes).toEqual({ Queued: iso(1), Running: iso(11), Failed: iso(60) })
      expect((await store.getRun({ workspace: ws, runId: fresh.id })).status).toBe('Queued')
      expect((await store.getRun({ workspace: ws, runId: neverReported.id })).status).toBe('Queued')
      expect((await store.getRun({ workspace: ws, runId: finished.id })).status).toBe('Canceled')
    })
  })

  describe('live logs', () => {
    const bytes = (text: string) => Buffer.from(text, 'utf8')

    it('appends at offsets: a repeat is ignored, an overlap adds its new tail, a gap is a conflict naming the size', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws, { status: 'Running', startedAt: iso(1) })
      const log = { workspace: ws, runId: run.id, name: 'std_log.txt', at: iso(2) }
      expect(await store.appendRunLog({ ...log, offset: 0, bytes: bytes('hello ') })).toEqual({ size: 6 })
      expect(await store.appendRunLog({ ...log, offset: 0, bytes: bytes('hello ') })).toEqual({ size: 6 })
      expect(await store.appendRunLog({ ...log, offset: 3, bytes: bytes('lo world') })).toEqual({ size: 11 })
      const gap = await store.appendRunLog({ ...log, offset: 20, bytes: bytes('x') }).catch((error: unknown) => error)
      expect(isWharfError(gap, 'WRITE_CONFLICT')).toBe(true)
      expect((gap as Error).message).toMatch(/Append from offset 11/)
      expect((gap as { details?: unknown }).details).toMatchObject({ expectedOffset: 11 })
      const read = await store.readRunLog({ workspace: ws, runId: run.id, name: 'std_log.txt', offset: 0, limit: 100 })
      expect(read).toEqual({ bytes: bytes('hello world'), size: 11, runStatus: 'Running' })
      // A range across chunks, and nothing past the end.
      const middle = await store.readRunLog({ workspace: ws, runId: run.id, name: 'std_log.txt', offset: 4, limit: 4 })
      expect(middle.bytes.toString()).toBe('o wo')
      const past = await store.readRunLog({ workspace: ws, runId: run.id, name: 'std_log.txt', offset: 11, limit: 4 })
      expect(past.bytes.length).toBe(0)
      // A log never written reads empty.
      expect((await store.readRunLog({ ...log, name: 'runner.txt', offset: 0, limit: 10 })).size).toBe(0)
      expect(await store.listRunLogs({ workspace: ws, runId: run.id })).toEqual([
        { name: 'std_log.txt', size: 11, updatedAt: iso(2) },
      ])
      expect(await rejectionCodeOf(store.appendRunLog({ ...log, runId: 'no-such-run', offset: 0, bytes: bytes('x') }))).toBe(
        'RUN_NOT_FOUND',
      )
    })

    it("keeps logs after the run ends, and takes the runner's last lines then", async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws, { status: 'Running', startedAt: iso(1) })
      const log = { workspace: ws, runId: run.id, name: 'runner.txt', at: iso(2) }
      await store.appendRunLog({ ...log, offset: 0, bytes: bytes('start\n') })
      await store.transitionRun({ workspace: ws, runId: run.id, status: 'Failed', at: iso(3) })
      await store.appendRunLog({ ...log, offset: 6, bytes: bytes('exit 1\n') })
      const read = await store.readRunLog({ ...log, offset: 0, limit: 1000 })
      expect(read).toEqual({ bytes: bytes('start\nexit 1\n'), size: 13, runStatus: 'Failed' })
    })

    it('concurrent appends of the same bytes store them once', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws, { status: 'Running', startedAt: iso(1) })
      const log = { workspace: ws, runId: run.id, name: 'std_log.txt', at: iso(2) }
      const chunk = bytes('x'.repeat(1000))
      const sizes = await Promise.all([1, 2, 3, 4, 5].map(() => store.appendRunLog({ ...log, offset: 0, bytes: chunk })))
      expect(sizes).toEqual(Array(5).fill({ size: 1000 }))
      expect((await store.readRunLog({ ...log, offset: 0, limit: 5000 })).bytes.length).toBe(1000)
    })
  })
})
