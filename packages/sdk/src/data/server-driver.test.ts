import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import { toDatastoreKey } from '@wharf/datastores'
import {
  AZURITE_DIFFERENCES,
  describeDatastoreContract,
  startAzurite,
  type AzuriteInstance,
} from '@wharf/datastores/test-support'
import { createServerDriver } from './server-driver.js'
import { startSdkTestServer } from '../test-support/sdk-server.js'

// One server (and one Azurite) for the whole file; each contract case registers a fresh datastore on it.
let contractServer: Promise<{ server: Awaited<ReturnType<typeof startSdkTestServer>>; folders: string }> | undefined
let azurite: Promise<AzuriteInstance> | undefined
let registered = 0

afterAll(async () => {
  const started = await contractServer
  await started?.server.stop()
  if (started) await rm(started.folders, { recursive: true, force: true })
  await (await azurite)?.stop()
})

/** The file's server, started by the first case that needs it, and a fresh datastore name on it. */
async function nextDatastore(): Promise<{ client: WharfClient; name: string; folders: string }> {
  contractServer ??= (async () => {
    const folders = await mkdtemp(path.join(tmpdir(), 'wharf-server-driver-'))
    return { server: await startSdkTestServer({ filesystemRoots: [folders] }), folders }
  })()
  const { server, folders } = await contractServer
  return { client: new WharfClient({ url: server.url }), name: `contract_${++registered}`, folders }
}

describeDatastoreContract('server driver over a folder datastore', async () => {
  const { client, name, folders } = await nextDatastore()
  const folder = path.join(folders, name)
  await client.registerDatastore({ kind: 'filesystem', name, path: folder, createIfNotExists: true })
  return {
    driver: createServerDriver(client, { name, kind: 'filesystem' }),
    async cleanup() {
      await client.unregisterDatastore(name)
      await rm(folder, { recursive: true, force: true })
    },
  }
})

describeDatastoreContract(
  'server driver over an Azure Blob datastore (Azurite)',
  async () => {
    const { client, name } = await nextDatastore()
    const { accountName, accountKey, endpoint } = await (azurite ??= startAzurite())
    // A container of its own per case, which registering creates; Azurite's folder goes when it stops.
    const containerName = name.replace(/_/g, '-')
    await client.registerDatastore({
      kind: 'azure_blob',
      name,
      accountName,
      accountKey,
      endpoint,
      containerName,
      createIfNotExists: true,
    })
    return {
      driver: createServerDriver(client, { name, kind: 'azure_blob' }),
      cleanup: () => client.unregisterDatastore(name),
    }
  },
  AZURITE_DIFFERENCES,
)

// The driver the SDK uses when the bytes must go through the server, against a real server.
describe('server driver', () => {
  let t: Awaited<ReturnType<typeof startSdkTestServer>>
  let driver: ReturnType<typeof createServerDriver>

  beforeAll(async () => {
    t = await startSdkTestServer()
    driver = createServerDriver(new WharfClient({ url: t.url }), { name: 'workspacefilestore', kind: 'filesystem' })
  })
  afterAll(async () => {
    await t?.stop()
  })

  it('stores what it was given and reports its digest', async () => {
    const stored = await driver.put(toDatastoreKey('ok/a.txt'), Readable.from([Buffer.from('alpha')]))
    expect(stored.size).toBe(5)
    expect(await driver.stat(toDatastoreKey('ok/a.txt'))).toMatchObject({ size: 5 })
  })

  it("fails with the body's own error when the body fails midway, storing nothing", async () => {
    const broken = new Error('the disk under the source went away')
    const body = new Readable({ read() {} })
    body.push(Buffer.alloc(64 * 1024, 1))
    setTimeout(() => body.destroy(broken), 50)
    await expect(driver.put(toDatastoreKey('bad/fails.bin'), body)).rejects.toBe(broken)
    expect(await driver.stat(toDatastoreKey('bad/fails.bin'))).toBeUndefined()
  })

  it('fails, rather than waiting forever, when the body closes before its end', async () => {
    const body = new Readable({ read() {} })
    body.push(Buffer.alloc(1024, 2))
    setTimeout(() => body.destroy(), 50)
    await expect(driver.put(toDatastoreKey('bad/closed.bin'), body)).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' })
    expect(await driver.stat(toDatastoreKey('bad/closed.bin'))).toBeUndefined()
  })

  it('resolves a delete of a missing key, as every driver does, though the server answers FILE_NOT_FOUND', async () => {
    await driver.put(toDatastoreKey('del/a.txt'), Readable.from([Buffer.from('a')]))
    await driver.delete(toDatastoreKey('del/a.txt'))
    expect(await driver.stat(toDatastoreKey('del/a.txt'))).toBeUndefined()
    await expect(driver.delete(toDatastoreKey('del/a.txt'))).resolves.toBeUndefined()
  })
})
