import { afterAll, beforeAll, expect, it } from 'vitest'
import { rejectionCodeOf } from '@wharf/contract/test-support'
import type { MetadataStore, StoreKind } from './index.js'
import { createTestStore, describeEachStore, newRunInput } from './test-support/index.js'
import type { TestStore } from './test-support/index.js'

const T0 = Date.parse('2026-02-01T00:00:00.000Z')
const iso = (seconds: number) => new Date(T0 + seconds * 1000).toISOString()

// Experiment lifecycle and tags, run soft delete and logged models: what migration 0006 added.
describeEachStore('MetadataStore lifecycle and logged models', (kind: StoreKind) => {
  let t: TestStore
  let store: MetadataStore
  let counter = 0
  const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`

  beforeAll(async () => {
    t = await createTestStore(kind)
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  async function newWorkspace(): Promise<string> {
    const name = unique('ws')
    await store.createWorkspace({ name, defaultDatastore: 'blob', artifactDatastore: 'blob', createdAt: iso(0), datastores: [] })
    return name
  }

  it('creates an experiment with tags once, and refuses its name again, deleted or not', async () => {
    const ws = await newWorkspace()
    const created = await store.createExperiment({ workspace: ws, name: 'with tags', createdAt: iso(1), tags: { team: 'a' } })
    expect(created).toMatchObject({ name: 'with tags', tags: { team: 'a' }, deletedAt: null, updatedAt: iso(1) })
    expect(await rejectionCodeOf(store.createExperiment({ workspace: ws, name: 'with tags', createdAt: iso(2), tags: {} }))).toBe(
      'EXPERIMENT_EXISTS',
    )
    await store.changeExperiment({ workspace: ws, id: created.id, deleted: true, at: iso(3) })
    expect(await rejectionCodeOf(store.createExperiment({ workspace: ws, name: 'with tags', createdAt: iso(4), tags: {} }))).toBe(
      'EXPERIMENT_EXISTS',
    )
    // Experiments made by a run's first use have no tags and are live.
    await store.createRun(newRunInput({ workspace: ws, id: unique('run'), createdAt: iso(5), experiment: 'by-run' }))
    const byRun = await store.getExperimentDetails({ workspace: ws, name: 'by-run' })
    expect(byRun).toMatchObject({ tags: {}, deletedAt: null, updatedAt: iso(5) })
    expect((await store.listExperimentDetails(ws)).map((e) => e.name)).toEqual(['with tags', 'by-run'])
  })

  it('renames, retags, deletes and restores an experiment; a taken name is refused', async () => {
    const ws = await newWorkspace()
    const a = await store.createExperiment({ workspace: ws, name: 'a', createdAt: iso(1), tags: { x: '1' } })
    await store.createExperiment({ workspace: ws, name: 'b', createdAt: iso(1), tags: {} })
    const renamed = await store.changeExperiment({
      workspace: ws,
      id: a.id,
      name: 'a2',
      setTags: { y: '2' },
      removeTags: ['x'],
      at: iso(2),
    })
    expect(renamed).toMatchObject({ id: a.id, name: 'a2', tags: { y: '2' }, updatedAt: iso(2) })
    expect(await store.getExperimentDetails({ workspace: ws, id: a.id })).toEqual(renamed)
    expect(await rejectionCodeOf(store.changeExperiment({ workspace: ws, id: a.id, name: 'b', at: iso(3) }))).toBe(
      'EXPERIMENT_EXISTS',
    )
    const deleted = await store.changeExperiment({ workspace: ws, id: a.id, deleted: true, at: iso(4) })
    expect(deleted.deletedAt).toBe(iso(4))
    // Deleting again keeps the first time; restoring clears it.
    expect((await store.changeExperiment({ workspace: ws, id: a.id, deleted: true, at: iso(5) })).deletedAt).toBe(iso(4))
    expect((await store.changeExperiment({ workspace: ws, id: a.id, deleted: false, at: iso(6) })).deletedAt).toBeNull()
    expect(await rejectionCodeOf(store.getExperimentDetails({ workspace: ws, id: 987654 }))).toBe('EXPERIMENT_NOT_FOUND')
    expect(await rejectionCodeOf(store.changeExperiment({ workspace: ws, id: 987654, deleted: true, at: iso(7) }))).toBe(
      'EXPERIMENT_NOT_FOUND',
    )
  })

  it('deletes a run softly: still readable, flagged, and restored', async () => {
    const ws = await newWorkspace()
    const run = await store.createRun(newRunInput({ workspace: ws, id: unique('run'), createdAt: iso(1) }))
    expect(run.deletedAt).toBeUndefined()
    const deleted = await store.setRunDeleted({ workspace: ws, runId: run.id, deleted: true, at: iso(2) })
    expect(deleted.deletedAt).toBe(iso(2))
    expect((await store.getRun({ workspace: ws, runId: run.id })).deletedAt).toBe(iso(2))
    expect((await store.setRunDeleted({ workspace: ws, runId: run.id, deleted: true, at: iso(3) })).deletedAt).toBe(iso(2))
    const restored = await store.setRunDeleted({ workspace: ws, runId: run.id, deleted: false, at: iso(4) })
    expect(restored).toEqual(run)
    expect(await rejectionCodeOf(store.setRunDeleted({ workspace: ws, runId: 'no-such-run', deleted: true, at: iso(5) }))).toBe(
      'RUN_NOT_FOUND',
    )
  })

  it('records logged models of a run, changes them, and lists the live ones newest first', async () => {
    const ws = await newWorkspace()
    const run = await store.createRun(newRunInput({ workspace: ws, id: unique('run'), createdAt: iso(1) }))
    const experiment = await store.getExperimentDetails({ workspace: ws, name: run.experiment })
    const base = { workspace: ws, experimentId: experiment.id, sourceRunId: run.id, modelType: null, tags: {}, params: {} }
    const first = await store.createLoggedModel({ ...base, id: 'm-1', name: 'model', status: 'PENDING', createdAt: iso(2) })
    await store.createLoggedModel({ ...base, id: 'm-2', name: 'other', status: 'PENDING', createdAt: iso(3) })
    expect(first).toMatchObject({ id: 'm-1', sourceRunId: run.id, tags: {}, deletedAt: null })
    const ready = await store.changeLoggedModel({
      workspace: ws,
      id: 'm-1',
      status: 'READY',
      setTags: { a: '1' },
      addParams: { alpha: '0.1' },
      at: iso(4),
    })
    expect(ready).toMatchObject({ status: 'READY', tags: { a: '1' }, params: { alpha: '0.1' }, updatedAt: iso(4) })
    expect(await store.getLoggedModel({ workspace: ws, id: 'm-1' })).toEqual(ready)
    expect((await store.listLoggedModels({ workspace: ws, experimentIds: [experiment.id] })).map((m) => m.id)).toEqual([
      'm-2',
      'm-1',
    ])
    await store.changeLoggedModel({ workspace: ws, id: 'm-2', deleted: true, at: iso(5) })
    expect((await store.listLoggedModels({ workspace: ws, sourceRunId: run.id })).map((m) => m.id)).toEqual(['m-1'])
    expect(await rejectionCodeOf(store.getLoggedModel({ workspace: ws, id: 'nope' }))).toBe('MODEL_NOT_FOUND')
    expect(
      await rejectionCodeOf(
        store.createLoggedModel({ ...base, sourceRunId: 'no-run', id: 'm-3', name: 'x', status: 'P', createdAt: iso(6) }),
      ),
    ).toBe('RUN_NOT_FOUND')
  })
})
