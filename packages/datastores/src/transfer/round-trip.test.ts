import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  BlobServiceClient,
  ContainerSASPermissions,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob'
import { createAzureBlobDriver } from '../azure-blob/driver.js'
import type { DatastoreDriver } from '../driver.js'
import { toDatastoreKey } from '../key.js'
import { createS3Driver } from '../s3/driver.js'
import { setStoredMd5, startAzurite, type AzuriteInstance } from '../test-support/azurite.js'
import { bodyOf } from '../test-support/driver-contract.js'
import { startS3rver, type S3rverInstance } from '../test-support/s3rver.js'
import { downloadFiles } from './download.js'
import { listLocalFiles } from './local-files.js'
import { planUploadKeys } from './plan-keys.js'
import { filesBelow, recordingDriver, sha256OfFile, tempFolder, writeFiles, writeGenerated } from './test-support/fixtures.js'
import { uploadFiles } from './upload.js'

let azurite: AzuriteInstance
let s3rver: S3rverInstance

beforeAll(async () => {
  ;[azurite, s3rver] = await Promise.all([startAzurite(), startS3rver()])
})

afterAll(async () => {
  await Promise.all([azurite.stop(), s3rver.stop()])
})

const freshName = (): string => `wharf-${randomBytes(6).toString('hex')}`
const azureService = (): BlobServiceClient =>
  new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey))

/** A driver over fresh, empty storage of each kind; the Azure one signs with a container SAS, as the SDK's direct path does. */
const backends: { name: string; make(): Promise<DatastoreDriver> }[] = [
  {
    name: 'azure_blob (Azurite, SAS)',
    async make() {
      const containerName = freshName()
      await azureService().getContainerClient(containerName).create()
      const sasToken = generateBlobSASQueryParameters(
        { containerName, permissions: ContainerSASPermissions.parse('rcwl'), expiresOn: new Date(Date.now() + 3600_000) },
        new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
      ).toString()
      return createAzureBlobDriver({
        accountName: azurite.accountName,
        containerName,
        credential: { kind: 'sas', sasToken },
        endpoint: azurite.endpoint,
      })
    },
  },
  {
    name: 's3 (s3rver)',
    async make() {
      const driver = createS3Driver({
        bucket: freshName(),
        endpoint: s3rver.endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: s3rver.accessKeyId, secretAccessKey: s3rver.secretAccessKey },
      })
      await driver.validate({ create: true })
      return driver
    },
  },
]

for (const backend of backends) {
  describe(`transfer round trip: ${backend.name}`, () => {
    let driver: DatastoreDriver
    let dir: string
    let remove: () => Promise<void>

    beforeEach(async () => {
      driver = await backend.make()
      ;({ dir, remove } = await tempFolder('round-trip'))
    })

    afterEach(async () => {
      await remove()
    })

    it('uploads a folder and downloads it byte-identical (a large file by ranges), then finds everything unchanged', async () => {
      const src = path.join(dir, 'src')
      const small = Object.fromEntries(
        Array.from({ length: 40 }, (_, i) => [`set/${i % 4}/file-${i}.bin`, randomBytes(100 + i * 37)]),
      )
      await writeFiles(src, { ...small, 'set/empty.txt': '', 'set/ünï cödé.txt': 'text' })
      // Smaller pieces than the defaults keep this quick while still sending ranges out of order (download.test.ts has 40 MiB).
      const pieces = { from: 4 * 1024 * 1024, size: 2 * 1024 * 1024, atOnce: 3 }
      await writeGenerated(path.join(src, 'set', 'big.bin'), { size: 9 * 1024 * 1024 + 1, seed: 9 })
      const files = await listLocalFiles(src)
      const items = planUploadKeys(
        files.map((f) => f.localPath),
        { relativeRoot: src, targetPath: 'run/1' },
      )
      const up = await uploadFiles(driver, items)
      expect(up.failed).toEqual([])
      expect(up.uploaded).toEqual(items.map((i) => i.key))

      const out = path.join(dir, 'out')
      const { driver: recording, recorded } = recordingDriver(driver)
      const down = await downloadFiles(recording, { targetDir: out, prefix: './run/1/', stripPrefix: true, pieces })
      expect(down.failed).toEqual([])
      expect(down.downloaded).toEqual([...items.map((i) => i.key)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))))
      // 9 MiB in 2 MiB ranges: 5, or 6 when the storage keeps an MD5 (checked in order, so the first ranges grow).
      const hashed = (await driver.stat(toDatastoreKey('run/1/set/big.bin')))?.contentMd5 !== undefined
      expect(recorded.gets.filter((g) => g.key === 'run/1/set/big.bin' && g.range !== undefined)).toHaveLength(hashed ? 6 : 5)
      expect(await filesBelow(out)).toEqual(files.map((f) => f.relativePath).sort())
      for (const file of files) {
        expect(await sha256OfFile(path.join(out, ...file.relativePath.split('/'))), file.relativePath).toBe(
          await sha256OfFile(file.localPath),
        )
      }

      const upAgain = await uploadFiles(driver, items)
      expect(upAgain.unchanged).toHaveLength(items.length)
      const downAgain = await downloadFiles(driver, { targetDir: out, prefix: 'run/1', stripPrefix: true })
      expect(downAgain.unchanged).toHaveLength(items.length)
      expect(downAgain.bytes).toBe(0)
    })

    it('skips changed targets both ways unless overwrite is on, and resumes a half-done upload', async () => {
      const src = path.join(dir, 'src')
      await writeFiles(
        src,
        Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${String(i).padStart(2, '0')}.txt`, `version 1 of ${i}`])),
      )
      const items = planUploadKeys((await listLocalFiles(src)).map((f) => f.localPath))
      const half = await uploadFiles(driver, items.slice(0, 6))
      expect(half.uploaded).toHaveLength(6)
      const rest = await uploadFiles(driver, items)
      expect(rest.unchanged).toEqual(items.slice(0, 6).map((i) => i.key))
      expect(rest.uploaded).toEqual(items.slice(6).map((i) => i.key))

      await writeFile(path.join(src, 'f00.txt'), 'version 2 of 0') // same size
      await writeFile(path.join(src, 'f01.txt'), 'a longer version 2 of 1')
      const skipped = await uploadFiles(driver, items)
      expect(skipped.skipped).toEqual(['f00.txt', 'f01.txt'])
      expect(skipped.unchanged).toHaveLength(10)

      const out = path.join(dir, 'out')
      await downloadFiles(driver, { targetDir: out })
      await writeFile(path.join(out, 'f02.txt'), 'changed here') // other size
      await writeFile(path.join(out, 'f03.txt'), 'version 9 of 3') // same size
      const down = await downloadFiles(driver, { targetDir: out })
      expect(down.skipped).toEqual(['f02.txt', 'f03.txt'])
      expect(down.unchanged).toHaveLength(10)

      const overwritten = await uploadFiles(driver, items, { overwrite: true })
      expect(overwritten.overwritten).toEqual(['f00.txt', 'f01.txt'])
      const downOverwritten = await downloadFiles(driver, { targetDir: out, overwrite: true })
      expect(downOverwritten.overwritten).toEqual(['f00.txt', 'f01.txt', 'f02.txt', 'f03.txt'])
      for (const item of items) expect(await sha256OfFile(path.join(out, item.key))).toBe(await sha256OfFile(item.localPath))
    })
  })
}

describe('transfer edge cases only Azure storage can have', () => {
  let dir: string
  let remove: () => Promise<void>
  let containerName: string
  let driver: DatastoreDriver

  beforeEach(async () => {
    ;({ dir, remove } = await tempFolder('azure'))
    containerName = freshName()
    await azureService().getContainerClient(containerName).create()
    driver = createAzureBlobDriver({
      accountName: azurite.accountName,
      containerName,
      credential: { kind: 'key', accountKey: azurite.accountKey },
      endpoint: azurite.endpoint,
    })
  })

  afterEach(async () => {
    await remove()
  })

  it('fails a blob whose content does not match its stored MD5, keeping nothing of it', async () => {
    const container = azureService().getContainerClient(containerName)
    const wrongMd5 = Buffer.alloc(16, 1)
    await container.getBlockBlobClient('bad.txt').upload('content', 7)
    await setStoredMd5(azurite, { containerName, blobName: 'bad.txt', md5: wrongMd5 })
    await driver.put(toDatastoreKey('good.txt'), bodyOf('fine'))
    const result = await downloadFiles(driver, { targetDir: dir })
    expect(result.downloaded).toEqual(['good.txt'])
    expect(result.failed.map((f) => [f.key, f.code])).toEqual([['bad.txt', 'DATASTORE_UNAVAILABLE']])
    expect(result.failed[0]?.message).toMatch(/does not match its stored MD5/)
    expect(await filesBelow(dir)).toEqual(['good.txt'])

    // Told not to verify, the same blob is written as the storage sends it; a large one by ranges, too.
    const big = Buffer.alloc(3 * 1024 * 1024 + 5, 7)
    await container.getBlockBlobClient('big.bin').upload(big, big.length)
    await setStoredMd5(azurite, { containerName, blobName: 'big.bin', md5: wrongMd5 })
    const unverified = await downloadFiles(driver, {
      targetDir: dir,
      verify: false,
      pieces: { from: 1024 * 1024, size: 1024 * 1024 },
    })
    expect(unverified.downloaded).toEqual(['bad.txt', 'big.bin'])
    expect(unverified.unchanged).toEqual(['good.txt'])
    expect(await readFile(path.join(dir, 'bad.txt'), 'utf8')).toBe('content')
    expect((await readFile(path.join(dir, 'big.bin'))).equals(big)).toBe(true)
  })

  it('fails a blob whose name is also a folder of other blobs (a local folder cannot be both)', async () => {
    for (const key of ['clash', 'clash/inner.txt', 'other.txt']) await driver.put(toDatastoreKey(key), bodyOf(key))
    const result = await downloadFiles(driver, { targetDir: dir })
    expect(result.downloaded).toEqual(['clash/inner.txt', 'other.txt'])
    expect(result.failed.map((f) => [f.key, f.code])).toEqual([['clash', 'INVALID_ARGUMENT']])
    expect(await filesBelow(dir)).toEqual(['clash/inner.txt', 'other.txt'])
  })

  it('names no SAS token in a failure', async () => {
    const sasToken = generateBlobSASQueryParameters(
      { containerName, permissions: ContainerSASPermissions.parse('rl'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
    ).toString()
    const readOnly = createAzureBlobDriver({
      accountName: azurite.accountName,
      containerName,
      credential: { kind: 'sas', sasToken },
      endpoint: azurite.endpoint,
    })
    await mkdir(path.join(dir, 'src'))
    const [file] = await writeFiles(path.join(dir, 'src'), { 'x.txt': 'x', 'y.txt': 'y' })
    const result = await uploadFiles(readOnly, [
      { localPath: file!, key: 'x.txt' },
      { localPath: path.join(dir, 'src', 'y.txt'), key: 'y.txt' },
    ])
    expect(result.failed.map((f) => f.code)).toEqual(['FORBIDDEN', 'FORBIDDEN'])
    const signature = new URLSearchParams(sasToken).get('sig') ?? ''
    expect(signature).not.toBe('')
    for (const failure of result.failed) {
      expect(failure.message).not.toContain(signature)
      expect(failure.message).not.toContain(encodeURIComponent(signature))
    }
  })
})
