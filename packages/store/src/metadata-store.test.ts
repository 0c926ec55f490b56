import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isWharfError } from '@wharf/contract'
import type { Artifact, AssetFile, AssetSummary, AssetVersion, MetricPoint, MetricPointIn, Run, RunStatus } from '@wharf/contract'
import { createMetadataStore, toDatastoreView } from './index.js'
import type { DatastoreRecord, IngestBatch, ListRunsOptions, MetadataStore, NewAssetVersion, NewRun, StoreKind } from './index.js'
import { createTestStore, createTestStoreConfig, describeEachStore, newRunInput, runStoreWorker } from './test-support/index.js'
import type { TestStore } from './test-support/index.js'
import { rejectionCodeOf } from '@wharf/contract/test-support'

const T0 = Date.parse('2026-01-01T00:00:00.000Z')
const iso = (offsetSeconds: number) => new Date(T0 + offsetSeconds * 1000).toISOString()

/** Resolves to the WharfError code `promise` rejects with (fails the test if it resolves). */
function datastore(workspace: string, name: string, overrides: Partial<DatastoreRecord> = {}): DatastoreRecord {
  return {
    workspace,
    name,
    kind: 'filesystem',
    settings: { rootPath: `/data/${name}`, readOnly: false, depth: 2 },
    authType: 'none',
    secret: null,
    createdAt: iso(0),
    updatedAt: iso(0),
    ...overrides,
  }
}

let counter = 0
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`

describeEachStore('MetadataStore', (kind: StoreKind) => {
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
      artifactDatastore: 'workspaceartifactstore',
      createdAt: iso(0),
      datastores: [datastore(name, 'workspaceblobstore'), datastore(name, 'workspaceartifactstore')],
    })
    return name
  }

  function runInput(workspace: string, overrides: Partial<NewRun> = {}): NewRun {
    return newRunInput({ workspace, id: unique('run'), createdAt: iso(counter), ...overrides })
  }

  async function newRun(workspace: string, overrides: Partial<NewRun> = {}) {
    return store.createRun(runInput(workspace, overrides))
  }

  function batch(target: { ws: string; runId: string }, points: MetricPointIn[], extra: Partial<IngestBatch> = {}): IngestBatch {
    return { workspace: target.ws, runId: target.runId, points, receivedAt: T0, maxMetricNames: 1000, ...extra }
  }

  const allSeries = (ws: string, runId: string, name: string) => readAllSeries(store, { ws, runId, name })

  async function allRuns(options: Omit<ListRunsOptions, 'pageToken'>) {
    const runs = []
    let pageToken: string | undefined
    let pages = 0
    do {
      const page = await store.listRuns({ ...options, pageToken })
      expect(page.items.length).toBeLessThanOrEqual(options.pageSize)
      runs.push(...page.items)
      pageToken = page.nextPageToken
      pages++
    } while (pageToken !== undefined)
    return { runs, pages }
  }

  const byTime: Pick<ListRunsOptions, 'orderBy' | 'order' | 'includeMetrics'> = {
    orderBy: { kind: 'time', field: 'createdAt' },
    order: 'asc',
    includeMetrics: false,
  }

  it('reports its kind and migrates again without harm', async () => {
    expect(store.kind).toBe(kind)
    await store.migrate()
    await store.migrate()
  })

  describe('workspaces', () => {
    it('creates a workspace with its datastores, finds and lists it', async () => {
      const name = await newWorkspace()
      const workspace = await store.getWorkspace(name)
      expect(workspace).toEqual({
        name,
        defaultDatastore: 'workspaceblobstore',
        artifactDatastore: 'workspaceartifactstore',
        createdAt: iso(0),
      })
      expect(await store.findWorkspace(name)).toEqual(workspace)
      expect((await store.listWorkspaces()).map((w) => w.name)).toContain(name)
      expect((await store.listDatastores(name)).map((d) => d.name)).toEqual(['workspaceartifactstore', 'workspaceblobstore'])
    })

    it('refuses a taken name, and keeps nothing of the failed attempt', async () => {
      const name = await newWorkspace()
      const again = store.createWorkspace({
        name,
        defaultDatastore: 'x',
        artifactDatastore: 'x',
        createdAt: iso(5),
        datastores: [datastore(name, 'extra')],
      })
      expect(await rejectionCodeOf(again)).toBe('WORKSPACE_EXISTS')
      expect(await store.findDatastore({ workspace: name, name: 'extra' })).toBeUndefined()
    })

    it('says WORKSPACE_NOT_FOUND, or undefined from find', async () => {
      expect(await store.findWorkspace('nope-nope')).toBeUndefined()
      const error = await store.getWorkspace('nope-nope').catch((e: unknown) => e)
      expect(isWharfError(error, 'WORKSPACE_NOT_FOUND')).toBe(true)
      expect((error as Error).message).toContain('"nope-nope"')
      expect((error as Error).message).toContain('wharf workspace list')
    })

    it('sets the default datastore to a registered one only', async () => {
      const name = await newWorkspace()
      const updated = await store.setDefaultDatastore({ workspace: name, name: 'workspaceartifactstore' })
      expect(updated.defaultDatastore).toBe('workspaceartifactstore')
      expect((await store.getWorkspace(name)).defaultDatastore).toBe('workspaceartifactstore')
      expect(await rejectionCodeOf(store.setDefaultDatastore({ workspace: name, name: 'missing' }))).toBe('DATASTORE_NOT_FOUND')
      expect(await rejectionCodeOf(store.setDefaultDatastore({ workspace: 'nope-nope', name: 'workspaceblobstore' }))).toBe(
        'WORKSPACE_NOT_FOUND',
      )
    })
  })

  describe('experiments', () => {
    it('ensures an experiment once, even when asked concurrently', async () => {
      const ws = await newWorkspace()
      const all = await Promise.all(
        Array.from({ length: 8 }, () => store.ensureExperiment({ workspace: ws, name: 'concurrent', createdAt: iso(1) })),
      )
      expect(new Set(all.map((e) => e.id)).size).toBe(1)
      expect(all[0]).toEqual({ id: all[0]!.id, workspace: ws, name: 'concurrent', createdAt: iso(1) })
      expect(await store.getExperiment({ workspace: ws, name: 'concurrent' })).toEqual(all[0])
      expect((await store.ensureExperiment({ workspace: ws, name: 'concurrent', createdAt: iso(9) })).createdAt).toBe(iso(1))
    })

    it('says EXPERIMENT_NOT_FOUND and WORKSPACE_NOT_FOUND', async () => {
      const ws = await newWorkspace()
      expect(await rejectionCodeOf(store.getExperiment({ workspace: ws, name: 'missing' }))).toBe('EXPERIMENT_NOT_FOUND')
      expect(await rejectionCodeOf(store.ensureExperiment({ workspace: 'nope-nope', name: 'x', createdAt: iso(0) }))).toBe(
        'WORKSPACE_NOT_FOUND',
      )
    })

    it('lists experiments by name across pages', async () => {
      const ws = await newWorkspace()
      const names = ['b', 'a', 'e', 'c', 'g', 'd', 'f', 'B']
      for (const name of names) await store.ensureExperiment({ workspace: ws, name, createdAt: iso(0) })
      const seen: string[] = []
      let pageToken: string | undefined
      do {
        const page = await store.listExperiments({ workspace: ws, pageSize: 3, pageToken })
        expect(page.items.length).toBeLessThanOrEqual(3)
        seen.push(...page.items.map((e) => e.name))
        pageToken = page.nextPageToken
      } while (pageToken !== undefined)
      expect(seen).toEqual(['B', 'a', 'b', 'c', 'd', 'e', 'f', 'g'])
      expect(await rejectionCodeOf(store.listExperiments({ workspace: ws, pageSize: 3, pageToken: 'garbage' }))).toBe(
        'INVALID_ARGUMENT',
      )
    })
  })

  describe('runs', () => {
    it('creates a run (and its experiment) and reads it back', async () => {
      const ws = await newWorkspace()
      const input = runInput(ws, {
        experiment: 'first-use',
        displayName: 'lr sweep',
        description: 'tries lr',
        status: 'Running',
        startedAt: iso(3),
        tags: { team: 'vision' },
        properties: { commit: 'abc' },
        scriptName: 'train.ts',
        command: ['node', 'train.js', '--lr', '0.1'],
      })
      const run = await store.createRun(input)
      expect(run).toEqual({
        id: input.id,
        workspace: ws,
        experiment: 'first-use',
        displayName: 'lr sweep',
        description: 'tries lr',
        status: 'Running',
        createdAt: input.createdAt,
        startedAt: iso(3),
        endedAt: null,
        error: null,
        tags: { team: 'vision' },
        properties: { commit: 'abc' },
        parentRunId: null,
        computeTarget: 'local',
        scriptName: 'train.ts',
        command: ['node', 'train.js', '--lr', '0.1'],
        snapshotId: null,
        definition: null,
        statusTimes: { Running: iso(3) },
        heartbeatAt: null,
        cancelRequestedAt: null,
      })
      expect(await store.getRun({ workspace: ws, runId: run.id })).toEqual(run)
      expect((await store.getExperiment({ workspace: ws, name: 'first-use' })).name).toBe('first-use')
    })

    it('refuses a taken id, an unknown parent and an unknown workspace', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      expect(await rejectionCodeOf(store.createRun(runInput(ws, { id: run.id })))).toBe('RUN_EXISTS')
      expect(await rejectionCodeOf(store.createRun(runInput(ws, { parentRunId: 'no-such-run' })))).toBe('RUN_NOT_FOUND')
      expect(await rejectionCodeOf(store.createRun(runInput('nope-nope')))).toBe('WORKSPACE_NOT_FOUND')
    })

    it('says RUN_NOT_FOUND for a missing run and for a run of another workspace', async () => {
      const ws = await newWorkspace()
      const other = await newWorkspace()
      const run = await newRun(ws)
      const error = await store.getRun({ workspace: other, runId: run.id }).catch((e: unknown) => e)
      expect(isWharfError(error, 'RUN_NOT_FOUND')).toBe(true)
      expect((error as Error).message).toBe(
        `run "${run.id}" not found in workspace "${other}"; wharf history list shows the runs`,
      )
      expect(await rejectionCodeOf(store.getRun({ workspace: ws, runId: 'missing' }))).toBe('RUN_NOT_FOUND')
      expect(await rejectionCodeOf(store.updateRun({ workspace: ws, runId: 'missing', displayName: 'x' }))).toBe('RUN_NOT_FOUND')
    })

    it('updates display name and description', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      expect((await store.updateRun({ workspace: ws, runId: run.id, displayName: 'renamed' })).displayName).toBe('renamed')
      const updated = await store.updateRun({ workspace: ws, runId: run.id, description: 'now described' })
      expect(updated).toMatchObject({ displayName: 'renamed', description: 'now described' })
      expect(await store.getRun({ workspace: ws, runId: run.id })).toEqual(updated)
      expect(await store.updateRun({ workspace: ws, runId: run.id })).toEqual(updated)
    })

    it('moves a run along its lifecycle and sets its times', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      const queued = await store.transitionRun({ workspace: ws, runId: run.id, status: 'Queued', at: iso(10) })
      expect(queued).toMatchObject({ status: 'Queued', startedAt: null, endedAt: null })
      const running = await store.transitionRun({ workspace: ws, runId: run.id, status: 'Running', at: iso(11) })
      expect(running).toMatchObject({ status: 'Running', startedAt: iso(11), endedAt: null })
      // Staying put is allowed and changes nothing.
      expect(await store.transitionRun({ workspace: ws, runId: run.id, status: 'Running', at: iso(99) })).toEqual(running)
      const done = await store.transitionRun({ workspace: ws, runId: run.id, status: 'Completed', at: iso(12) })
      expect(done).toMatchObject({ status: 'Completed', startedAt: iso(11), endedAt: iso(12) })
      expect(await store.getRun({ workspace: ws, runId: run.id })).toEqual(done)
    })

    it('refuses illegal transitions with INVALID_STATUS_TRANSITION and changes nothing', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      const illegal: Array<[RunStatus[], RunStatus]> = [
        [['Queued'], 'NotStarted'],
        [['Running'], 'Queued'],
        [[], 'Completed'],
        [['Running', 'Completed'], 'Running'],
        [['Running', 'Completed'], 'Failed'],
      ]
      for (const [path, to] of illegal) {
        const fresh = await newRun(ws)
        for (const status of path) await store.transitionRun({ workspace: ws, runId: fresh.id, status, at: iso(1) })
        const before = await store.getRun({ workspace: ws, runId: fresh.id })
        const error = await store
          .transitionRun({ workspace: ws, runId: fresh.id, status: to, at: iso(2) })
          .catch((e: unknown) => e)
        expect(isWharfError(error, 'INVALID_STATUS_TRANSITION'), `${before.status} -> ${to}`).toBe(true)
        expect(await store.getRun({ workspace: ws, runId: fresh.id })).toEqual(before)
      }
      expect(await rejectionCodeOf(store.transitionRun({ workspace: ws, runId: 'missing', status: 'Running', at: iso(1) }))).toBe(
        'RUN_NOT_FOUND',
      )
      expect((await store.getRun({ workspace: ws, runId: run.id })).status).toBe('NotStarted')
    })

    it('stores the error of a failed run', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws, { status: 'Running', startedAt: iso(1) })
      const failed = await store.transitionRun({
        workspace: ws,
        runId: run.id,
        status: 'Failed',
        at: iso(2),
        error: { message: 'exit code 1', code: 'EXIT', details: 'Traceback…' },
      })
      expect(failed).toMatchObject({ status: 'Failed', endedAt: iso(2) })
      expect(failed.error).toEqual({ message: 'exit code 1', code: 'EXIT', details: 'Traceback…' })
      expect((await store.getRun({ workspace: ws, runId: run.id })).error).toEqual(failed.error)
    })

    it('sets and removes tags, with odd keys, within the limit', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws, { tags: { keep: '1', drop: '2' } })
      // Parsed, as a request body would be: a literal `__proto__` key would set the prototype instead.
      const tags = JSON.parse('{"a.b":"dots","q\\"x":"quote","__proto__":"proto","é ü":"unicode"}') as Record<string, string>
      const updated = await store.updateTags({
        workspace: ws,
        runId: run.id,
        set: tags,
        remove: ['drop', 'never-there'],
        maxTags: 5,
      })
      expect(Object.keys(updated.tags).sort()).toEqual(['__proto__', 'a.b', 'keep', 'q"x', 'é ü'].sort())
      expect(updated.tags['q"x']).toBe('quote')
      expect(Object.getOwnPropertyDescriptor(updated.tags, '__proto__')?.value).toBe('proto')
      expect(await store.getRun({ workspace: ws, runId: run.id })).toEqual(updated)

      const error = await store
        .updateTags({ workspace: ws, runId: run.id, set: { one: '1' }, remove: [], maxTags: 5 })
        .catch((e: unknown) => e)
      expect(isWharfError(error, 'LIMIT_EXCEEDED')).toBe(true)
      expect((error as { details: unknown }).details).toMatchObject({ limit: 'tagsPerRun', max: 5, actual: 6 })
      expect(await store.getRun({ workspace: ws, runId: run.id })).toEqual(updated)
      // Setting and removing in one call counts the result, not the request.
      const swapped = await store.updateTags({ workspace: ws, runId: run.id, set: { one: '1' }, remove: ['keep'], maxTags: 5 })
      expect(swapped.tags.one).toBe('1')
      expect(swapped.tags.keep).toBeUndefined()
    })

    it('adds properties but never changes one', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws, { properties: { commit: 'abc' } })
      const added = await store.addProperties({
        workspace: ws,
        runId: run.id,
        properties: { commit: 'abc', seed: '1' },
        maxProperties: 3,
      })
      expect(added.properties).toEqual({ commit: 'abc', seed: '1' })
      expect(
        await rejectionCodeOf(
          store.addProperties({ workspace: ws, runId: run.id, properties: { commit: 'def' }, maxProperties: 3 }),
        ),
      ).toBe('PROPERTY_IMMUTABLE')
      const error = await store
        .addProperties({ workspace: ws, runId: run.id, properties: { a: '1', b: '2' }, maxProperties: 3 })
        .catch((e: unknown) => e)
      expect(isWharfError(error, 'LIMIT_EXCEEDED')).toBe(true)
      expect((error as { details: unknown }).details).toMatchObject({ limit: 'propertiesPerRun' })
      expect((await store.getRun({ workspace: ws, runId: run.id })).properties).toEqual({ commit: 'abc', seed: '1' })
    })

    it('keeps child runs and lists them by parent or as roots', async () => {
      const ws = await newWorkspace()
      const parent = await newRun(ws)
      const children = [await newRun(ws, { parentRunId: parent.id }), await newRun(ws, { parentRunId: parent.id })]
      const grandchild = await newRun(ws, { parentRunId: children[0]!.id })
      expect(grandchild.parentRunId).toBe(children[0]!.id)
      const base = { workspace: ws, pageSize: 10, ...byTime }
      const kids = await store.listRuns({ ...base, parentRunId: parent.id })
      expect(kids.items.map((r) => r.id)).toEqual(children.map((c) => c.id))
      const roots = await store.listRuns({ ...base, rootOnly: true })
      expect(roots.items.map((r) => r.id)).toEqual([parent.id])
    })
  })

  describe('listing runs', () => {
    let ws: string
    const ids: string[] = []

    beforeAll(async () => {
      ws = await newWorkspace()
      // 23 runs over two experiments, three statuses, a few tags; created one second apart.
      for (let i = 0; i < 23; i++) {
        const run = await newRun(ws, {
          experiment: i % 2 === 0 ? 'even' : 'odd',
          createdAt: iso(1000 + i),
          tags: {
            ...(i % 3 === 0 ? { sweep: 'yes' } : {}),
            ...(i % 4 === 0 ? { 'model.kind': i % 8 === 0 ? 'cnn' : 'mlp' } : {}),
          },
        })
        ids.push(run.id)
        if (i % 5 === 0) await store.transitionRun({ workspace: ws, runId: run.id, status: 'Running', at: iso(2000 - i) })
        if (i % 10 === 0) await store.transitionRun({ workspace: ws, runId: run.id, status: 'Completed', at: iso(3000) })
      }
    })

    it('walks every page in creation order, both directions, without gaps or repeats', async () => {
      for (const pageSize of [1, 4, 23, 50]) {
        const asc = await allRuns({ workspace: ws, pageSize, ...byTime })
        expect(asc.runs.map((r) => r.id)).toEqual(ids)
        expect(asc.pages).toBe(Math.max(1, Math.ceil(23 / pageSize)))
        const desc = await allRuns({ workspace: ws, pageSize, ...byTime, order: 'desc' })
        expect(desc.runs.map((r) => r.id)).toEqual([...ids].reverse())
      }
    })

    it('orders by startedAt with runs that never started last', async () => {
      for (const order of ['asc', 'desc'] as const) {
        const { runs } = await allRuns({
          workspace: ws,
          pageSize: 3,
          orderBy: { kind: 'time', field: 'startedAt' },
          order,
          includeMetrics: false,
        })
        expect(runs).toHaveLength(23)
        expect(new Set(runs.map((r) => r.id)).size).toBe(23)
        const started = runs.filter((r) => r.startedAt !== null)
        expect(started).toHaveLength(5)
        expect(runs.slice(0, 5)).toEqual(started)
        const times = started.map((r) => r.startedAt!)
        expect(times).toEqual(order === 'asc' ? [...times].sort() : [...times].sort().reverse())
      }
    })

    it('filters by experiment, status and tags', async () => {
      const base = { workspace: ws, pageSize: 100, ...byTime }
      expect((await store.listRuns({ ...base, experiment: 'odd' })).items).toHaveLength(11)
      expect((await store.listRuns({ ...base, experiment: 'missing' })).items).toHaveLength(0)
      const running = await store.listRuns({ ...base, statuses: ['Running'] })
      expect(running.items.map((r) => r.id)).toEqual([ids[5], ids[15]])
      expect((await store.listRuns({ ...base, statuses: ['Running', 'Completed'] })).items).toHaveLength(5)
      expect((await store.listRuns({ ...base, tags: [{ key: 'sweep' }] })).items).toHaveLength(8)
      const cnn = await store.listRuns({ ...base, tags: [{ key: 'model.kind', value: 'cnn' }] })
      expect(cnn.items.map((r) => r.id)).toEqual([ids[0], ids[8], ids[16]])
      const both = await store.listRuns({ ...base, tags: [{ key: 'sweep' }, { key: 'model.kind', value: 'mlp' }] })
      expect(both.items.map((r) => r.id)).toEqual([ids[12]])
      const combined = await store.listRuns({ ...base, experiment: 'even', statuses: ['Completed'], tags: [{ key: 'sweep' }] })
      expect(combined.items.map((r) => r.id)).toEqual([ids[0]])
    })

    it('orders by a metric, runs without it last, and attaches last values in one call', async () => {
      const mws = await newWorkspace()
      const runs: Run[] = []
      // Numbers, non-finite strings, text ('text'), or no point at all.
      const values: Array<number | string | undefined> = [0.5, undefined, -2, 'Infinity', 10, 'NaN', 'text', '-Infinity', 3]
      for (const [i, value] of values.entries()) {
        const run = await newRun(mws, { createdAt: iso(i) })
        runs.push(run)
        if (value === undefined) continue
        const point: MetricPointIn =
          typeof value === 'string' && !['NaN', 'Infinity', '-Infinity'].includes(value)
            ? { name: 'acc', text: value }
            : { name: 'acc', value: value as MetricPointIn['value'] }
        await store.ingestMetrics(
          batch({ ws: mws, runId: run.id }, [{ name: 'acc', value: 999 }, point, { name: 'loss', value: i }]),
        )
      }
      const expectOrder = async (order: 'asc' | 'desc', expected: number[]) => {
        const { runs: listed } = await allRuns({
          workspace: mws,
          pageSize: 2,
          orderBy: { kind: 'metric', name: 'acc' },
          order,
          includeMetrics: true,
        })
        expect(listed.slice(0, expected.length).map((r) => r.id)).toEqual(expected.map((i) => runs[i]!.id))
        expect(listed).toHaveLength(values.length)
        expect(new Set(listed.map((r) => r.id)).size).toBe(values.length)
        return listed
      }
      const asc = await expectOrder('asc', [7, 2, 0, 8, 4, 3])
      await expectOrder('desc', [3, 4, 8, 0, 2, 7])
      const metrics = new Map(asc.map((r) => [r.id, r.metrics]))
      expect(metrics.get(runs[0]!.id)).toEqual({ acc: 0.5, loss: 0 })
      expect(metrics.get(runs[1]!.id)).toEqual({})
      expect(metrics.get(runs[3]!.id)).toEqual({ acc: 'Infinity', loss: 3 })
      expect(metrics.get(runs[5]!.id)).toEqual({ acc: 'NaN', loss: 5 })
      expect(metrics.get(runs[6]!.id)).toEqual({ acc: 'text', loss: 6 })
      expect(metrics.get(runs[7]!.id)).toEqual({ acc: '-Infinity', loss: 7 })
      const plain = await store.listRuns({ workspace: mws, pageSize: 50, ...byTime })
      expect(plain.items.every((r) => Object.keys(r.metrics).length === 0)).toBe(true)
    })

    it('refuses a token from another ordering, and an unknown workspace', async () => {
      const page = await store.listRuns({ workspace: ws, pageSize: 2, ...byTime })
      const token = page.nextPageToken!
      expect(
        await rejectionCodeOf(store.listRuns({ workspace: ws, pageSize: 2, ...byTime, order: 'desc', pageToken: token })),
      ).toBe('INVALID_ARGUMENT')
      expect(await rejectionCodeOf(store.listRuns({ workspace: 'nope-nope', pageSize: 2, ...byTime }))).toBe(
        'WORKSPACE_NOT_FOUND',
      )
    })
  })

  describe('metrics', () => {
    it('round-trips NaN, ±Infinity, strings and awkward numbers exactly', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      // -0 has its own test below.
      const values = [0.1 + 0.2, 1e308, -1e-300, 5e-324, Number.MAX_SAFE_INTEGER, 'NaN', 'Infinity', '-Infinity'] as const
      const points: MetricPointIn[] = values.map((value) => ({ name: 'v', value }))
      points.push({ name: 'v', text: 'a "quoted" ☃ string, {with} \\ back\nslash' })
      points.push({ name: 'v', value: Number.NaN })
      const result = await store.ingestMetrics(batch({ ws, runId: run.id }, points))
      expect(result).toEqual({ accepted: 10, duplicate: false })
      const series = await allSeries(ws, run.id, 'v')
      expect(series.map((p) => p.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      expect(series.slice(0, 8).map((p) => p.value)).toEqual([...values])
      expect(series[8]).toEqual({ step: 8, time: T0, text: 'a "quoted" ☃ string, {with} \\ back\nslash' })
      expect(series[9]).toEqual({ step: 9, time: T0, value: 'NaN' })
      expect(series.every((p) => (p.value === undefined) !== (p.text === undefined))).toBe(true)
    })

    it('keeps the sign of zero in points and in the summary', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      await store.ingestMetrics(
        batch({ ws, runId: run.id }, [
          { name: 'z', value: 0 },
          { name: 'z', value: -0 },
        ]),
      )
      const series = await allSeries(ws, run.id, 'z')
      expect(series.map((p) => Object.is(p.value, -0))).toEqual([false, true])
      const summary = (await store.listMetrics({ workspace: ws, runId: run.id })).find((m) => m.name === 'z')
      expect(Object.is(summary?.last, -0)).toBe(true)
    })

    it('gives points without a step the next step of their metric, in batch order', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      await store.ingestMetrics(
        batch({ ws, runId: run.id }, [
          { name: 'a', value: 1 },
          { name: 'b', value: 1 },
          { name: 'a', value: 2 },
          { name: 'a', value: 3, step: 10 },
          { name: 'a', value: 4 },
          { name: 'a', value: 5, step: 2 },
          { name: 'a', value: 6 },
        ]),
      )
      await store.ingestMetrics(
        batch({ ws, runId: run.id }, [
          { name: 'a', value: 7 },
          { name: 'b', value: 2 },
        ]),
      )
      expect((await allSeries(ws, run.id, 'a')).map((p) => [p.step, p.value])).toEqual([
        [0, 1],
        [1, 2],
        [2, 5],
        [10, 3],
        [11, 4],
        [12, 6],
        [13, 7],
      ])
      expect((await allSeries(ws, run.id, 'b')).map((p) => p.step)).toEqual([0, 1])
    })

    it('keeps repeated and backward steps, ties in logging order, and summarises them', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      await store.ingestMetrics(
        batch({ ws, runId: run.id }, [
          { name: 'loss', value: 5, step: 5, time: T0 + 1 },
          { name: 'loss', value: 3, step: 3, time: T0 + 2 },
          { name: 'loss', value: 'NaN', step: 1, time: T0 + 3 },
          { name: 'loss', value: 6, step: 5, time: T0 + 4 },
          { name: 'loss', value: -1, step: 0, time: T0 + 5 },
        ]),
      )
      const series = await allSeries(ws, run.id, 'loss')
      expect(series.map((p) => [p.step, p.value])).toEqual([
        [0, -1],
        [1, 'NaN'],
        [3, 3],
        [5, 5],
        [5, 6],
      ])
      const [summary] = await store.listMetrics({ workspace: ws, runId: run.id })
      expect(summary).toEqual({
        name: 'loss',
        kind: 'number',
        count: 5,
        lastStep: 5,
        lastTime: T0 + 4,
        last: 6,
        min: -1,
        max: 6,
      })
      // A later point at the same highest step becomes the last one.
      await store.ingestMetrics(batch({ ws, runId: run.id }, [{ name: 'loss', value: 'Infinity', step: 5, time: T0 + 9 }]))
      const [after] = await store.listMetrics({ workspace: ws, runId: run.id })
      expect(after).toMatchObject({ count: 6, lastStep: 5, lastTime: T0 + 9, last: 'Infinity', min: -1, max: 'Infinity' })
      // The next default step is one past the highest step.
      await store.ingestMetrics(batch({ ws, runId: run.id }, [{ name: 'loss', value: 0 }]))
      expect((await store.listMetrics({ workspace: ws, runId: run.id }))[0]).toMatchObject({ lastStep: 6, last: 0, count: 7 })
    })

    it('summarises every metric of a run: kinds, min/max without NaN, times', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      await store.ingestMetrics(
        batch(
          { ws, runId: run.id },
          [
            { name: 'n', value: 2 },
            { name: 'n', value: 'NaN' },
            { name: 'n', value: '-Infinity' },
            { name: 'n', value: 1 },
            { name: 't', text: 'hello' },
            { name: 't', text: 'world' },
            { name: 'm', value: 4 },
            { name: 'm', text: 'four' },
            { name: 'only-nan', value: 'NaN' },
          ],
          { receivedAt: T0 + 500 },
        ),
      )
      const summaries = await store.listMetrics({ workspace: ws, runId: run.id })
      expect(summaries).toEqual([
        { name: 'm', kind: 'mixed', count: 2, lastStep: 1, lastTime: T0 + 500, last: 'four', min: 4, max: 4 },
        { name: 'n', kind: 'number', count: 4, lastStep: 3, lastTime: T0 + 500, last: 1, min: '-Infinity', max: 2 },
        { name: 'only-nan', kind: 'number', count: 1, lastStep: 0, lastTime: T0 + 500, last: 'NaN', min: null, max: null },
        { name: 't', kind: 'text', count: 2, lastStep: 1, lastTime: T0 + 500, last: 'world', min: null, max: null },
      ])
      expect(await rejectionCodeOf(store.listMetrics({ workspace: ws, runId: 'missing' }))).toBe('RUN_NOT_FOUND')
    })

    it('stores a retried batch once and acknowledges the retry', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      const points: MetricPointIn[] = [
        { name: 'x', value: 1 },
        { name: 'x', value: 2 },
        { name: 'y', value: 3 },
      ]
      const first = await store.ingestMetrics(batch({ ws, runId: run.id }, points, { writerId: 'w1', sequence: 0 }))
      expect(first).toEqual({ accepted: 3, duplicate: false })
      const retry = await store.ingestMetrics(batch({ ws, runId: run.id }, points, { writerId: 'w1', sequence: 0 }))
      expect(retry).toEqual({ accepted: 3, duplicate: true })
      // Same sequence from another writer, and the next sequence, are new batches.
      expect(await store.ingestMetrics(batch({ ws, runId: run.id }, points, { writerId: 'w2', sequence: 0 }))).toEqual({
        accepted: 3,
        duplicate: false,
      })
      expect(await store.ingestMetrics(batch({ ws, runId: run.id }, points, { writerId: 'w1', sequence: 1 }))).toEqual({
        accepted: 3,
        duplicate: false,
      })
      // Steps count per writer: w2 starts after what w1 had logged, then w1 goes on with its own counter.
      expect((await allSeries(ws, run.id, 'x')).map((p) => [p.step, p.value])).toEqual([
        [0, 1],
        [1, 2],
        [2, 1],
        [2, 1],
        [3, 2],
        [3, 2],
      ])
      expect((await store.listMetrics({ workspace: ws, runId: run.id })).find((m) => m.name === 'x')?.count).toBe(6)
    })

    it('stores a batch retried concurrently exactly once', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      const points: MetricPointIn[] = Array.from({ length: 20 }, (_, i) => ({ name: 'r', value: i }))
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          store.ingestMetrics(batch({ ws, runId: run.id }, points, { writerId: 'w', sequence: 7 })),
        ),
      )
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1)
      expect(results.every((r) => r.accepted === 20)).toBe(true)
      expect(await allSeries(ws, run.id, 'r')).toHaveLength(20)
    })

    it('stores concurrent batches completely, each writer counting its own steps', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      const batches = Array.from({ length: 25 }, (_, b) =>
        batch(
          { ws, runId: run.id },
          Array.from({ length: 40 }, (_, i) => ({ name: i % 2 === 0 ? 'even' : 'odd', value: b * 100 + i })),
          { writerId: `writer-${b % 3}`, sequence: b },
        ),
      )
      const results = await Promise.all(batches.map((b) => store.ingestMetrics(b)))
      expect(results.every((r) => r.accepted === 40 && !r.duplicate)).toBe(true)
      for (const name of ['even', 'odd']) {
        const series = await readAllSeries(store, { ws, runId: run.id, name, pageSize: 97 })
        expect(new Set(series.map((p) => p.value)).size).toBe(500)
        // Each writer's points have consecutive steps of its own (its batches raced, so in the order the
        // store took them, not necessarily by sequence).
        for (let writer = 0; writer < 3; writer++) {
          const own = series.filter((p) => Math.floor(Number(p.value) / 100) % 3 === writer).map((p) => p.step)
          const start = own[0] ?? 0
          expect(own).toEqual(own.map((_, i) => start + i))
        }
      }
      const summaries = await store.listMetrics({ workspace: ws, runId: run.id })
      expect(summaries.map((s) => [s.name, s.count])).toEqual([
        ['even', 500],
        ['odd', 500],
      ])
    })

    it('refuses batches for unknown runs and past the metric name limit, storing nothing', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      expect(await rejectionCodeOf(store.ingestMetrics(batch({ ws, runId: 'missing' }, [{ name: 'a', value: 1 }])))).toBe(
        'RUN_NOT_FOUND',
      )
      const other = await newWorkspace()
      expect(await rejectionCodeOf(store.ingestMetrics(batch({ ws: other, runId: run.id }, [{ name: 'a', value: 1 }])))).toBe(
        'RUN_NOT_FOUND',
      )
      await store.ingestMetrics(batch({ ws, runId: run.id }, [{ name: 'a', value: 1 }], { maxMetricNames: 2 }))
      const error = await store
        .ingestMetrics(
          batch(
            { ws, runId: run.id },
            [
              { name: 'a', value: 2 },
              { name: 'b', value: 1 },
              { name: 'c', value: 1 },
            ],
            {
              maxMetricNames: 2,
              writerId: 'w',
              sequence: 1,
            },
          ),
        )
        .catch((e: unknown) => e)
      expect(isWharfError(error, 'LIMIT_EXCEEDED')).toBe(true)
      expect((error as { details: unknown }).details).toMatchObject({ limit: 'metricNamesPerRun', max: 2, actual: 3 })
      expect((await store.listMetrics({ workspace: ws, runId: run.id })).map((m) => [m.name, m.count])).toEqual([['a', 1]])
      // The refused batch was not recorded, so it can be sent again once it fits.
      const ok = await store.ingestMetrics(
        batch(
          { ws, runId: run.id },
          [
            { name: 'a', value: 2 },
            { name: 'b', value: 1 },
          ],
          { maxMetricNames: 2, writerId: 'w', sequence: 1 },
        ),
      )
      expect(ok).toEqual({ accepted: 2, duplicate: false })
    })

    it('accepts points for a finished run and an empty batch', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws, { status: 'Running', startedAt: iso(0) })
      await store.transitionRun({ workspace: ws, runId: run.id, status: 'Completed', at: iso(1) })
      expect(await store.ingestMetrics(batch({ ws, runId: run.id }, [{ name: 'late', value: 1 }]))).toEqual({
        accepted: 1,
        duplicate: false,
      })
      expect(await store.ingestMetrics(batch({ ws, runId: run.id }, []))).toEqual({ accepted: 0, duplicate: false })
    })

    it('pages a series by step, within a step range', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      const points: MetricPointIn[] = Array.from({ length: 50 }, (_, i) => ({ name: 's', value: i, time: T0 + i }))
      points.push({ name: 's', value: 100, step: 20 }, { name: 's', value: 101, step: 20 })
      await store.ingestMetrics(batch({ ws, runId: run.id }, points))
      const pages = []
      let pageToken: string | undefined
      do {
        const page = await store.readMetricSeries({
          workspace: ws,
          runId: run.id,
          name: 's',
          pageSize: 7,
          fromStep: 10,
          toStep: 29,
          pageToken,
        })
        pages.push(page.items)
        pageToken = page.nextPageToken
      } while (pageToken !== undefined)
      const steps = pages.flat().map((p) => p.step)
      expect(pages.length).toBe(4)
      expect(steps).toEqual([
        ...Array.from({ length: 11 }, (_, i) => 10 + i),
        20,
        20,
        ...Array.from({ length: 9 }, (_, i) => 21 + i),
      ])
      expect(
        pages
          .flat()
          .filter((p) => p.step === 20)
          .map((p) => p.value),
      ).toEqual([20, 100, 101])
      expect(await rejectionCodeOf(store.readMetricSeries({ workspace: ws, runId: run.id, name: 'missing', pageSize: 10 }))).toBe(
        'METRIC_NOT_FOUND',
      )
      expect(await rejectionCodeOf(store.readMetricSeries({ workspace: ws, runId: 'missing', name: 's', pageSize: 10 }))).toBe(
        'RUN_NOT_FOUND',
      )
      expect(
        await rejectionCodeOf(
          store.readMetricSeries({ workspace: ws, runId: run.id, name: 's', pageSize: 10, pageToken: 'e30' }),
        ),
      ).toBe('INVALID_ARGUMENT')
    })

    it('downsamples into buckets that keep spikes, first and last values', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      const points: MetricPointIn[] = Array.from({ length: 1000 }, (_, step) => ({
        name: 'loss',
        value: step === 537 ? 1e6 : step === 538 ? -1e6 : step % 10,
      }))
      points[250] = { name: 'loss', value: 'NaN' }
      points[251] = { name: 'loss', value: 'Infinity' }
      points.push({ name: 'loss', text: 'not a number' })
      await store.ingestMetrics(batch({ ws, runId: run.id }, points))
      const result = await store.readMetricBuckets({ workspace: ws, runId: run.id, name: 'loss', buckets: 10 })
      expect(result).toMatchObject({ name: 'loss', fromStep: 0, toStep: 1000, bucketWidth: 101 })
      expect(result.buckets).toHaveLength(10)
      const [b0, , b2, , , b5] = result.buckets
      expect(b0).toEqual({ fromStep: 0, toStep: 100, count: 101, min: 0, max: 9, first: 0, last: 0, nonFinite: 0 })
      expect(b2).toMatchObject({ fromStep: 202, toStep: 302, count: 101, nonFinite: 2, min: 0, max: 9 })
      expect(b5).toMatchObject({ fromStep: 505, toStep: 605, max: 1e6, min: -1e6, first: 5, last: 5 })
      expect(result.buckets[9]).toMatchObject({ fromStep: 909, toStep: 1000, count: 91, last: 9 })
      expect(result.buckets.reduce((n, b) => n + b.count, 0)).toBe(1000)

      const zoomed = await store.readMetricBuckets({
        workspace: ws,
        runId: run.id,
        name: 'loss',
        fromStep: 248,
        toStep: 252,
        buckets: 5,
      })
      expect(zoomed.bucketWidth).toBe(1)
      expect(zoomed.buckets.map((b) => [b.fromStep, b.first, b.last, b.min, b.max, b.nonFinite])).toEqual([
        [248, 8, 8, 8, 8, 0],
        [249, 9, 9, 9, 9, 0],
        [250, 'NaN', 'NaN', null, null, 1],
        [251, 'Infinity', 'Infinity', null, null, 1],
        [252, 2, 2, 2, 2, 0],
      ])
    })

    it('leaves empty step ranges out, and takes the value logged first/last at a tied step', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      await store.ingestMetrics(
        batch({ ws, runId: run.id }, [
          { name: 'g', value: 1, step: 0 },
          { name: 'g', value: 2, step: 0 },
          { name: 'g', value: 3, step: 99 },
          { name: 'g', value: 4, step: 99 },
        ]),
      )
      const result = await store.readMetricBuckets({ workspace: ws, runId: run.id, name: 'g', buckets: 10 })
      expect(result.bucketWidth).toBe(10)
      expect(result.buckets).toEqual([
        { fromStep: 0, toStep: 9, count: 2, min: 1, max: 2, first: 1, last: 2, nonFinite: 0 },
        { fromStep: 90, toStep: 99, count: 2, min: 3, max: 4, first: 3, last: 4, nonFinite: 0 },
      ])
      const empty = await store.readMetricBuckets({
        workspace: ws,
        runId: run.id,
        name: 'g',
        fromStep: 10,
        toStep: 50,
        buckets: 4,
      })
      expect(empty).toEqual({ name: 'g', axis: 'step', fromStep: 10, toStep: 50, bucketWidth: 11, buckets: [] })
      expect(await rejectionCodeOf(store.readMetricBuckets({ workspace: ws, runId: run.id, name: 'nope', buckets: 4 }))).toBe(
        'METRIC_NOT_FOUND',
      )
      expect(await rejectionCodeOf(store.readMetricBuckets({ workspace: ws, runId: 'missing', name: 'g', buckets: 4 }))).toBe(
        'RUN_NOT_FOUND',
      )
    })
  })

  describe('artifacts', () => {
    function artifact(runId: string, path: string, overrides: Partial<Artifact> = {}): Artifact {
      return {
        runId,
        path,
        size: 1234,
        sha256: 'ab'.repeat(32),
        contentType: 'text/plain',
        createdAt: iso(5),
        datastore: 'workspaceartifactstore',
        key: `ExperimentRun/${runId}/${path}`,
        ...overrides,
      }
    }

    it('records, replaces, finds and lists artifacts by prefix across pages', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws, { status: 'Running', startedAt: iso(0) })
      const paths = [
        'outputs/model.bin',
        'logs/std_log.txt',
        'outputs/b/c.txt',
        'outputs%x',
        'outputs/a.txt',
        'outputsy',
        'Outputs/z',
      ]
      for (const path of paths) await store.putArtifact({ workspace: ws, artifact: artifact(run.id, path) })
      const replaced = await store.putArtifact({
        workspace: ws,
        artifact: artifact(run.id, 'outputs/a.txt', { size: 5_000_000_000, sha256: 'cd'.repeat(32) }),
      })
      expect(replaced.artifact.size).toBe(5_000_000_000)
      expect(replaced.replaced).toEqual(artifact(run.id, 'outputs/a.txt'))
      expect(await store.findArtifact({ workspace: ws, runId: run.id, path: 'outputs/a.txt' })).toEqual(replaced.artifact)
      expect(await store.findArtifact({ workspace: ws, runId: run.id, path: 'missing' })).toBeUndefined()
      expect(await store.findArtifact({ workspace: await newWorkspace(), runId: run.id, path: 'outputs/a.txt' })).toBeUndefined()

      const listed: string[] = []
      let pageToken: string | undefined
      do {
        const page = await store.listArtifacts({ workspace: ws, runId: run.id, prefix: 'outputs/', pageSize: 2, pageToken })
        listed.push(...page.items.map((a) => a.path))
        pageToken = page.nextPageToken
      } while (pageToken !== undefined)
      expect(listed).toEqual(['outputs/a.txt', 'outputs/b/c.txt', 'outputs/model.bin'])
      const all = await store.listArtifacts({ workspace: ws, runId: run.id, pageSize: 100 })
      expect(all.items.map((a) => a.path)).toEqual([...paths].sort())
      expect(all.nextPageToken).toBeUndefined()
      expect(await rejectionCodeOf(store.listArtifacts({ workspace: ws, runId: 'missing', pageSize: 10 }))).toBe('RUN_NOT_FOUND')
    })

    it('reports each replaced record to exactly one of many puts of one path racing', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws, { status: 'Running', startedAt: iso(0) })
      const keys = Array.from({ length: 12 }, (_, i) => `ExperimentRun/${run.id}/.uploads/${i}/outputs/m.bin`)
      const results = await Promise.all(
        keys.map((key) => store.putArtifact({ workspace: ws, artifact: artifact(run.id, 'outputs/m.bin', { key }) })),
      )
      const final = await store.findArtifact({ workspace: ws, runId: run.id, path: 'outputs/m.bin' })
      // Every put but the first replaced one record, each a different one, and the last one is what stays.
      expect(results.filter((r) => r.replaced === undefined)).toHaveLength(1)
      const replacedKeys = results.flatMap((r) => (r.replaced ? [r.replaced.key] : []))
      expect([...replacedKeys, final?.key].sort()).toEqual([...keys].sort())
    })

    it('refuses artifacts for a finished run with RUN_FINISHED', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws, { status: 'Running', startedAt: iso(0) })
      await store.putArtifact({ workspace: ws, artifact: artifact(run.id, 'outputs/a.txt') })
      await store.transitionRun({ workspace: ws, runId: run.id, status: 'Completed', at: iso(1) })
      expect(await rejectionCodeOf(store.putArtifact({ workspace: ws, artifact: artifact(run.id, 'outputs/b.txt') }))).toBe(
        'RUN_FINISHED',
      )
      expect(
        await rejectionCodeOf(store.putArtifact({ workspace: ws, artifact: artifact(run.id, 'outputs/a.txt', { size: 1 }) })),
      ).toBe('RUN_FINISHED')
      expect((await store.findArtifact({ workspace: ws, runId: run.id, path: 'outputs/a.txt' }))?.size).toBe(1234)
      expect(await rejectionCodeOf(store.putArtifact({ workspace: ws, artifact: artifact('missing', 'x') }))).toBe(
        'RUN_NOT_FOUND',
      )
    })
  })

  describe('assets', () => {
    function assetFile(path: string, overrides: Partial<AssetFile> = {}): AssetFile {
      return {
        path,
        size: 10,
        sha256: 'ef'.repeat(32),
        contentType: 'application/octet-stream',
        datastore: 'workspaceartifactstore',
        key: `ExperimentRun/r/outputs/${path}`,
        ...overrides,
      }
    }

    function assetInput(ws: string, runId: string, overrides: Partial<NewAssetVersion> = {}): NewAssetVersion {
      return {
        workspace: ws,
        name: 'model',
        description: '',
        tags: {},
        sourceRunId: runId,
        artifactPath: 'outputs/model',
        copied: false,
        createdAt: iso(10),
        files: [assetFile('model/b.bin', { size: 5_000_000_000 }), assetFile('model/a.bin')],
        ...overrides,
      }
    }

    it('numbers versions per name, keeps files by path, and reads back one or the latest', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      const first = await store.createAssetVersion(
        assetInput(ws, run.id, { description: 'first', tags: { stage: 'dev', 'a.b': '' } }),
      )
      expect(first).toMatchObject({
        workspace: ws,
        name: 'model',
        version: 1,
        description: 'first',
        tags: { stage: 'dev', 'a.b': '' },
        sourceRunId: run.id,
        artifactPath: 'outputs/model',
        copied: false,
        fileCount: 2,
        size: 5_000_000_010,
        createdAt: iso(10),
      })
      expect(first.files.map((f) => f.path)).toEqual(['model/a.bin', 'model/b.bin'])
      const second = await store.createAssetVersion(
        assetInput(ws, run.id, { copied: true, createdAt: iso(11), files: [assetFile('x')] }),
      )
      expect(second).toMatchObject({ version: 2, copied: true, fileCount: 1, size: 10 })
      const other = await store.createAssetVersion(assetInput(ws, run.id, { name: 'other' }))
      expect(other.version).toBe(1)
      const elsewhere = await newWorkspace()
      expect((await store.createAssetVersion(assetInput(elsewhere, (await newRun(elsewhere)).id))).version).toBe(1)

      expect(await store.getAssetVersion({ workspace: ws, name: 'model', version: 1 })).toEqual(first)
      expect(await store.getAssetVersion({ workspace: ws, name: 'model', version: 'latest' })).toEqual(second)
      expect(await store.getAssetVersion({ workspace: ws, name: 'model', version: 2 })).toEqual(second)
    })

    it('says ASSET_NOT_FOUND naming the asset, and refuses unknown runs and workspaces', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      await store.createAssetVersion(assetInput(ws, run.id))
      for (const [name, version] of [
        ['missing', 'latest'],
        ['missing', 1],
        ['model', 2],
      ] as const) {
        const error = await store.getAssetVersion({ workspace: ws, name, version }).catch((e: unknown) => e)
        expect(isWharfError(error, 'ASSET_NOT_FOUND')).toBe(true)
        expect((error as Error).message).toContain(`asset "${name}"`)
        expect((error as Error).message).toContain('wharf asset list')
      }
      expect(await rejectionCodeOf(store.listAssetVersions({ workspace: ws, name: 'missing', pageSize: 10 }))).toBe(
        'ASSET_NOT_FOUND',
      )
      expect(await rejectionCodeOf(store.getAssetVersion({ workspace: 'nope-nope', name: 'model', version: 1 }))).toBe(
        'WORKSPACE_NOT_FOUND',
      )
      expect(await rejectionCodeOf(store.listAssets({ workspace: 'nope-nope', pageSize: 10 }))).toBe('WORKSPACE_NOT_FOUND')
      expect(await rejectionCodeOf(store.createAssetVersion(assetInput(ws, 'missing')))).toBe('RUN_NOT_FOUND')
      expect(await rejectionCodeOf(store.createAssetVersion(assetInput('nope-nope', run.id)))).toBe('WORKSPACE_NOT_FOUND')
      const elsewhere = await newWorkspace()
      expect(await rejectionCodeOf(store.createAssetVersion(assetInput(elsewhere, run.id)))).toBe('RUN_NOT_FOUND')
      // A failed promote leaves no version behind.
      expect((await store.getAssetVersion({ workspace: ws, name: 'model', version: 'latest' })).version).toBe(1)
    })

    it('lists assets by name and versions newest first, across pages', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      for (const name of ['c', 'a', 'b', 'a', 'c', 'a']) {
        await store.createAssetVersion(
          assetInput(ws, run.id, { name, description: `${name} at ${counter}`, createdAt: iso(++counter) }),
        )
      }
      const summaries: AssetSummary[] = []
      let pageToken: string | undefined
      do {
        const page = await store.listAssets({ workspace: ws, pageSize: 2, pageToken })
        expect(page.items.length).toBeLessThanOrEqual(2)
        summaries.push(...page.items)
        pageToken = page.nextPageToken
      } while (pageToken !== undefined)
      expect(summaries.map((s) => [s.name, s.latestVersion, s.versionCount])).toEqual([
        ['a', 3, 3],
        ['b', 1, 1],
        ['c', 2, 2],
      ])
      const latestA = await store.getAssetVersion({ workspace: ws, name: 'a', version: 'latest' })
      expect(summaries[0]).toMatchObject({ description: latestA.description, updatedAt: latestA.createdAt })
      expect((await store.listAssets({ workspace: await newWorkspace(), pageSize: 10 })).items).toEqual([])

      const versions: AssetVersion[] = []
      pageToken = undefined
      do {
        const page = await store.listAssetVersions({ workspace: ws, name: 'a', pageSize: 2, pageToken })
        versions.push(...page.items)
        pageToken = page.nextPageToken
      } while (pageToken !== undefined)
      expect(versions.map((v) => v.version)).toEqual([3, 2, 1])
      expect(versions.every((v) => v.files.length === 0 && v.fileCount === 2)).toBe(true)
      const token = (await store.listAssetVersions({ workspace: ws, name: 'a', pageSize: 1 })).nextPageToken ?? ''
      expect(await rejectionCodeOf(store.listAssetVersions({ workspace: ws, name: 'c', pageSize: 1, pageToken: token }))).toBe(
        'INVALID_ARGUMENT',
      )
    })

    it('gives concurrent promotes of one name distinct, consecutive versions', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      const created = await Promise.all(
        Array.from({ length: 12 }, (_, i) => store.createAssetVersion(assetInput(ws, run.id, { description: `p${i}` }))),
      )
      expect(created.map((v) => v.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1))
      for (const version of created) {
        expect((await store.getAssetVersion({ workspace: ws, name: 'model', version: version.version })).description).toBe(
          version.description,
        )
      }
      expect((await store.listAssets({ workspace: ws, pageSize: 10 })).items).toMatchObject([
        { name: 'model', latestVersion: 12, versionCount: 12 },
      ])
    })

    it('points aliases at versions, moves and removes them, and reads a version by alias', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      const v1 = await store.createAssetVersion(assetInput(ws, run.id, { description: 'one' }))
      const v2 = await store.createAssetVersion(assetInput(ws, run.id, { description: 'two' }))
      await store.createAssetVersion(assetInput(ws, run.id, { name: 'other' }))
      const model = { workspace: ws, name: 'model' }
      expect(await store.listAssetAliases(model)).toEqual([])

      expect(await store.setAssetAlias({ ...model, alias: 'champion', version: 1, updatedAt: iso(1) })).toEqual({
        name: 'model',
        alias: 'champion',
        version: 1,
        updatedAt: iso(1),
      })
      await store.setAssetAlias({ ...model, alias: 'Challenger-2', version: 2, updatedAt: iso(2) })
      // Another asset's alias of the same name is its own.
      await store.setAssetAlias({ workspace: ws, name: 'other', alias: 'champion', version: 1, updatedAt: iso(3) })
      expect(await store.getAssetVersion({ ...model, version: { alias: 'champion' } })).toEqual(v1)

      // Moving an alias rewrites its one row.
      await store.setAssetAlias({ ...model, alias: 'champion', version: 2, updatedAt: iso(4) })
      expect(await store.getAssetVersion({ ...model, version: { alias: 'champion' } })).toEqual(v2)
      expect((await store.listAssetAliases(model)).map((a) => [a.alias, a.version, a.updatedAt])).toEqual([
        ['Challenger-2', 2, iso(2)],
        ['champion', 2, iso(4)],
      ])

      expect(await store.deleteAssetAlias({ ...model, alias: 'champion' })).toBe(true)
      expect(await store.deleteAssetAlias({ ...model, alias: 'champion' })).toBe(false)
      expect((await store.listAssetAliases(model)).map((a) => a.alias)).toEqual(['Challenger-2'])
      expect((await store.listAssetAliases({ workspace: ws, name: 'other' })).map((a) => a.alias)).toEqual(['champion'])

      const missingAlias = await store.getAssetVersion({ ...model, version: { alias: 'champion' } }).catch((e: unknown) => e)
      expect(isWharfError(missingAlias, 'ASSET_ALIAS_NOT_FOUND')).toBe(true)
      expect((missingAlias as Error).message).toContain('wharf asset alias list model')
      expect(await rejectionCodeOf(store.getAssetVersion({ workspace: ws, name: 'missing', version: { alias: 'x' } }))).toBe(
        'ASSET_NOT_FOUND',
      )
      // Only a version that exists can be pointed at, and only an asset that exists has aliases.
      expect(await rejectionCodeOf(store.setAssetAlias({ ...model, alias: 'champion', version: 3, updatedAt: iso(5) }))).toBe(
        'ASSET_NOT_FOUND',
      )
      expect(
        await rejectionCodeOf(store.setAssetAlias({ workspace: ws, name: 'missing', alias: 'a', version: 1, updatedAt: iso(5) })),
      ).toBe('ASSET_NOT_FOUND')
      expect(await rejectionCodeOf(store.deleteAssetAlias({ workspace: ws, name: 'missing', alias: 'a' }))).toBe(
        'ASSET_NOT_FOUND',
      )
      expect(await rejectionCodeOf(store.listAssetAliases({ workspace: 'nope-nope', name: 'model' }))).toBe('WORKSPACE_NOT_FOUND')
    })

    it("edits a version's description and tags without touching its files, and keeps every edit of a race", async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      const made = await store.createAssetVersion(assetInput(ws, run.id, { description: 'd', tags: { keep: '1', drop: '2' } }))
      const ref = { workspace: ws, name: 'model', version: 1 }
      const edited = await store.updateAssetVersion({
        ...ref,
        description: 'e',
        setTags: { add: '3' },
        removeTags: ['drop'],
        maxTags: 10,
      })
      expect(edited).toEqual({ ...made, description: 'e', tags: { keep: '1', add: '3' } })
      // Concurrent edits of different tags all land: each reads and writes under the row's lock.
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.updateAssetVersion({ ...ref, setTags: { [`t${i}`]: 'x' }, maxTags: 20 })),
      )
      expect(Object.keys((await store.getAssetVersion(ref)).tags).sort()).toEqual([
        'add',
        'keep',
        't0',
        't1',
        't2',
        't3',
        't4',
        't5',
        't6',
        't7',
      ])
      expect(await rejectionCodeOf(store.updateAssetVersion({ ...ref, setTags: { x: '1' }, maxTags: 10 }))).toBe('LIMIT_EXCEEDED')
      expect(await rejectionCodeOf(store.updateAssetVersion({ ...ref, version: 2, maxTags: 10 }))).toBe('ASSET_NOT_FOUND')
      expect(await rejectionCodeOf(store.updateAssetVersion({ ...ref, name: 'missing', maxTags: 10 }))).toBe('ASSET_NOT_FOUND')
    })

    it("holds a run's aliases to its own versions, and refuses only what grows past a limit", async () => {
      const ws = await newWorkspace()
      const mine = await newRun(ws)
      const theirs = await newRun(ws)
      await store.createAssetVersion(assetInput(ws, theirs.id))
      await store.createAssetVersion(assetInput(ws, mine.id))
      const model = { workspace: ws, name: 'model' }
      const at = { updatedAt: iso(1) }
      await store.setAssetAlias({ ...model, alias: 'production', version: 1, ...at })
      const owned = { ...model, ...at, ownerRunId: mine.id }
      expect(await rejectionCodeOf(store.setAssetAlias({ ...owned, alias: 'production', version: 2 }))).toBe('FORBIDDEN')
      expect(await rejectionCodeOf(store.setAssetAlias({ ...owned, alias: 'x', version: 1 }))).toBe('FORBIDDEN')
      expect((await store.setAssetAlias({ ...owned, alias: 'candidate', version: 2 })).version).toBe(2)
      expect((await store.getAssetVersion({ ...model, version: { alias: 'production' } })).version).toBe(1)

      // Over the alias limit (lowered since): a new alias is refused, moving one is not.
      expect(await rejectionCodeOf(store.setAssetAlias({ ...model, alias: 'third', version: 1, ...at, maxAliases: 1 }))).toBe(
        'LIMIT_EXCEEDED',
      )
      expect((await store.setAssetAlias({ ...model, alias: 'production', version: 2, ...at, maxAliases: 1 })).version).toBe(2)

      // Over the tag limit: removing tags and changing the description still work; adding does not.
      const ref = { ...model, version: 1 }
      await store.updateAssetVersion({ ...ref, setTags: { a: '1', b: '2', c: '3' }, maxTags: 10 })
      expect(await rejectionCodeOf(store.updateAssetVersion({ ...ref, setTags: { d: '4' }, maxTags: 2 }))).toBe('LIMIT_EXCEEDED')
      expect((await store.updateAssetVersion({ ...ref, description: 'x', removeTags: ['a'], maxTags: 1 })).tags).toEqual({
        b: '2',
        c: '3',
      })
      // Edited by alias: the version it points at inside the edit.
      expect(
        (await store.updateAssetVersion({ ...model, version: { alias: 'production' }, description: 'p', maxTags: 10 })).version,
      ).toBe(2)
      expect((await store.updateAssetVersion({ ...model, version: 'latest', description: 'l', maxTags: 10 })).description).toBe(
        'l',
      )
    })

    it('leaves one row when many callers point one alias at once', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      for (let i = 0; i < 4; i++) await store.createAssetVersion(assetInput(ws, run.id))
      const model = { workspace: ws, name: 'model' }
      const set = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          store.setAssetAlias({ ...model, alias: 'prod', version: (i % 4) + 1, updatedAt: iso(i) }),
        ),
      )
      const aliases = await store.listAssetAliases(model)
      expect(aliases).toHaveLength(1)
      // The row left is one whole write (its version and time together), not a mix of two.
      const [left] = aliases
      expect(set.some((a) => a.version === left?.version && a.updatedAt === left.updatedAt)).toBe(true)
      await expect(store.getAssetVersion({ ...model, version: { alias: 'prod' } })).resolves.toMatchObject({
        version: left?.version,
      })
    })

    it('stores a version with many files in one go', async () => {
      const ws = await newWorkspace()
      const run = await newRun(ws)
      const files = Array.from({ length: 1203 }, (_, i) => assetFile(`ckpt/shard-${String(i).padStart(5, '0')}.pt`))
      const created = await store.createAssetVersion(assetInput(ws, run.id, { files }))
      expect(created.fileCount).toBe(1203)
      const read = await store.getAssetVersion({ workspace: ws, name: 'model', version: created.version })
      expect(read.files).toEqual(files)
    })
  })

  describe('datastores', () => {
    it('registers, refuses a taken name, overwrites, lists and removes', async () => {
      const ws = await newWorkspace()
      const record = datastore(ws, 'raw', {
        kind: 'azure_blob',
        settings: { account: 'acct', container: 'data', https: true, retries: 3 },
        authType: 'account_key',
        secret: 'ciphertext',
        createdAt: iso(1),
        updatedAt: iso(1),
      })
      expect(await store.putDatastore(record, { overwrite: false })).toEqual(record)
      expect(await store.getDatastore({ workspace: ws, name: 'raw' })).toEqual(record)
      const error = await store.putDatastore(record, { overwrite: false }).catch((e: unknown) => e)
      expect(isWharfError(error, 'DATASTORE_EXISTS')).toBe(true)
      expect((error as Error).message).toContain(`datastore "raw" already exists in workspace "${ws}"`)

      const replaced = await store.putDatastore(
        { ...record, settings: { account: 'other' }, secret: null, authType: 'none', createdAt: iso(9), updatedAt: iso(9) },
        { overwrite: true },
      )
      expect(replaced).toEqual({ ...record, settings: { account: 'other' }, secret: null, authType: 'none', updatedAt: iso(9) })
      expect(await store.findDatastore({ workspace: ws, name: 'raw' })).toEqual(replaced)

      const fresh = await store.putDatastore(datastore(ws, 'fresh'), { overwrite: true })
      expect(fresh.name).toBe('fresh')
      expect((await store.listDatastores(ws)).map((d) => d.name)).toEqual([
        'fresh',
        'raw',
        'workspaceartifactstore',
        'workspaceblobstore',
      ])

      const view = toDatastoreView(replaced, await store.getWorkspace(ws))
      expect(view).toMatchObject({ name: 'raw', hasSecret: false, isDefault: false })
      expect(JSON.stringify(toDatastoreView(record, await store.getWorkspace(ws)))).not.toContain('ciphertext')

      await store.deleteDatastore({ workspace: ws, name: 'raw' })
      expect(await store.findDatastore({ workspace: ws, name: 'raw' })).toBeUndefined()
      expect(await rejectionCodeOf(store.getDatastore({ workspace: ws, name: 'raw' }))).toBe('DATASTORE_NOT_FOUND')
      expect(await rejectionCodeOf(store.deleteDatastore({ workspace: ws, name: 'raw' }))).toBe('DATASTORE_NOT_FOUND')
      expect(await rejectionCodeOf(store.putDatastore(datastore('nope-nope', 'x'), { overwrite: false }))).toBe(
        'WORKSPACE_NOT_FOUND',
      )
    })
  })

  describe('several processes on one database', () => {
    it('migrates concurrently, and each process counts its own steps of a shared metric', async () => {
      const database = await createTestStoreConfig(kind, { poolSize: 2 })
      try {
        const job = {
          config: database.config,
          workspace: 'shared',
          runId: 'shared-run',
          metric: 'shared',
          batches: 10,
          pointsPerBatch: 10,
        }
        const results = await Promise.all([1, 2, 3].map(() => runStoreWorker(job)))
        for (const result of results) expect(result.stderr).toBe('')
        expect(results.map((r) => r.code)).toEqual([0, 0, 0])
        const store = await createMetadataStore(database.config)
        try {
          const series = await readAllSeries(store, { ws: 'shared', runId: 'shared-run', name: 'shared' })
          expect(series).toHaveLength(300)
          // Three writers of 100 points each: every step is used by at most three points.
          const perStep = new Map<number, number>()
          for (const p of series) perStep.set(p.step, (perStep.get(p.step) ?? 0) + 1)
          expect(Math.max(...perStep.values())).toBeLessThanOrEqual(3)
          expect((await store.listMetrics({ workspace: 'shared', runId: 'shared-run' }))[0]).toMatchObject({ count: 300 })
        } finally {
          await store.close()
        }
      } finally {
        await database.cleanup()
      }
    })

    it('fails later calls once closed, without SQL in the message', async () => {
      const database = await createTestStoreConfig(kind)
      const closing = await createMetadataStore(database.config)
      await closing.close()
      try {
        const error = await closing.listWorkspaces().catch((e: unknown) => e)
        expect(error).toBeInstanceOf(Error)
        expect((error as Error).message.toLowerCase()).not.toContain('select')
      } finally {
        await database.cleanup()
      }
    })
  })
})

/** Every point of a series, read page by page. */
async function readAllSeries(store: MetadataStore, series: { ws: string; runId: string; name: string; pageSize?: number }) {
  const points: MetricPoint[] = []
  let pageToken: string | undefined
  do {
    const page = await store.readMetricSeries({
      workspace: series.ws,
      runId: series.runId,
      name: series.name,
      pageSize: series.pageSize ?? 100,
      pageToken,
    })
    points.push(...page.items)
    pageToken = page.nextPageToken
  } while (pageToken !== undefined)
  return points
}
