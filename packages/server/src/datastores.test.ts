import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  StorageSharedKeyCredential,
  generateAccountSASQueryParameters,
} from '@azure/storage-blob'
import { WharfClient } from '@wharf/client'
import { isWharfError, type Datastore } from '@wharf/contract'
import {
  putBlobWithRawName,
  startAzurite,
  startS3rver,
  type AzuriteInstance,
  type S3rverInstance,
} from '@wharf/datastores/test-support'
import { errorCodeOf, rejectionOf } from '@wharf/contract/test-support'
import { startTestServer, type TestServer } from './test-support/test-server.js'
import { useAzuriteBlobServer } from './test-support/use-azurite-server.js'

const fresh = (): string => `c${randomBytes(6).toString('hex')}`

describe('datastores over HTTP (SQLite, Azurite, s3rver)', () => {
  let azurite: AzuriteInstance
  let s3: S3rverInstance
  let t: TestServer
  let client: WharfClient
  let scratch: string
  /** Every response body the tests received, to look for secrets in. */
  const responses: string[] = []
  // A secret key of our own (s3rver accepts any with anySecret), so a leak cannot hide behind "S3RVER".
  const s3Secret = `wharf-s3-secret-${randomBytes(12).toString('hex')}`
  let sasToken: string

  const recordingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init)
    const type = response.headers.get('content-type') ?? ''
    if (type.includes('json')) responses.push(await response.clone().text())
    return response
  }

  beforeAll(async () => {
    ;[azurite, s3] = await Promise.all([startAzurite(), startS3rver({ anySecret: true })])
    scratch = await mkdtemp(path.join(tmpdir(), 'wharf-ds-test-'))
    t = await startTestServer('sqlite', { config: { logRequests: true, filesystemRoots: [scratch] } })
    client = new WharfClient({ url: t.url, fetch: recordingFetch })
    sasToken = generateAccountSASQueryParameters(
      {
        expiresOn: new Date(Date.now() + 3600_000),
        permissions: AccountSASPermissions.parse('rwdlacup'),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
        services: AccountSASServices.parse('b').toString(),
      },
      new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
    ).toString()
  })

  afterAll(async () => {
    await t?.stop()
    await Promise.all([azurite?.stop(), s3?.stop()])
    if (scratch) await rm(scratch, { recursive: true, force: true })
  })

  const blob = (name: string, extra: Record<string, unknown> = {}) => ({
    kind: 'azure_blob' as const,
    name,
    accountName: azurite.accountName,
    endpoint: azurite.endpoint,
    containerName: fresh(),
    accountKey: azurite.accountKey,
    createIfNotExists: true,
    ...extra,
  })

  describe('registration', () => {
    it('registers an Azure container, creating it, and never shows the key', async () => {
      const view = await client.registerDatastore(blob('images'))
      expect(view).toMatchObject({
        name: 'images',
        kind: 'azure_blob',
        authType: 'account_key',
        hasSecret: true,
        isDefault: false,
      })
      expect(view.settings).toMatchObject({ accountName: 'devstoreaccount1', serviceUrl: azurite.endpoint })
      expect(JSON.stringify(view)).not.toContain(azurite.accountKey)
      const names = (await client.listDatastores()).map((d) => d.name)
      expect(names).toEqual(['images', 'workspaceblobstore', 'workspacefilestore'])
    })

    it('refuses the same name again unless overwrite, which rotates to a SAS token', async () => {
      const request = blob('rotating')
      await client.registerDatastore(request)
      expect(await errorCodeOf(client.registerDatastore(request))).toBe('DATASTORE_EXISTS')
      const { accountKey: _key, ...withoutKey } = request
      const rotated = await client.registerDatastore({ ...withoutKey, sasToken, overwrite: true })
      expect(rotated.authType).toBe('sas')
      const first = await client.getDatastore('rotating')
      expect(first.createdAt <= rotated.updatedAt).toBe(true)
    })

    it('validates: a wrong key is FORBIDDEN, a missing container UNAVAILABLE, and nothing is registered', async () => {
      const wrongKey = Buffer.from(randomBytes(64)).toString('base64')
      expect(await errorCodeOf(client.registerDatastore(blob('wrongkey', { accountKey: wrongKey })))).toBe('FORBIDDEN')
      expect(await errorCodeOf(client.registerDatastore(blob('nocontainer', { createIfNotExists: false })))).toBe(
        'DATASTORE_UNAVAILABLE',
      )
      const names = (await client.listDatastores()).map((d) => d.name)
      expect(names).not.toContain('wrongkey')
      expect(names).not.toContain('nocontainer')
      // skipValidation registers storage the server cannot check now (behind a firewall).
      const skipped = await client.registerDatastore(blob('later', { createIfNotExists: false, skipValidation: true }))
      expect(skipped.name).toBe('later')
    })

    it('says the account refused the key (or the SAS token), and names where it is set; never "could not reach"', async () => {
      const wrongKey = Buffer.from(randomBytes(64)).toString('base64')
      const byKey = await rejectionOf(client.registerDatastore(blob('refusedkey', { accountKey: wrongKey })))
      expect(byKey.code).toBe('FORBIDDEN')
      expect(byKey.message).toContain(`the storage account "${azurite.accountName}" refused the account key`)
      expect(byKey.message).toContain('check --account-key / AZURE_STORAGE_KEY')
      expect(byKey.message).not.toMatch(/reach/)
      expect(byKey.message).not.toContain(wrongKey)
      const wrongSas = sasToken.replace(/sig=[^&]+/, `sig=${encodeURIComponent(Buffer.from(randomBytes(32)).toString('base64'))}`)
      const bySas = await rejectionOf(
        client.registerDatastore(blob('refusedsas', { accountKey: undefined, sasToken: wrongSas, createIfNotExists: false })),
      )
      expect(bySas.code).toBe('FORBIDDEN')
      expect(bySas.message).toContain(`the storage account "${azurite.accountName}" refused the SAS token`)
      expect(bySas.message).toContain('--sas-token / AZURE_STORAGE_SAS_TOKEN')
      expect(bySas.message).not.toMatch(/reach/)
    })

    it('says it could not reach storage at a port nobody listens on', async () => {
      const closed = await new Promise<number>((resolve) => {
        const probe = createServer().listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as AddressInfo
          probe.close(() => resolve(port))
        })
      })
      const endpoint = `http://127.0.0.1:${closed}/${azurite.accountName}`
      const unreachable = await rejectionOf(client.registerDatastore(blob('unreachable', { endpoint })))
      expect(unreachable.code).toBe('DATASTORE_UNAVAILABLE')
      expect(unreachable.message).toContain(`could not reach the Azure Blob container`)
      expect(unreachable.message).toContain(`at ${endpoint}`)
      expect(unreachable.message).toContain('ECONNREFUSED')
      expect((await client.listDatastores()).map((d) => d.name)).not.toContain('unreachable')
    })

    it('answers bad input with INVALID_ARGUMENT naming the field', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [blob('Upper'), 'datastore name'],
        [blob('has-hyphen'), 'datastore name'],
        [blob('nocreds', { accountKey: undefined }), 'accountKey'],
        [blob('both', { sasToken }), 'not both'],
        [blob('badcontainer', { containerName: 'Bad_Name' }), 'container name'],
        [{ kind: 'filesystem', name: 'relative', path: 'data/here' }, 'absolute'],
        [{ kind: 's3', name: 'nos3key', bucket: 'bucket-a', endpoint: s3.endpoint, accessKeyId: 'S3RVER' }, 'secretAccessKey'],
        [{ kind: 'ftp', name: 'what', path: '/x' }, 'kind'],
      ]
      for (const [body, mention] of cases) {
        const response = await fetch(`${t.url}/api/v1/workspaces/default/datastores`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
        const text = await response.text()
        responses.push(text)
        expect(response.status, text).toBe(400)
        const error = (JSON.parse(text) as { error: { code: string; message: string } }).error
        expect(error.code).toBe('INVALID_ARGUMENT')
        expect(error.message + JSON.stringify(error)).toContain(mention)
      }
    })

    it('registers a folder, creating it when asked, and refuses a missing one otherwise', async () => {
      const folder = path.join(scratch, 'folder-ds')
      expect(await errorCodeOf(client.registerDatastore({ kind: 'filesystem', name: 'missing', path: folder }))).toBe(
        'DATASTORE_UNAVAILABLE',
      )
      const view = await client.registerDatastore({ kind: 'filesystem', name: 'local', path: folder, createIfNotExists: true })
      expect(view).toMatchObject({ kind: 'filesystem', authType: 'none', hasSecret: false, settings: { path: folder } })
      expect((await stat(folder)).isDirectory()).toBe(true)
    })

    it('registers an Azure file share (no emulator exists, so without validation) and signs share SAS tokens for it', async () => {
      const view = await client.registerDatastore({
        kind: 'azure_file',
        name: 'share',
        accountName: 'wharfaccount',
        fileShareName: 'notebooks',
        accountKey: azurite.accountKey,
        skipValidation: true,
      })
      expect(view).toMatchObject({
        kind: 'azure_file',
        authType: 'account_key',
        settings: {
          accountName: 'wharfaccount',
          fileShareName: 'notebooks',
          serviceUrl: 'https://wharfaccount.file.core.windows.net',
        },
      })
      const access = await client.datastoreAccess('share', 'read')
      expect(access).toMatchObject({
        mode: 'azure_sas',
        kind: 'azure_file',
        containerName: 'notebooks',
        serviceUrl: 'https://wharfaccount.file.core.windows.net',
      })
      if (access.mode !== 'azure_sas') return
      const params = new URLSearchParams(access.sasToken)
      expect(params.get('sp')).toBe('rl')
      expect(params.get('sr')).toBe('s')
      expect(params.get('spr')).toBe('https')
      // Validation does reach the service when asked: an unreachable endpoint is UNAVAILABLE, not a hang.
      expect(
        await errorCodeOf(
          client.registerDatastore({
            kind: 'azure_file',
            name: 'unreachable',
            accountName: 'wharfaccount',
            fileShareName: 'notebooks',
            accountKey: azurite.accountKey,
            endpoint: 'http://127.0.0.1:9/wharfaccount',
          }),
        ),
      ).toBe('DATASTORE_UNAVAILABLE')
    })

    it('registers an S3 bucket and shows the key id but never the secret', async () => {
      const view = await client.registerDatastore({
        kind: 's3',
        name: 'bucket',
        bucket: 'wharf-bucket',
        endpoint: s3.endpoint,
        forcePathStyle: true,
        accessKeyId: 'S3RVER',
        secretAccessKey: s3Secret,
        createIfNotExists: true,
      })
      expect(view).toMatchObject({
        kind: 's3',
        authType: 'access_key',
        hasSecret: true,
        settings: { bucket: 'wharf-bucket', accessKeyId: 'S3RVER' },
      })
    })
  })

  describe('files through the server', () => {
    it('uploads, refuses to replace without overwrite, lists by prefix, reads ranges and deletes (S3)', async () => {
      const put = await client.uploadDatastoreFile('bucket', { path: 'train/a.csv', body: 'x,y\n1,2\n' })
      expect(put).toMatchObject({ path: 'train/a.csv', size: 8 })
      await client.uploadDatastoreFile('bucket', { path: 'train/b.csv', body: 'b' })
      await client.uploadDatastoreFile('bucket', { path: 'test/c.csv', body: 'c' })
      expect(await errorCodeOf(client.uploadDatastoreFile('bucket', { path: 'train/a.csv', body: 'changed' }))).toBe(
        'FILE_EXISTS',
      )
      await client.uploadDatastoreFile('bucket', { path: 'train/a.csv', body: 'replaced', overwrite: true })
      const listed = await client.listDatastoreFiles('bucket', { prefix: 'train/' }).toArray()
      expect(listed.map((f) => [f.path, f.size])).toEqual([
        ['train/a.csv', 8],
        ['train/b.csv', 1],
      ])
      const part = await client.downloadDatastoreFile('bucket', 'train/a.csv', { range: { start: 2, end: 4 } })
      expect(part.status).toBe(206)
      expect(await part.text()).toBe('pla')
      await client.deleteDatastoreFile('bucket', 'train/b.csv')
      expect(await errorCodeOf(client.downloadDatastoreFile('bucket', 'train/b.csv'))).toBe('FILE_NOT_FOUND')
    })

    it('answers a DELETE that deleted nothing with 404 FILE_NOT_FOUND (S3 and a folder)', async () => {
      for (const store of ['bucket', 'workspacefilestore']) {
        await client.uploadDatastoreFile(store, { path: 'del/here.txt', body: 'here' })
        const url = (file: string) => `${t.url}/api/v1/workspaces/default/datastores/${store}/files/content/${file}`
        const first = await fetch(url('del/here.txt'), { method: 'DELETE' })
        expect([first.status, await first.json()]).toEqual([200, { path: 'del/here.txt', deleted: true }])
        // Gone now, never there, and a folder rather than a file: nothing is deleted, and the answer says so.
        for (const file of ['del/here.txt', 'del/never-was.txt', 'del']) {
          await client.uploadDatastoreFile(store, { path: 'del/keep.txt', body: 'keep', overwrite: true })
          const response = await fetch(url(file), { method: 'DELETE' })
          const body = (await response.json()) as { error: { code: string; message: string; details: unknown } }
          expect(response.status, `${store} ${file}`).toBe(404)
          expect(body.error).toMatchObject({ code: 'FILE_NOT_FOUND', details: { path: file } })
          expect(body.error.message).toContain(`wharf datastore ls ${store}`)
        }
        expect(await errorCodeOf(client.deleteDatastoreFile(store, 'del/never-was.txt'))).toBe('FILE_NOT_FOUND')
        expect((await client.listDatastoreFiles(store, { prefix: 'del/' }).toArray()).map((f) => f.path)).toEqual([
          'del/keep.txt',
        ])
      }
    })

    it("lists stored names that cannot be paths in the page's skipped, with the reason, never as files (Azure)", async () => {
      const request = blob('oddnames')
      await client.registerDatastore(request)
      for (const blobName of ['odd/folder/', 'odd/../up.txt', 'odd/fine.txt']) {
        await putBlobWithRawName(azurite, { containerName: request.containerName, blobName, body: blobName })
      }
      const pages = []
      for await (const page of client.listDatastoreFiles('oddnames', { pageSize: 1 }).byPage()) pages.push(page)
      expect(pages.flatMap((p) => p.items.map((f) => f.path))).toEqual(['odd/fine.txt'])
      const skipped = pages.flatMap((p) => p.skipped ?? [])
      expect(skipped.map((f) => [f.path, f.size])).toEqual([
        ['odd/../up.txt', 13],
        ['odd/folder/', 11],
      ])
      expect(skipped[0]?.reason).toMatch(/"\.\." segments are not allowed/)
      expect(skipped[1]?.reason).toBe('it ends in "/" (a folder marker, not a file)')
    })

    // On Azure (the storage refuses a conditional write), not s3rver, which ignores If-None-Match (decision 0016).
    it('lets exactly one of several concurrent uploads without overwrite create a new file', async () => {
      await client.registerDatastore(blob('racing'))
      const bodies = ['first', 'second', 'third', 'fourth']
      const outcomes = await Promise.allSettled(
        bodies.map((body) => client.uploadDatastoreFile('racing', { path: 'race/new.txt', body })),
      )
      const created = outcomes.filter((o) => o.status === 'fulfilled')
      expect(created).toHaveLength(1)
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') expect(isWharfError(outcome.reason, 'FILE_EXISTS')).toBe(true)
      }
      // What is stored is the one upload that was told it succeeded.
      const winner = bodies[outcomes.findIndex((o) => o.status === 'fulfilled')]
      expect(await (await client.downloadDatastoreFile('racing', 'race/new.txt')).text()).toBe(winner)
    })

    it('refuses paths that escape the datastore and names unknown datastores', async () => {
      const response = await fetch(`${t.url}/api/v1/workspaces/default/datastores/local/files/content/..%2F..%2Fetc%2Fpasswd`)
      expect(response.status).toBe(400)
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('UNSAFE_PATH')
      expect(await errorCodeOf(client.listDatastoreFiles('nosuch').toArray())).toBe('DATASTORE_NOT_FOUND')
    })
  })

  describe('delegated access', () => {
    it('hands out a short-lived SAS for the container: reads with read, writes with write, never deletes', async () => {
      await client.registerDatastore(blob('direct'))
      await client.uploadDatastoreFile('direct', { path: 'seed.txt', body: 'seed' })
      const read = await client.datastoreAccess('direct', 'read')
      expect(read.mode).toBe('azure_sas')
      if (read.mode !== 'azure_sas') return
      expect(Date.parse(read.expiresOn) - Date.now()).toBeLessThanOrEqual(3600_000)
      const readContainer = new BlobServiceClient(`${read.serviceUrl}?${read.sasToken}`).getContainerClient(read.containerName)
      const body = await readContainer.getBlobClient('seed.txt').downloadToBuffer()
      expect(body.toString()).toBe('seed')
      await expect(readContainer.getBlockBlobClient('new.txt').upload('no', 2)).rejects.toMatchObject({ statusCode: 403 })

      const write = await client.datastoreAccess('direct', 'write')
      if (write.mode !== 'azure_sas') throw new Error('expected a SAS')
      const writeContainer = new BlobServiceClient(`${write.serviceUrl}?${write.sasToken}`).getContainerClient(
        write.containerName,
      )
      await writeContainer.getBlockBlobClient('new.txt').upload('yes', 3)
      await expect(writeContainer.getBlobClient('seed.txt').delete()).rejects.toMatchObject({ statusCode: 403 })
      // A SAS for one container opens no other.
      const other = new BlobServiceClient(`${write.serviceUrl}?${write.sasToken}`).getContainerClient('another')
      await expect(other.getBlockBlobClient('x').upload('x', 1)).rejects.toMatchObject({ statusCode: 403 })
    })

    it('streams through the server where it cannot delegate: SAS-registered Azure and S3', async () => {
      expect((await client.datastoreAccess('rotating', 'read')).mode).toBe('proxy')
      expect((await client.datastoreAccess('bucket', 'write')).mode).toBe('proxy')
    })

    it('points at the folder itself for a filesystem datastore, with its device and inode', async () => {
      const access = await client.datastoreAccess('local', 'write')
      const info = await stat(path.join(scratch, 'folder-ds'))
      expect(access).toEqual({ mode: 'filesystem', path: path.join(scratch, 'folder-ds'), device: info.dev, inode: info.ino })
    })
  })

  describe('default and unregistration', () => {
    it('never unregisters workspaceblobstore or the default, and never touches the storage', async () => {
      expect(await errorCodeOf(client.unregisterDatastore('workspaceblobstore'))).toBe('FORBIDDEN')
      await client.setDefaultDatastore('direct')
      expect((await client.getWorkspace()).defaultDatastore).toBe('direct')
      expect((await client.getDatastore('direct')).isDefault).toBe(true)
      expect(await errorCodeOf(client.unregisterDatastore('direct'))).toBe('FORBIDDEN')
      await client.setDefaultDatastore('workspaceblobstore')
      const container = (await client.getDatastore('direct')).settings.containerName as string
      await client.unregisterDatastore('direct')
      expect(await errorCodeOf(client.getDatastore('direct'))).toBe('DATASTORE_NOT_FOUND')
      expect(await errorCodeOf(client.unregisterDatastore('direct'))).toBe('DATASTORE_NOT_FOUND')
      expect(await errorCodeOf(client.setDefaultDatastore('direct'))).toBe('DATASTORE_NOT_FOUND')
      const service = new BlobServiceClient(
        azurite.endpoint,
        new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
      )
      const names: string[] = []
      for await (const item of service.getContainerClient(container).listBlobsFlat()) names.push(item.name)
      expect(names.sort()).toEqual(['new.txt', 'seed.txt'])
    })
  })

  describe('secrets', () => {
    it('appear in no API response, log line or database file', async () => {
      // Exercise every route that returns datastores once more, with errors from each kind.
      responses.push(JSON.stringify(await client.listDatastores()))
      for (const name of ['images', 'rotating', 'bucket', 'later', 'share']) {
        responses.push(JSON.stringify(await client.getDatastore(name)))
        responses.push(
          JSON.stringify(
            await client
              .listDatastoreFiles(name)
              .toArray()
              .catch((e: unknown) => String(e)),
          ),
        )
      }
      const sasSignature = new URLSearchParams(sasToken).get('sig') ?? ''
      expect(sasSignature.length).toBeGreaterThan(10)
      const secrets = [azurite.accountKey, sasSignature, s3Secret]
      const dbFiles = (await readdir(t.dataDir)).filter((f) => f.startsWith('wharf.db'))
      expect(dbFiles).toContain('wharf.db')
      const haystacks: [string, string][] = [
        ...responses.map((r, i): [string, string] => [`response ${i}`, r]),
        ['server log', t.logLines.join('\n')],
        ...(await Promise.all(
          dbFiles.map(async (f): Promise<[string, string]> => [f, (await readFile(path.join(t.dataDir, f))).toString('latin1')]),
        )),
      ]
      expect(responses.length).toBeGreaterThan(20)
      expect(t.logLines.some((line) => line.includes('datastore registered'))).toBe(true)
      for (const [where, text] of haystacks) {
        for (const secret of secrets) expect(text.includes(secret), `${where} holds a secret`).toBe(false)
      }
    })
  })
})

describe('built-in datastores on real storage (server config)', () => {
  const running = useAzuriteBlobServer()

  it('makes workspaceblobstore an Azure container (created) that holds run artifacts', async () => {
    const client = new WharfClient({ url: running.server.url })
    const blobStore: Datastore = await client.getDatastore('workspaceblobstore')
    expect(blobStore).toMatchObject({
      kind: 'azure_blob',
      isDefault: true,
      hasSecret: true,
      settings: { containerName: 'artifacts' },
    })
    expect((await client.getDatastore('workspacefilestore')).kind).toBe('filesystem')
    const run = await client.createRun({ experiment: 'cloud' })
    await client.uploadArtifact(run.id, { path: 'outputs/model.txt', body: 'weights' })
    const { azurite } = running
    const service = new BlobServiceClient(
      azurite.endpoint,
      new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
    )
    const stored = await service
      .getContainerClient('artifacts')
      .getBlobClient(`ExperimentRun/${run.id}/outputs/model.txt`)
      .downloadToBuffer()
    expect(stored.toString()).toBe('weights')
  })

  it('refuses a malformed built-in setting at start without echoing the key', async () => {
    const { loadServerConfig } = await import('./config.js')
    let message = ''
    try {
      loadServerConfig({
        dataDir: '/tmp/x',
        blobStore: JSON.stringify({ kind: 'azure_blob', accountName: 'acct', accountKey: 'TOPSECRETKEY' }),
      })
    } catch (error) {
      message = String(error)
    }
    expect(message).toContain('containerName')
    expect(message).not.toContain('TOPSECRETKEY')
  })
})
