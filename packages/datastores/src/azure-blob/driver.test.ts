import { randomBytes } from 'node:crypto'
import { inspect } from 'node:util'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  BlobServiceClient,
  ContainerSASPermissions,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  type ContainerClient,
} from '@azure/storage-blob'
import { isWharfError } from '@wharf/contract'
import { toDatastoreKey } from '../key.js'
import { AZURITE_DIFFERENCES, startAzurite, type AzuriteInstance } from '../test-support/azurite.js'
import { bodyOf, describeDatastoreContract, keysOf, readAll } from '../test-support/driver-contract.js'
import { reachableText } from '../test-support/reachable.js'
import { createAzureBlobDriver } from './driver.js'

const key = toDatastoreKey
let azurite: Promise<AzuriteInstance> | undefined
const emulator = async (): Promise<AzuriteInstance> => (azurite ??= startAzurite())
const freshName = (): string => `wharf-${randomBytes(8).toString('hex')}`

afterAll(async () => {
  await (await azurite)?.stop()
})

function serviceOf(instance: AzuriteInstance): BlobServiceClient {
  return new BlobServiceClient(instance.endpoint, new StorageSharedKeyCredential(instance.accountName, instance.accountKey))
}

// Each test gets a container that does not exist yet: the suite's validate({ create: true }) makes it.
describeDatastoreContract(
  'azure_blob (Azurite)',
  async () => {
    const instance = await emulator()
    const containerName = freshName()
    return {
      driver: createAzureBlobDriver({
        accountName: instance.accountName,
        containerName,
        credential: { kind: 'key', accountKey: instance.accountKey },
        endpoint: instance.endpoint,
      }),
      cleanup: async () => {
        await serviceOf(instance).getContainerClient(containerName).deleteIfExists()
      },
    }
  },
  AZURITE_DIFFERENCES,
)

describe('azure_blob driver', () => {
  let instance: AzuriteInstance
  let containerName: string
  let container: ContainerClient

  beforeAll(async () => {
    instance = await emulator()
  })

  beforeEach(async () => {
    containerName = freshName()
    container = serviceOf(instance).getContainerClient(containerName)
    await container.create()
  })

  afterEach(async () => {
    await container.deleteIfExists()
  })

  const withKey = (accountKey: string): ReturnType<typeof createAzureBlobDriver> =>
    createAzureBlobDriver({
      accountName: instance.accountName,
      containerName,
      credential: { kind: 'key', accountKey },
      endpoint: instance.endpoint,
    })

  it('sets Content-MD5 (and the content type) on what it uploads, small and block-staged alike', async () => {
    const driver = withKey(instance.accountKey)
    const small = await driver.put(key('small.txt'), bodyOf('hello'), { contentType: 'text/plain' })
    const big = Buffer.alloc(9 * 1024 * 1024 + 7, 5)
    const large = await driver.put(key('large.bin'), bodyOf(big.subarray(0, 1000), big.subarray(1000)), {
      contentType: 'application/x-test',
    })
    for (const [name, stored, type] of [
      ['small.txt', small, 'text/plain'],
      ['large.bin', large, 'application/x-test'],
    ] as const) {
      const properties = await container.getBlobClient(name).getProperties()
      expect(Buffer.from(properties.contentMD5 ?? new Uint8Array()).toString('base64'), name).toBe(stored.md5)
      expect(properties.contentType, name).toBe(type)
      expect((await driver.stat(key(name)))?.contentMd5, name).toBe(stored.md5)
    }
    const listed = []
    for await (const info of driver.list()) listed.push(info)
    expect(listed.map((i) => i.contentMd5)).toEqual([large.md5, small.md5])
    const blocks = await container.getBlockBlobClient('large.bin').getBlockList('committed')
    expect(blocks.committedBlocks?.length).toBe(3)
  })

  it('refuses a wrong account key with FORBIDDEN naming account and container, and the key appears nowhere', async () => {
    const wrongKey = randomBytes(64).toString('base64')
    const driver = withKey(wrongKey)
    for (const action of [
      () => driver.validate(),
      () => driver.validate({ create: true }),
      () => driver.put(key('x'), bodyOf('x')),
    ]) {
      const error: unknown = await action().catch((e: unknown) => e)
      expect(isWharfError(error, 'FORBIDDEN')).toBe(true)
      if (!isWharfError(error)) return
      expect(error.message).toContain(instance.accountName)
      expect(error.message).toContain(containerName)
      expect(error.message).toContain(`the storage account "${instance.accountName}" refused the account key`)
      expect(error.message).toContain('check --account-key / AZURE_STORAGE_KEY')
      // A registration form shows the refusal at the credential's field.
      expect(error.details?.field).toBe('accountKey')
      const seen = [
        error.message,
        JSON.stringify(error.details),
        (error.cause as Error | undefined)?.message ?? '',
        inspect(error, { depth: 6 }),
      ]
      for (const text of seen) expect(text).not.toContain(wrongKey)
    }
  })

  it('works with a container SAS, and a SAS that does not allow writing is refused without showing the token', async () => {
    const credential = new StorageSharedKeyCredential(instance.accountName, instance.accountKey)
    const sasFor = (permissions: string): string =>
      generateBlobSASQueryParameters(
        { containerName, permissions: ContainerSASPermissions.parse(permissions), expiresOn: new Date(Date.now() + 3600_000) },
        credential,
      ).toString()
    const driver = createAzureBlobDriver({
      accountName: instance.accountName,
      containerName,
      credential: { kind: 'sas', sasToken: sasFor('racwdl') },
      endpoint: instance.endpoint,
    })
    await driver.validate()
    await driver.put(key('via/sas.txt'), bodyOf('signed'))
    expect((await readAll(await driver.get(key('via/sas.txt')))).toString()).toBe('signed')
    expect(await keysOf(driver)).toEqual(['via/sas.txt'])
    await driver.delete(key('via/sas.txt'))
    expect(await driver.stat(key('via/sas.txt'))).toBeUndefined()

    const readOnlySas = sasFor('rl')
    const readOnly = createAzureBlobDriver({
      accountName: instance.accountName,
      containerName,
      credential: { kind: 'sas', sasToken: `?${readOnlySas}` },
      endpoint: instance.endpoint,
    })
    await readOnly.validate()
    const error: unknown = await readOnly.put(key('no.txt'), bodyOf('x')).catch((e: unknown) => e)
    expect(isWharfError(error, 'FORBIDDEN')).toBe(true)
    const signature = new URLSearchParams(readOnlySas).get('sig') ?? ''
    expect(signature).not.toBe('')
    // Not in the message, the details or anything hanging off the error, hidden properties included.
    const text = reachableText(error)
    expect(text).toContain('refused the SAS token')
    expect(text).not.toContain(signature)
    expect(text).not.toContain(encodeURIComponent(signature))
  })

  it('names a missing container as DATASTORE_UNAVAILABLE unless validate creates it', async () => {
    const driver = createAzureBlobDriver({
      accountName: instance.accountName,
      containerName: freshName(),
      credential: { kind: 'key', accountKey: instance.accountKey },
      endpoint: instance.endpoint,
    })
    const error: unknown = await driver.validate().catch((e: unknown) => e)
    expect(isWharfError(error, 'DATASTORE_UNAVAILABLE')).toBe(true)
    expect((error as Error).message).toMatch(/does not exist/)
    await driver.validate({ create: true })
    await driver.validate()
  })

  it('skips blobs whose names no key can have (folder markers, reserved names)', async () => {
    await container.getBlockBlobClient('dir/').upload('', 0)
    await container.getBlockBlobClient('.wharf-tmp-x').upload('x', 1)
    await container.getBlockBlobClient('fine.txt').upload('y', 1)
    expect(await keysOf(withKey(instance.accountKey))).toEqual(['fine.txt'])
  })
})
