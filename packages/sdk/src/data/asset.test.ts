import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejectionOf } from '@wharf/contract/test-support'
import { Asset } from './asset.js'
import { Workspace } from '../workspace.js'
import { runScript, startSdkTestServer } from '../test-support/sdk-server.js'

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex')

let t: Awaited<ReturnType<typeof startSdkTestServer>>
let ws: Workspace
let work: string

beforeAll(async () => {
  t = await startSdkTestServer()
  work = await mkdtemp(path.join(tmpdir(), 'wharf-sdk-asset-'))
  ws = Workspace.connect({ url: t.url, spoolDir: path.join(work, 'spool') })
})
async function writeTemp(name: string, content: string): Promise<string> {
  const file = path.join(work, name)
  await writeFile(file, content)
  return file
}

afterAll(async () => {
  await t?.stop()
  await rm(work, { recursive: true, force: true })
})

describe('run.registerModel', () => {
  it('uploads the outputs of a live run first, accepts a path relative to outputs/, and leaves complete() working', async () => {
    const outputs = path.join(work, 'live-outputs')
    await mkdir(path.join(outputs, 'clf'), { recursive: true })
    const model = randomBytes(70_000)
    await writeFile(path.join(outputs, 'model.pkl'), model)
    await writeFile(path.join(outputs, 'clf', 'weights.bin'), 'w')
    await writeFile(path.join(outputs, 'clf', 'config.json'), '{}')
    const run = await ws.experiment('register').startLogging({ outputs })
    run.log('accuracy', 0.91)

    const first = await run.registerModel({
      modelName: 'sdk-model',
      modelPath: 'model.pkl',
      description: 'from a live run',
      tags: { fw: 'none' },
    })
    expect(first).toMatchObject({
      name: 'sdk-model',
      version: 1,
      sourceRunId: run.id,
      artifactPath: 'outputs/model.pkl',
      copied: true,
      description: 'from a live run',
      tags: { fw: 'none' },
    })
    expect(first.files.map((f) => [f.path, f.size, f.sha256])).toEqual([['model.pkl', model.length, sha256(model)]])
    expect((await run.getMetrics()).accuracy).toBe(0.91)

    // modelPath defaults to modelName, found under outputs/.
    const folder = await run.registerModel({ modelName: 'clf' })
    expect(folder.artifactPath).toBe('outputs/clf')
    expect(folder.files.map((f) => f.path)).toEqual(['clf/config.json', 'clf/weights.bin'])

    await writeFile(path.join(outputs, 'late.txt'), 'written after registering')
    expect((await run.complete()).status).toBe('Completed')
    expect((await run.getFileNames()).sort()).toEqual([
      'outputs/clf/config.json',
      'outputs/clf/weights.bin',
      'outputs/late.txt',
      'outputs/model.pkl',
    ])

    const second = await run.registerModel({ modelName: 'sdk-model', modelPath: 'outputs/model.pkl', aliases: ['candidate'] })
    expect(second).toMatchObject({ version: 2, copied: false, artifactPath: 'outputs/model.pkl' })
    expect(second.files[0]?.sha256).toBe(sha256(model))
    expect((await Asset.get(ws, 'sdk-model', { version: 'candidate' })).info.version).toBe(2)

    // An alias that reads as a version is refused before anything is registered.
    const refused = await rejectionOf(run.registerModel({ modelName: 'sdk-model', modelPath: 'model.pkl', aliases: ['v3'] }))
    expect(refused.code).toBe('INVALID_ARGUMENT')
    expect((await ws.client.getAssetVersion('sdk-model', 'latest')).version).toBe(2)
  })

  it('says ARTIFACT_NOT_FOUND naming both paths it tried, and INVALID_ARGUMENT for a bad name', async () => {
    const run = await ws.experiment('register').startLogging({ outputs: false })
    await writeFile(path.join(work, 'real.pkl'), 'r')
    await run.uploadFile('outputs/real.pkl', path.join(work, 'real.pkl'))
    const missing = await rejectionOf(run.registerModel({ modelName: 'nope', modelPath: 'model.pkl' }))
    expect(missing.code).toBe('ARTIFACT_NOT_FOUND')
    expect(missing.message).toContain('"model.pkl" or "outputs/model.pkl"')
    expect(missing.message).toContain(`wharf history info -r ${run.id}`)
    // `outputs/real` is only a string prefix of `outputs/real.pkl`.
    expect((await rejectionOf(run.registerModel({ modelName: 'real' }))).code).toBe('ARTIFACT_NOT_FOUND')
    expect((await rejectionOf(run.registerModel({ modelName: 'bad name', modelPath: 'real.pkl' }))).code).toBe('INVALID_ARGUMENT')
    expect((await run.registerModel({ modelName: 'real', modelPath: 'real.pkl' })).artifactPath).toBe('outputs/real.pkl')
    await run.complete()
  })

  it('finds a model a script wrote to outputs/ moments before registering it (the Azure register_model bug)', async () => {
    const cwd = await mkdtemp(path.join(work, 'script-'))
    const result = await runScript({
      cwd,
      env: { WHARF_TRACKING_URI: t.url, WHARF_EXPERIMENT: 'script-register', WHARF_HOME: path.join(cwd, 'home') },
      source: `
import { mkdirSync, writeFileSync } from 'node:fs'
import { Run } from '@wharf/sdk'
const run = await Run.getContext()
mkdirSync('outputs', { recursive: true })
writeFileSync('outputs/model.pkl', 'trained weights')
const version = await run.registerModel({ modelName: 'script-model', modelPath: 'model.pkl' })
console.log(JSON.stringify({ version: version.version, runId: run.id }))
`,
    })
    expect(result.stderr).not.toMatch(/Error/)
    expect(result.code).toBe(0)
    const { version, runId } = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { version: number; runId: string }
    expect(version).toBe(1)
    const asset = await Asset.get(ws, 'script-model')
    expect(asset.info).toMatchObject({ sourceRunId: runId, copied: true })
    expect(asset.files[0]?.sha256).toBe(sha256('trained weights'))
    expect((await ws.client.getRun(runId)).status).toBe('Completed')
  })
})

describe('Asset', () => {
  it('gets the latest or a given version, lists assets, and downloads verified files', async () => {
    const run = await ws.experiment('assets').startLogging({ outputs: false })
    const src = path.join(work, 'ckpt')
    await mkdir(path.join(src, 'sub'), { recursive: true })
    const big = randomBytes(300_000)
    await writeFile(path.join(src, 'a.pt'), big)
    await writeFile(path.join(src, 'sub', 'b.pt'), 'b')
    await run.uploadFolder('outputs/ckpt', src)
    await run.complete()
    await ws.client.promoteAsset({ name: 'ckpt', runId: run.id, artifactPath: 'outputs/ckpt' })
    await ws.client.promoteAsset({ name: 'ckpt', runId: run.id, artifactPath: 'outputs/ckpt/sub', description: 'just b' })

    const latest = await Asset.get(ws, 'ckpt')
    expect([latest.name, latest.version, latest.info.description]).toEqual(['ckpt', 2, 'just b'])
    const first = await Asset.get(ws, 'ckpt', { version: 1 })
    expect(first.files.map((f) => f.path)).toEqual(['ckpt/a.pt', 'ckpt/sub/b.pt'])
    const names: string[] = []
    for await (const summary of Asset.list(ws)) names.push(summary.name)
    expect(names).toContain('ckpt')

    const target = path.join(work, 'download')
    const written = await first.download({ targetDir: target })
    expect(written).toEqual([path.join(target, 'ckpt', 'a.pt'), path.join(target, 'ckpt', 'sub', 'b.pt')])
    expect(sha256(await readFile(path.join(target, 'ckpt', 'a.pt')))).toBe(sha256(big))
    expect(await readFile(path.join(target, 'ckpt', 'sub', 'b.pt'), 'utf8')).toBe('b')

    // The one rule: identical files are left alone, a different one is refused unless overwrite.
    expect(await first.download({ targetDir: target })).toEqual(written)
    await writeFile(path.join(target, 'ckpt', 'sub', 'b.pt'), 'local edit')
    const refused = await rejectionOf(first.download({ targetDir: target }))
    expect(refused.code).toBe('FILE_EXISTS')
    expect(refused.message).toContain(path.join(target, 'ckpt', 'sub', 'b.pt'))
    expect(refused.message).toContain('overwrite: true')
    expect(await readFile(path.join(target, 'ckpt', 'sub', 'b.pt'), 'utf8')).toBe('local edit')
    await first.download({ targetDir: target, overwrite: true })
    expect(await readFile(path.join(target, 'ckpt', 'sub', 'b.pt'), 'utf8')).toBe('b')
  })

  it('adds, replaces and removes tags and sets the description, keeping the answer in info; files never change', async () => {
    const run = await ws.experiment('assets').startLogging({ outputs: false })
    await run.uploadFile('outputs/editable.bin', await writeTemp('editable.bin', 'e'))
    await run.complete()
    await ws.client.promoteAsset({ name: 'editable', runId: run.id, artifactPath: 'outputs/editable.bin', tags: { owner: 'a' } })
    await ws.client.promoteAsset({ name: 'editable', runId: run.id, artifactPath: 'outputs/editable.bin' })
    await ws.client.setAssetAlias({ name: 'editable', alias: 'current', version: 1 })

    const asset = await Asset.get(ws, 'editable', { version: 'current' })
    const files = asset.files
    const added = await asset.addTags({ stage: 'dev', score: '0.9' })
    expect(added.tags).toEqual({ owner: 'a', stage: 'dev', score: '0.9' })
    expect(asset.info).toEqual(added)
    expect(asset.tags).toEqual(added.tags)
    await asset.removeTags(['score', 'not-there'])
    expect(asset.tags).toEqual({ owner: 'a', stage: 'dev' })
    // update merges: a key given is replaced, the others stay.
    await asset.update({ description: 'validated', tags: { stage: 'approved' } })
    expect([asset.description, asset.tags]).toEqual(['validated', { owner: 'a', stage: 'approved' }])
    expect(asset.files).toEqual(files)
    expect(await ws.client.getAssetVersion('editable', 1)).toEqual(asset.info)

    // The handle edits the version it holds, not where its alias points now.
    await ws.client.setAssetAlias({ name: 'editable', alias: 'current', version: 2 })
    await asset.update({ description: 'still version 1' })
    expect([asset.version, (await ws.client.getAssetVersion('editable', 1)).description]).toEqual([1, 'still version 1'])
    expect((await ws.client.getAssetVersion('editable', 2)).description).toBe('')

    const tooMany = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 'v']))
    expect((await rejectionOf(asset.addTags(tooMany))).code).toBe('LIMIT_EXCEEDED')
    expect(asset.tags).toEqual({ owner: 'a', stage: 'approved' })
    const gone = new Asset(ws, { ...asset.info, version: 99 })
    expect((await rejectionOf(gone.addTags({ a: 'b' }))).code).toBe('ASSET_NOT_FOUND')
  })

  it('keeps nothing of a file that arrives damaged, and says ASSET_NOT_FOUND for unknown assets', async () => {
    const asset = await Asset.get(ws, 'ckpt', { version: 1 })
    const tampered = new Asset(ws, { ...asset.info, files: asset.files.map((f) => ({ ...f, sha256: '0'.repeat(64) })) })
    const target = path.join(work, 'damaged')
    const error = await rejectionOf(tampered.download({ targetDir: target }))
    expect(error.message).toContain('arrived damaged')
    const left = await readdir(target, { recursive: true }).catch(() => [])
    expect(left.filter((f) => String(f).endsWith('.pt') || String(f).includes('wharf-partial'))).toEqual([])
    expect((await rejectionOf(Asset.get(ws, 'no-such-asset'))).code).toBe('ASSET_NOT_FOUND')
    expect((await rejectionOf(Asset.get(ws, 'ckpt', { version: 99 }))).code).toBe('ASSET_NOT_FOUND')
  })
})
