import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isWharfError } from '@wharf/contract'
import { findWorkspaceConfig } from '../config/config-file.js'
import { Workspace } from '../workspace.js'
import { startSdkTestServer } from '../test-support/sdk-server.js'

let t: Awaited<ReturnType<typeof startSdkTestServer>>
let ws: Workspace
let work: string

beforeAll(async () => {
  t = await startSdkTestServer()
  work = await mkdtemp(path.join(tmpdir(), 'wharf-sdk-work-'))
  ws = Workspace.connect({ url: t.url, spoolDir: path.join(work, 'spool') })
})
afterAll(async () => {
  await t?.stop()
  await rm(work, { recursive: true, force: true })
})

describe('workspace config discovery', () => {
  it('finds .wharf/config.json in a parent folder, skipping a config.json of another tool', async () => {
    const root = path.join(work, 'project')
    const deep = path.join(root, 'src', 'models')
    await mkdir(path.join(root, '.wharf'), { recursive: true })
    await mkdir(deep, { recursive: true })
    await writeFile(path.join(root, '.wharf', 'config.json'), JSON.stringify({ url: t.url, workspace: 'default' }))
    await writeFile(path.join(root, 'src', 'config.json'), JSON.stringify({ compilerOptions: {} }))
    const config = await findWorkspaceConfig({ cwd: deep })
    expect(config).toMatchObject({ url: t.url, workspace: 'default', source: path.join(root, '.wharf', 'config.json') })
    const ws2 = await Workspace.fromConfig({ cwd: deep })
    expect((await ws2.getDetails()).name).toBe('default')
  })

  it('lets the environment override the file, and says how to write a config when there is none', async () => {
    const config = await findWorkspaceConfig({ cwd: work, overrides: { url: 'http://127.0.0.1:9/', workspace: 'w2' } })
    expect(config).toMatchObject({ url: 'http://127.0.0.1:9', workspace: 'w2', source: 'environment' })
    const error = await findWorkspaceConfig({ cwd: path.parse(work).root }).catch((e: unknown) => e)
    expect(isWharfError(error, 'CONFIG_NOT_FOUND')).toBe(true)
    expect((error as Error).message).toContain('wharf workspace init')
    const bad = path.join(work, 'bad')
    await mkdir(path.join(bad, '.wharf'), { recursive: true })
    await writeFile(path.join(bad, '.wharf', 'config.json'), '{ nope')
    await expect(findWorkspaceConfig({ cwd: bad })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})

describe('runs through the SDK', () => {
  it('logs every kind of metric and reads them back', async () => {
    const run = await ws.experiment('sdk').startLogging({ outputs: false })
    run.log('simple integer value', 7)
    run.log('simple float value', 3.141592)
    run.log('simple string value', 'this is a string metric')
    run.logList('chart data points', [1, 3, 5, 10, 6, 4])
    run.log('loss', 0.5)
    run.log('loss', NaN)
    run.log('loss', -Infinity)
    run.logRow('table', { epoch: 1, acc: 0.5 })
    run.logTable('table', { epoch: [2, 3], acc: [0.6, 0.7] })
    await run.log('done', true).wait()
    const metrics = await run.getMetrics()
    expect(metrics['simple integer value']).toBe(7)
    expect(metrics['simple string value']).toBe('this is a string metric')
    expect(metrics['chart data points']).toEqual([1, 3, 5, 10, 6, 4])
    expect(metrics.loss).toEqual([0.5, NaN, -Infinity])
    expect(metrics['table/epoch']).toEqual([1, 2, 3])
    expect(metrics['table/acc']).toEqual([0.5, 0.6, 0.7])
    expect(metrics.done).toBe(1)
    expect(() => run.log('', 1)).toThrow(/non-empty/)
    expect(() => run.log('x', {} as unknown as number)).toThrow()
    await run.complete()
    expect(await run.getStatus()).toBe('Completed')
  })

  it('stores images as artifacts and points a metric at them', async () => {
    const run = await ws.experiment('sdk').startLogging({ outputs: false })
    const png = Buffer.from('89504e470d0a1a0a', 'hex')
    const artifact = await run.logImage('confusion matrix', { data: png, mimeType: 'image/png' })
    expect(artifact).toMatchObject({ path: 'images/confusion_matrix.png', contentType: 'image/png', size: 8 })
    expect((await run.getMetrics())['confusion matrix']).toBe('images/confusion_matrix.png')
    await expect(run.logImage('x', { data: png, mimeType: 'text/plain' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await run.complete()
  })

  it('keeps tags mutable and properties add-only', async () => {
    const run = await ws.experiment('sdk').startLogging({ outputs: false })
    await run.tag('quick')
    await run.setTags({ lr: '0.1', owner: 'me' })
    await run.removeTags(['owner'])
    expect(await run.getTags()).toEqual({ quick: '', lr: '0.1' })
    await run.addProperties({ commit: 'abc' })
    await expect(run.addProperties({ commit: 'def' })).rejects.toMatchObject({ code: 'PROPERTY_IMMUTABLE' })
    expect(await run.getProperties()).toEqual({ commit: 'abc' })
    await run.cancel()
    expect((await run.getDetails()).status).toBe('Canceled')
  })

  it('uploads files, folders and outputs with their relative paths, and downloads them verified', async () => {
    const dir = path.join(work, 'files')
    await mkdir(path.join(dir, 'outputs', 'ckpt'), { recursive: true })
    await writeFile(path.join(dir, 'outputs', 'model.bin'), Buffer.alloc(2 * 1024 * 1024, 7))
    await writeFile(path.join(dir, 'outputs', 'ckpt', 'epoch-1.pt'), 'weights')
    await writeFile(path.join(dir, 'notes.txt'), 'hello')
    const run = await ws.experiment('sdk').startLogging({ outputs: path.join(dir, 'outputs') })
    await run.uploadFile('extra/notes.txt', path.join(dir, 'notes.txt'))
    await run.uploadFolder('copy', path.join(dir, 'outputs', 'ckpt'))
    await expect(run.uploadFile('x', path.join(dir, 'missing.txt'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' })
    await expect(run.uploadFolder('y', path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' })
    await run.complete()
    expect(await run.getFileNames()).toEqual([
      'copy/epoch-1.pt',
      'extra/notes.txt',
      'outputs/ckpt/epoch-1.pt',
      'outputs/model.bin',
    ])
    const target = await run.downloadFile('outputs/model.bin', { outputFilePath: path.join(work, 'dl', 'model.bin') })
    const bytes = await readFile(target)
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(
      createHash('sha256')
        .update(Buffer.alloc(2 * 1024 * 1024, 7))
        .digest('hex'),
    )
    const files = await run.downloadFiles({ prefix: 'outputs/', outputDirectory: path.join(work, 'dl2'), appendPrefix: false })
    expect(files.map((f) => path.relative(path.join(work, 'dl2'), f))).toEqual(['ckpt/epoch-1.pt', 'model.bin'])
    // The one rule (it used to overwrite silently): identical files are left alone, a different one is refused unless overwrite.
    const epoch = path.join(work, 'dl2', 'ckpt', 'epoch-1.pt')
    expect(await run.downloadFiles({ prefix: 'outputs/', outputDirectory: path.join(work, 'dl2'), appendPrefix: false })).toEqual(
      files,
    )
    await writeFile(epoch, 'edited')
    const refused = run.downloadFiles({ prefix: 'outputs/', outputDirectory: path.join(work, 'dl2'), appendPrefix: false })
    await expect(refused).rejects.toMatchObject({ code: 'FILE_EXISTS', message: expect.stringContaining(epoch) as unknown })
    expect(await readFile(epoch, 'utf8')).toBe('edited')
    await run.downloadFiles({ prefix: 'outputs/', outputDirectory: path.join(work, 'dl2'), appendPrefix: false, overwrite: true })
    expect(await readFile(epoch, 'utf8')).toBe('weights')
    await expect(
      run.downloadFile('outputs/ckpt/epoch-1.pt', { outputFilePath: path.join(work, 'dl', 'model.bin') }),
    ).rejects.toMatchObject({ code: 'FILE_EXISTS' })
    await expect(run.downloadFile('outputs/none.bin')).rejects.toMatchObject({ code: 'ARTIFACT_NOT_FOUND' })
    await expect(run.uploadFile('late.txt', path.join(dir, 'notes.txt'))).rejects.toMatchObject({ code: 'RUN_FINISHED' })
  })

  it('completes with await using, and records child runs and failures', async () => {
    let id = ''
    {
      await using run = await ws.experiment('sdk').startLogging({ outputs: false })
      id = run.id
      const child = await run.childRun({ name: 'fold-1' })
      child.log('acc', 0.9)
      await child.fail({ error: new Error('diverged') })
      const details = await child.getDetails()
      expect(details).toMatchObject({ status: 'Failed', parentRunId: run.id, displayName: 'fold-1' })
      expect(details.error?.message).toBe('diverged')
      expect((await child.getMetrics()).acc).toBe(0.9)
    }
    expect((await ws.client.getRun(id)).status).toBe('Completed')
  })
})

describe("the server's limits", () => {
  it('are what a run refuses at the call once it has read them, and the defaults before', async () => {
    const small = await startSdkTestServer({ limits: { metricTextLength: 8, metricNameLength: 12 } })
    try {
      const workspace = Workspace.connect({ url: small.url, spoolDir: path.join(work, 'spool-small') })
      // A logger whose client never read the server's health checks against the defaults.
      expect(workspace.client.serverLimits).toBeUndefined()
      const run = await workspace.experiment('limits').startLogging({ outputs: false })
      expect(workspace.client.serverLimits).toMatchObject({ metricTextLength: 8, metricNameLength: 12 })
      // A client for another workspace of the same server knows them too.
      expect(workspace.client.withWorkspace('other').serverLimits).toMatchObject({ metricTextLength: 8 })
      expect(() => run.log('note', 'x'.repeat(9))).toThrow(expect.objectContaining({ code: 'LIMIT_EXCEEDED' }))
      expect(() => run.log('a-name-of-13c', 1)).toThrow(expect.objectContaining({ code: 'LIMIT_EXCEEDED' }))
      await run.log('note', 'x'.repeat(8))
      await run.complete()
    } finally {
      await small.stop()
    }
  })
})
