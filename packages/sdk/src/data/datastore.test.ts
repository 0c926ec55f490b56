import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob'
import { startAzurite, startS3rver, type AzuriteInstance, type S3rverInstance } from '@wharf/datastores/test-support'
import { Datastore } from './datastore.js'
import { createProgressReporter } from './progress.js'
import { startSdkTestServer } from '../test-support/sdk-server.js'
import { Workspace } from '../workspace.js'
import { sha256, treeOf } from '../test-support/file-tree.js'
import { rejectionCodeOf } from '@wharf/contract/test-support'

const md5 = (bytes: Buffer | string) => createHash('md5').update(bytes).digest('base64')

let t: Awaited<ReturnType<typeof startSdkTestServer>>
let azurite: AzuriteInstance
let s3: S3rverInstance
let ws: Workspace
let work: string

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'wharf-sdk-ds-'))
  ;[t, azurite, s3] = await Promise.all([startSdkTestServer({ filesystemRoots: [work] }), startAzurite(), startS3rver()])
  ws = Workspace.connect({ url: t.url, spoolDir: path.join(work, 'spool') })
})
afterAll(async () => {
  await t?.stop()
  await Promise.all([azurite?.stop(), s3?.stop()])
  if (work) await rm(work, { recursive: true, force: true })
})

/** A folder tree with a few files, returned as relative path → content. */
async function makeTree(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [relative, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, relative)), { recursive: true })
    await writeFile(path.join(root, relative), content)
  }
}

const container = () => `c${randomBytes(6).toString('hex')}`

/** Registers `containerName` (a fresh one by default) on Azurite with its account key, creating it if need be. */
const registerAzuriteContainer = (datastoreName: string, containerName = container()): Promise<Datastore> =>
  Datastore.registerAzureBlobContainer({
    workspace: ws,
    datastoreName,
    containerName,
    accountName: azurite.accountName,
    accountKey: azurite.accountKey,
    endpoint: azurite.endpoint,
    createIfNotExists: true,
  })

describe('Datastore registration and lookup', () => {
  it('registers an Azure container, lists it with its kind, and makes and unmakes it the default', async () => {
    const ds = await registerAzuriteContainer('sdk_images')
    expect(ds).toMatchObject({ name: 'sdk_images', kind: 'azure_blob', authType: 'account_key', hasSecret: true })
    expect(JSON.stringify(ds.settings)).not.toContain(azurite.accountKey)

    const all = await ws.datastores()
    expect([...all.keys()]).toEqual(['sdk_images', 'workspaceblobstore', 'workspacefilestore'])
    expect(all.get('workspacefilestore')?.kind).toBe('filesystem')
    expect((await ws.getDefaultDatastore()).name).toBe('workspaceblobstore')

    await ws.setDefaultDatastore('sdk_images')
    expect((await Datastore.getDefault(ws)).name).toBe('sdk_images')
    await (await Datastore.get(ws, 'workspaceblobstore')).setAsDefault()
    expect((await ws.getDefaultDatastore()).isDefault).toBe(true)

    expect(await rejectionCodeOf((await Datastore.get(ws, 'workspaceblobstore')).unregister())).toBe('FORBIDDEN')
    expect(await rejectionCodeOf(Datastore.get(ws, 'nope'))).toBe('DATASTORE_NOT_FOUND')
    expect(await rejectionCodeOf(registerAzuriteContainer('sdk_images'))).toBe('DATASTORE_EXISTS')
  })
})

describe('Datastore registration of the other kinds', () => {
  it('registers an Azure file share with a SAS token (validation skipped: no emulator exists) and an S3 bucket', async () => {
    const share = await Datastore.registerAzureFileShare({
      workspace: ws,
      datastoreName: 'sdk_share',
      fileShareName: 'notebooks',
      accountName: 'wharfaccount',
      sasToken: '?sv=2024-05-04&ss=f&sp=rl&sig=abc%2Fdef',
      protocol: 'https',
      endpoint: 'core.windows.net',
      skipValidation: true,
    })
    expect(share).toMatchObject({
      kind: 'azure_file',
      authType: 'sas',
      hasSecret: true,
      settings: { fileShareName: 'notebooks' },
    })
    expect(JSON.stringify(await Datastore.get(ws, 'sdk_share'))).not.toContain('abc%2Fdef')
  })

  it('unregisters a datastore and leaves its folder and files alone', async () => {
    const folder = path.join(work, 'kept-folder')
    await makeTree(folder, { 'keep.txt': 'still here' })
    const ds = await Datastore.registerFilesystem({ workspace: ws, datastoreName: 'sdk_kept', path: folder })
    await ds.unregister()
    expect(await rejectionCodeOf(Datastore.get(ws, 'sdk_kept'))).toBe('DATASTORE_NOT_FOUND')
    expect(await readFile(path.join(folder, 'keep.txt'), 'utf8')).toBe('still here')
  })
})

describe('upload and download straight to Azure (server-signed SAS)', () => {
  let ds: Datastore
  let containerName: string
  const src = () => path.join(work, 'azure-src')

  beforeAll(async () => {
    containerName = container()
    ds = await registerAzuriteContainer('sdk_azure', containerName)
    await makeTree(src(), { 'a.txt': 'alpha', 'sub/b.csv': 'x,y\n1,2\n', 'sub/deep/c.bin': randomBytes(300_000) })
  })

  it('uploads a tree under targetPath with Content-MD5 on every blob', async () => {
    const result = await ds.upload({ srcDir: src(), targetPath: 'train', showProgress: false })
    expect(result.uploaded.sort()).toEqual(['train/a.txt', 'train/sub/b.csv', 'train/sub/deep/c.bin'])
    expect(result.failed).toEqual([])
    const service = new BlobServiceClient(
      azurite.endpoint,
      new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
    )
    const props = await service.getContainerClient(containerName).getBlobClient('train/a.txt').getProperties()
    expect(Buffer.from(props.contentMD5 ?? new Uint8Array()).toString('base64')).toBe(md5('alpha'))
  })

  it('skips identical files, reports different ones as skipped unless overwrite', async () => {
    const again = await ds.upload({ srcDir: src(), targetPath: 'train', showProgress: false })
    expect(again.uploaded).toEqual([])
    expect(again.unchanged.sort()).toEqual(['train/a.txt', 'train/sub/b.csv', 'train/sub/deep/c.bin'])
    await writeFile(path.join(src(), 'a.txt'), 'ALPHA changed')
    const skipped = await ds.upload({ srcDir: src(), targetPath: 'train', showProgress: false })
    expect(skipped.skipped).toEqual(['train/a.txt'])
    const overwritten = await ds.upload({ srcDir: src(), targetPath: 'train', overwrite: true, showProgress: false })
    expect(overwritten.overwritten).toEqual(['train/a.txt'])
    expect(overwritten.unchanged).toHaveLength(2)
  })

  it('uploads chosen files relative to a root, and refuses a root that is not common to them', async () => {
    const files = [path.join(src(), 'sub', 'b.csv'), path.join(src(), 'sub', 'deep', 'c.bin')]
    const result = await ds.uploadFiles({
      files,
      relativeRoot: path.join(src(), 'sub'),
      targetPath: 'picked',
      showProgress: false,
    })
    expect(result.uploaded.sort()).toEqual(['picked/b.csv', 'picked/deep/c.bin'])
    expect(
      await rejectionCodeOf(ds.uploadFiles({ files, relativeRoot: path.join(src(), 'sub', 'deep'), showProgress: false })),
    ).toBe('INVALID_ARGUMENT')
  })

  it('downloads a prefix keeping full paths (returns the count), or stripped, and leaves identical files alone', async () => {
    const target = path.join(work, 'azure-down')
    expect(await ds.download({ targetPath: target, prefix: 'train/sub', showProgress: false })).toBe(2)
    const tree = await treeOf(target)
    expect(Object.keys(tree).sort()).toEqual(['train/sub/b.csv', 'train/sub/deep/c.bin'])
    expect(tree['train/sub/deep/c.bin']).toBe(sha256(await readFile(path.join(src(), 'sub', 'deep', 'c.bin'))))
    expect(await ds.download({ targetPath: target, prefix: 'train/sub', showProgress: false })).toBe(0)

    const stripped = path.join(work, 'azure-stripped')
    const result = await ds.downloadFiles({ targetPath: stripped, prefix: './train/', stripPrefix: true, showProgress: false })
    expect(result.downloaded.sort()).toEqual(['train/a.txt', 'train/sub/b.csv', 'train/sub/deep/c.bin'])
    expect(Object.keys(await treeOf(stripped)).sort()).toEqual(['a.txt', 'sub/b.csv', 'sub/deep/c.bin'])

    await writeFile(path.join(stripped, 'a.txt'), 'local edit')
    const again = await ds.downloadFiles({ targetPath: stripped, prefix: 'train/', stripPrefix: true, showProgress: false })
    expect(again.skipped).toEqual(['train/a.txt'])
    expect(await readFile(path.join(stripped, 'a.txt'), 'utf8')).toBe('local edit')
  })

  it('lists files with their MD5', async () => {
    const files = []
    for await (const file of ds.list({ prefix: 'picked/' })) files.push(file)
    expect(files.map((f) => f.path)).toEqual(['picked/b.csv', 'picked/deep/c.bin'])
    expect(files[0]?.contentMd5).toBe(md5('x,y\n1,2\n'))
  })
})

describe('upload and download through the server (S3) and straight to a shared folder', () => {
  it('round-trips a tree through an S3 bucket byte for byte', async () => {
    const ds = await Datastore.registerS3Bucket({
      workspace: ws,
      datastoreName: 'sdk_s3',
      bucket: 'sdk-bucket',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      createIfNotExists: true,
    })
    const src = path.join(work, 's3-src')
    await makeTree(src, { 'one.txt': 'one', 'nested/two.bin': randomBytes(1_500_000) })
    const up = await ds.upload({ srcDir: src, showProgress: false })
    expect(up.uploaded.sort()).toEqual(['nested/two.bin', 'one.txt'])
    const target = path.join(work, 's3-down')
    expect(await ds.download({ targetPath: target, showProgress: false })).toBe(2)
    expect(await treeOf(target)).toEqual(await treeOf(src))
    const again = await ds.upload({ srcDir: src, showProgress: false })
    expect(again.unchanged.sort()).toEqual(['nested/two.bin', 'one.txt'])
  })

  it('writes straight into a filesystem datastore this machine shares with the server', async () => {
    const folder = path.join(work, 'shared-folder')
    const ds = await Datastore.registerFilesystem({
      workspace: ws,
      datastoreName: 'sdk_folder',
      path: folder,
      createIfNotExists: true,
    })
    const src = path.join(work, 'fs-src')
    await makeTree(src, { 'x/y.txt': 'why' })
    const result = await ds.upload({ srcDir: src, targetPath: 'in', showProgress: false })
    expect(result.uploaded).toEqual(['in/x/y.txt'])
    expect(await readFile(path.join(folder, 'in', 'x', 'y.txt'), 'utf8')).toBe('why')
  })
})

describe('progress output', () => {
  it('prints the counts and the names of skipped and failed files when the stream is not a terminal', () => {
    let text = ''
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString()
        done()
      },
    }) as unknown as NodeJS.WriteStream
    const reporter = createProgressReporter({ title: 'Uploading x', verb: 'uploaded', stream })
    reporter.onProgress({ filesTotal: 4, filesDone: 0, bytesTotal: 2048, bytesDone: 0, skipped: 0, failed: 0 })
    reporter.finish({
      transferred: ['a', 'b'],
      overwritten: [],
      unchanged: ['c'],
      skipped: ['d.txt'],
      failed: [{ key: 'e.bin', localPath: '/tmp/e.bin', code: 'FILE_NOT_FOUND', message: 'gone' }],
      bytes: 2048,
    })
    expect(text).toContain('Uploading x: 4 files, 2.0 KiB\n')
    expect(text).toContain('2 uploaded, 1 unchanged, 1 skipped, 1 failed (2.0 KiB')
    expect(text).toContain('pass overwrite: true to replace them): d.txt')
    expect(text).toContain('failed: e.bin: gone [FILE_NOT_FOUND]')
  })
})
