import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import { toDatastoreKey } from '@wharf/datastores'
import { describeDatastoreContract } from '@wharf/datastores/test-support'
import { createServerDriver } from './server-driver.js'
import { startSdkTestServer } from '../test-support/sdk-server.js'

// One server for the whole file; each contract case gets a fresh folder datastore registered on it.
let contractServer: { server: Awaited<ReturnType<typeof startSdkTestServer>>; folders: string } | undefined
let registered = 0

afterAll(async () => {
  await contractServer?.server.stop()
  if (contractServer) await rm(contractServer.folders, { recursive: true, force: true })
})

describeDatastoreContract('server driver over a folder datastore', async () => {
  if (!contractServer) {
    const folders = await mkdtemp(path.join(tmpdir(), 'wharf-server-driver-'))
    contractServer = { server: await startSdkTestServer({ filesystemRoots: [folders] }), folders }
  }
  const { server, folders } = contractServer
  const client = new WharfClient({ url: server.url })
  const name = `contract_${++registered}`
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
