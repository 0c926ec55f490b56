import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ShareClient, type ShareDirectoryClient } from '@azure/storage-file-share'
import { isWharfError, type ErrorCode } from '@wharf/contract'
import type { DatastoreDriver, SkippedName } from '../driver.js'
import { toDatastoreKey } from '../key.js'
import { bodyOf, codeOf, describeDatastoreContract, keysOf } from '../test-support/driver-contract.js'
import { createAzureFileDriver, type AzureFileDriverOptions } from './driver.js'

const key = toDatastoreKey
const SHARE_URL_VARIABLE = 'WHARF_TEST_AZURE_FILES_URL'
const shareUrl = process.env[SHARE_URL_VARIABLE]
// Distinctive, so a leak anywhere in an error shows up in a plain substring search.
const FAKE_ACCOUNT_KEY = Buffer.from('wharf-fake-account-key-that-must-never-be-shown!').toString('base64')
const FAKE_SIGNATURE = 'WharfFakeSignatureNeverShown'
const FAKE_SAS = `sv=2025-05-05&ss=f&srt=sco&sp=rwdlc&se=2030-01-01T00%3A00%3A00Z&spr=https%2Chttp&sig=${FAKE_SIGNATURE}%2Bx%3D`

/** What the Azure Files share from the environment is, split into driver options. */
interface RealShare {
  accountName: string
  shareName: string
  endpoint: string
  sasToken: string
  client: ShareClient
}

function realShareOf(raw: string): RealShare {
  const url = new URL(raw)
  const parts = url.pathname.split('/').filter((part) => part !== '')
  // An IP address or localhost URL names the account in its path, as the SDK expects.
  const pathStyle = /^(\d+\.){3}\d+$|^localhost$|^\[/.test(url.hostname)
  const accountName = (pathStyle ? parts.shift() : url.hostname.split('.')[0]) ?? ''
  const shareName = parts[0] ?? ''
  const endpoint = pathStyle ? `${url.origin}/${accountName}` : url.origin
  return {
    accountName,
    shareName,
    endpoint,
    sasToken: url.search.replace(/^\?/, ''),
    client: new ShareClient(`${endpoint}/${shareName}${url.search}`, undefined, { allowTrailingDot: true }),
  }
}

/** Deletes a folder of the share with everything in it. */
async function deleteFolder(folder: ShareDirectoryClient): Promise<void> {
  if (!(await folder.exists())) return
  for await (const entry of folder.listFilesAndDirectories()) {
    if (entry.kind === 'directory') await deleteFolder(folder.getDirectoryClient(entry.name))
    else await folder.getFileClient(entry.name).deleteIfExists()
  }
  await folder.deleteIfExists()
}

if (shareUrl === undefined || shareUrl === '') {
  console.log(
    `skipped: azure_file against a real share: set ${SHARE_URL_VARIABLE} to a share URL with a SAS that allows read, write, create, delete and list (https://<account>.file.core.windows.net/<share>?sv=…&sp=rwdlc&sig=…) to run the contract suite`,
  )
}

describe.skipIf(shareUrl === undefined || shareUrl === '')('azure_file (real share)', () => {
  const share = (): RealShare => realShareOf(shareUrl ?? '')
  const driverIn = (rootDirectory: string): DatastoreDriver => {
    const { accountName, shareName, endpoint, sasToken } = share()
    return createAzureFileDriver({ accountName, shareName, endpoint, credential: { kind: 'sas', sasToken }, rootDirectory })
  }
  const freshRoot = (): string => `wharf-test-${randomBytes(8).toString('hex')}`

  // A share SAS cannot create shares, so each test gets a fresh folder of the share as its root.
  describeDatastoreContract(
    'azure_file (Azure Files)',
    () => {
      const rootDirectory = freshRoot()
      return Promise.resolve({
        driver: driverIn(rootDirectory),
        cleanup: () => deleteFolder(share().client.getDirectoryClient(rootDirectory)),
      })
    },
    // The contract has no separate knob for case; this case is skipped, and the reason printed, for that.
    shareUrl
      ? { nonAsciiListOrder: 'Azure Files names are case-insensitive, so the keys "a" and "A" of that case are one file' }
      : {},
  )

  describe('on the share', () => {
    let rootDirectory: string
    let driver: DatastoreDriver

    beforeEach(async () => {
      rootDirectory = freshRoot()
      driver = driverIn(rootDirectory)
      await driver.validate({ create: true })
    })

    afterEach(async () => {
      await deleteFolder(share().client.getDirectoryClient(rootDirectory))
    })

    it('sets Content-MD5 and the content type, in one range and in several, and leaves no temp file', async () => {
      const small = await driver.put(key('one/small.txt'), bodyOf('hello'), { contentType: 'text/plain' })
      const big = Buffer.alloc(9 * 1024 * 1024 + 7, 5)
      const large = await driver.put(key('one/large.bin'), bodyOf(big.subarray(0, 1000), big.subarray(1000)), {
        contentType: 'application/x-test',
      })
      const folder = share().client.getDirectoryClient(`${rootDirectory}/one`)
      for (const [name, stored, type] of [
        ['small.txt', small, 'text/plain'],
        ['large.bin', large, 'application/x-test'],
      ] as const) {
        const properties = await folder.getFileClient(name).getProperties()
        expect(Buffer.from(properties.contentMD5 ?? new Uint8Array()).toString('base64'), name).toBe(stored.md5)
        expect(properties.contentType, name).toBe(type)
        expect(properties.contentLength, name).toBe(stored.size)
        expect((await driver.stat(key(`one/${name}`)))?.contentMd5, name).toBe(stored.md5)
      }
      const names: string[] = []
      for await (const entry of folder.listFilesAndDirectories()) names.push(entry.name)
      expect(names.sort()).toEqual(['large.bin', 'small.txt'])
    })

    it('names a missing root folder as DATASTORE_UNAVAILABLE unless validate creates it', async () => {
      const missing = `${rootDirectory}/not/yet`
      const elsewhere = driverIn(missing)
      const error: unknown = await elsewhere.validate().catch((e: unknown) => e)
      expect(isWharfError(error, 'DATASTORE_UNAVAILABLE')).toBe(true)
      expect((error as Error).message).toContain(missing)
      await elsewhere.validate({ create: true })
      await elsewhere.put(key('x.txt'), bodyOf('x'))
      expect(await keysOf(elsewhere)).toEqual(['x.txt'])
    })
  })
})

describe('azure_file driver options', () => {
  const valid: AzureFileDriverOptions = {
    accountName: 'wharftest',
    shareName: 'data',
    credential: { kind: 'key', accountKey: FAKE_ACCOUNT_KEY },
  }

  it('refuses unusable options with INVALID_ARGUMENT naming the option', () => {
    const cases: [Partial<AzureFileDriverOptions> | Record<string, unknown>, RegExp][] = [
      [{ accountName: '' }, /accountName/],
      [{ shareName: '' }, /shareName/],
      [{ shareName: 'Has_Upper' }, /shareName/],
      [{ shareName: 'a--b' }, /shareName/],
      [{ credential: { kind: 'key', accountKey: '' } }, /account key/],
      [{ credential: { kind: 'sas', sasToken: '?' } }, /SAS token/],
      [{ credential: { kind: 'password' } }, /credential/],
      [{ concurrency: 0 }, /concurrency/],
      [{ maxTries: 1.5 }, /maxTries/],
      [{ endpoint: 'not a url' }, /endpoint/],
      [{ endpoint: 'ftp://example.com' }, /endpoint/],
      [{ endpoint: 'http://127.0.0.1:10000' }, /endpoint .*account in its path/],
      [{ rootDirectory: '../outside' }, /rootDirectory/],
      [{ rootDirectory: 'a/.wharf-tmp-1' }, /rootDirectory/],
      [{ rootDirectory: 'what?' }, /rootDirectory/],
    ]
    for (const [change, message] of cases) {
      let error: unknown
      try {
        createAzureFileDriver({ ...valid, ...change })
      } catch (e) {
        error = e
      }
      expect(isWharfError(error, 'INVALID_ARGUMENT'), JSON.stringify(change)).toBe(true)
      expect((error as Error).message, JSON.stringify(change)).toMatch(message)
    }
  })

  it('refuses an endpoint carrying a SAS in its query, without repeating the signature', () => {
    let error: unknown
    try {
      createAzureFileDriver({ ...valid, endpoint: `https://wharftest.file.core.windows.net/?${FAKE_SAS}` })
    } catch (e) {
      error = e
    }
    expect(isWharfError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as Error).message).toMatch(/sasToken/)
    expect(inspect(error, { depth: 6 })).not.toContain(FAKE_SIGNATURE)
  })

  it('takes a SAS token with or without its leading "?", a root folder, and the default endpoint', () => {
    expect(createAzureFileDriver({ ...valid, credential: { kind: 'sas', sasToken: `?${FAKE_SAS}` } }).kind).toBe('azure_file')
    expect(
      createAzureFileDriver({ ...valid, credential: { kind: 'sas', sasToken: FAKE_SAS }, rootDirectory: '/team\\raw/' }).kind,
    ).toBe('azure_file')
  })
})

/** Every text of an error a user or a log could see: message, details, the causes' messages, and the whole inspected error. */
function visibleTextOf(error: unknown): string[] {
  const texts = [inspect(error, { depth: 8 })]
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    texts.push(current.message, JSON.stringify((current as { details?: unknown }).details) ?? '')
  }
  return texts
}

function expectNoSecrets(error: unknown): void {
  for (const text of visibleTextOf(error)) {
    expect(text).not.toContain(FAKE_ACCOUNT_KEY)
    expect(text).not.toContain(FAKE_SIGNATURE)
  }
}

/** Every driver call that reaches the service, each turned into the error it rejects with (or its result). */
function callsOf(driver: DatastoreDriver): Record<string, () => Promise<unknown>> {
  return {
    validate: () => driver.validate(),
    'validate with create': () => driver.validate({ create: true }),
    put: () => driver.put(key('a/b.txt'), bodyOf('some bytes')),
    'put of a declared size': () => driver.put(key('c.txt'), bodyOf('abc'), { size: 3 }),
    get: () => driver.get(key('a/b.txt')),
    'get of a range': () => driver.get(key('a/b.txt'), { range: { start: 1, end: 2 } }),
    stat: () => driver.stat(key('a/b.txt')),
    delete: () => driver.delete(key('a/b.txt')),
    list: () => keysOf(driver),
    'list under a prefix': () => keysOf(driver, { prefix: 'a/b' }),
  }
}

async function errorOf(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action()
  } catch (error) {
    return error
  }
  throw new Error('expected the call to fail, and it succeeded')
}

describe('azure_file driver without a reachable share', () => {
  let port: number

  beforeAll(async () => {
    port = await closedPort()
  })

  const credentials = [
    ['account key', { kind: 'key', accountKey: FAKE_ACCOUNT_KEY }],
    ['SAS token', { kind: 'sas', sasToken: FAKE_SAS }],
  ] as const

  for (const [label, credential] of credentials) {
    it(`answers every call with DATASTORE_UNAVAILABLE, the cause kept and the ${label} nowhere, when nothing listens`, async () => {
      const driver = createAzureFileDriver({
        accountName: 'wharftest',
        shareName: 'unreachable',
        credential,
        endpoint: `http://127.0.0.1:${port}/wharftest`,
        maxTries: 1,
      })
      for (const [name, call] of Object.entries(callsOf(driver))) {
        const error = await errorOf(call)
        expect(isWharfError(error, 'DATASTORE_UNAVAILABLE'), `${name}: ${String(error)}`).toBe(true)
        if (!isWharfError(error)) continue
        expect(error.message, name).toMatch(
          /could not reach the Azure Files share "unreachable" of the storage account "wharftest" at http:\/\/127\.0\.0\.1:\d+\/wharftest to .* \(ECONNREFUSED\)/,
        )
        expect((error.cause as { code?: string } | undefined)?.code, name).toBe('ECONNREFUSED')
        expectNoSecrets(error)
      }
    })
  }
})

/** What the stand-in answers to one request. */
interface Answer {
  status: number
  /** The x-ms-error-code, for an error. */
  code?: string
  /** An XML body, for an answer that is no error (a listing). */
  body?: string
}

/** A List Directories and Files answer, in the service's XML, naming files (with their sizes) and folders. */
function listingXml(entries: { files: [string, number][]; folders: string[] }): string {
  const time = '<Last-Modified>Mon, 02 Nov 2026 10:00:00 GMT</Last-Modified>'
  const files = entries.files.map(
    ([name, size]) => `<File><Name>${name}</Name><Properties><Content-Length>${size}</Content-Length>${time}</Properties></File>`,
  )
  const folders = entries.folders.map((name) => `<Directory><Name>${name}</Name><Properties>${time}</Properties></Directory>`)
  return `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://127.0.0.1/wharftest/" ShareName="data" DirectoryPath=""><Entries>${[...files, ...folders].join('')}</Entries><NextMarker /></EnumerationResults>`
}

/**
 * A loopback HTTP server standing in for Azure Files where only its answers matter (errors and listings
 * the service gives, in its wire format), recording each request it gets.
 */
async function startStandIn(): Promise<{
  url: string
  requests: string[]
  answer: (decide: (request: IncomingMessage) => Answer) => void
  stop(): Promise<void>
}> {
  const requests: string[] = []
  let decide: (request: IncomingMessage) => Answer = () => ({ status: 500, code: 'InternalError' })
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume()
    request.on('end', () => {
      requests.push(`${request.method} ${request.url}`)
      const { status, code, body: answer } = decide(request)
      response.setHeader('x-ms-request-id', randomBytes(8).toString('hex'))
      response.setHeader('x-ms-version', '2025-05-05')
      if (code === undefined) {
        if (answer !== undefined) response.setHeader('content-type', 'application/xml')
        response.writeHead(status).end(answer)
        return
      }
      response.setHeader('x-ms-error-code', code)
      response.setHeader('content-type', 'application/xml')
      const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>Stand-in error ${code}.\nRequestId:0</Message></Error>`
      response.writeHead(status).end(request.method === 'HEAD' ? undefined : body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/wharftest`,
    requests,
    answer: (next) => {
      decide = next
    },
    stop: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  }
}

describe('azure_file driver against the service’s error answers (a loopback stand-in)', () => {
  let standIn: Awaited<ReturnType<typeof startStandIn>>

  beforeAll(async () => {
    standIn = await startStandIn()
  })

  afterAll(async () => {
    await standIn.stop()
  })

  beforeEach(() => {
    standIn.requests.length = 0
  })

  const driverWith = (credential: AzureFileDriverOptions['credential'], rootDirectory?: string): DatastoreDriver =>
    createAzureFileDriver({
      accountName: 'wharftest',
      shareName: 'data',
      credential,
      endpoint: standIn.url,
      maxTries: 1,
      ...(rootDirectory === undefined ? {} : { rootDirectory }),
    })

  for (const credential of [
    { kind: 'key', accountKey: FAKE_ACCOUNT_KEY },
    { kind: 'sas', sasToken: FAKE_SAS },
  ] as const) {
    it(`turns a refused ${credential.kind === 'key' ? 'account key' : 'SAS token'} (403) into FORBIDDEN for every call, and shows no secret`, async () => {
      standIn.answer(() => ({ status: 403, code: 'AuthenticationFailed' }))
      for (const [name, call] of Object.entries(callsOf(driverWith(credential)))) {
        const error = await errorOf(call)
        expect(isWharfError(error, 'FORBIDDEN'), `${name}: ${String(error)}`).toBe(true)
        const refused =
          credential.kind === 'key'
            ? 'account key (AuthenticationFailed) for the Azure Files share "data"; check --account-key'
            : 'SAS token (AuthenticationFailed) for the Azure Files share "data"'
        expect((error as Error).message, name).toContain(`the storage account "wharftest" refused the ${refused}`)
        expect((error as { details?: Record<string, unknown> }).details?.field, name).toBe(
          credential.kind === 'key' ? 'accountKey' : 'sasToken',
        )
        expectNoSecrets(error)
      }
      expect(standIn.requests.length).toBeGreaterThan(0)
    })
  }

  it('names a missing share as DATASTORE_UNAVAILABLE (never a missing file), and validate with create creates it', async () => {
    let created = 0
    standIn.answer((request) => {
      if (request.method === 'PUT' && request.url === '/wharftest/data?restype=share') {
        created += 1
        return { status: 201 }
      }
      return { status: 404, code: 'ShareNotFound' }
    })
    const driver = driverWith({ kind: 'key', accountKey: FAKE_ACCOUNT_KEY })
    const { 'validate with create': _create, ...calls } = callsOf(driver)
    for (const [name, call] of Object.entries(calls)) {
      const error = await errorOf(call)
      expect(isWharfError(error, 'DATASTORE_UNAVAILABLE'), `${name}: ${String(error)}`).toBe(true)
      expect((error as Error).message, name).toMatch(
        /share "data" of the storage account "wharftest" does not exist; .*createIfNotExists/,
      )
      expectNoSecrets(error)
    }
    expect(created).toBe(0)
    await driver.validate({ create: true })
    expect(created).toBe(1)
  })

  it('takes a missing file as FILE_NOT_FOUND for get, undefined for stat, and done for delete', async () => {
    standIn.answer(() => ({ status: 404, code: 'ResourceNotFound' }))
    const driver = driverWith({ kind: 'sas', sasToken: FAKE_SAS })
    expect(await codeOf(() => driver.get(key('gone.txt')))).toBe('FILE_NOT_FOUND')
    expect(await codeOf(() => driver.get(key('gone.txt'), { range: { start: 0, end: 3 } }))).toBe('FILE_NOT_FOUND')
    expect(await driver.stat(key('gone.txt'))).toBeUndefined()
    await expect(driver.delete(key('gone.txt'))).resolves.toBeUndefined()
    standIn.answer(() => ({ status: 404, code: 'ParentNotFound' }))
    expect(await codeOf(() => driver.get(key('no/folder/gone.txt')))).toBe('FILE_NOT_FOUND')
    expect(await driver.stat(key('no/folder/gone.txt'))).toBeUndefined()
    await expect(driver.delete(key('no/folder/gone.txt'))).resolves.toBeUndefined()
  })

  it('names a missing root folder as DATASTORE_UNAVAILABLE for validate and list', async () => {
    standIn.answer(() => ({ status: 404, code: 'ResourceNotFound' }))
    const driver = driverWith({ kind: 'key', accountKey: FAKE_ACCOUNT_KEY }, 'team/raw')
    for (const call of [() => driver.validate(), () => keysOf(driver)]) {
      const error = await errorOf(call)
      expect(isWharfError(error, 'DATASTORE_UNAVAILABLE')).toBe(true)
      expect((error as Error).message).toMatch(/the folder "team\/raw" does not exist in the Azure Files share "data"/)
    }
    expect(standIn.requests.every((line) => line.startsWith('GET /wharftest/data/team/raw?'))).toBe(true)
  })

  it('turns a busy service (503) into DATASTORE_UNAVAILABLE', async () => {
    standIn.answer(() => ({ status: 503, code: 'ServerBusy' }))
    const driver = driverWith({ kind: 'key', accountKey: FAKE_ACCOUNT_KEY })
    for (const [name, call] of Object.entries(callsOf(driver))) {
      const error = await errorOf(call)
      expect(isWharfError(error, 'DATASTORE_UNAVAILABLE'), `${name}: ${String(error)}`).toBe(true)
      expect((error as Error).message, name).toMatch(/is unavailable \(ServerBusy\)/)
    }
  })

  it('refuses keys and prefixes with characters Azure Files cannot store, before any request', async () => {
    standIn.answer(() => ({ status: 500, code: 'InternalError' }))
    const driver = driverWith({ kind: 'key', accountKey: FAKE_ACCOUNT_KEY })
    for (const raw of ['what?.txt', 'a/b:c', 'pipe|d', 'q"uote', 'star*', '<tag>']) {
      const codes: ErrorCode[] = [
        await codeOf(() => driver.put(key(raw), bodyOf('x'))),
        await codeOf(() => driver.get(key(raw))),
        await codeOf(() => driver.stat(key(raw))),
        await codeOf(() => driver.delete(key(raw))),
        await codeOf(async () => keysOf(driver, { prefix: raw })),
      ]
      expect(codes, raw).toEqual(['UNSAFE_PATH', 'UNSAFE_PATH', 'UNSAFE_PATH', 'UNSAFE_PATH', 'UNSAFE_PATH'])
    }
    expect(standIn.requests).toEqual([])
  })

  it('reports each listed name no key can have (a folder once, never listed itself) and leaves its own temp files out silently', async () => {
    // Azure Files allows 255 characters in a name, which can be more than the 255 bytes of UTF-8 a key segment may have.
    const long = 'é'.repeat(200)
    standIn.answer((request) => {
      const url = new URL(request.url ?? '', 'http://stand-in')
      if (url.searchParams.get('comp') !== 'list') return { status: 500, code: 'InternalError' }
      const folder = decodeURIComponent(url.pathname).replace(/\/$/, '')
      if (folder === '/wharftest/data') {
        return {
          status: 200,
          body: listingXml({
            files: [
              ['a.txt', 3],
              [`${long}.txt`, 5],
              ['.wharf-tmp-0123456789abcdef01234567', 9],
            ],
            folders: ['sub', long],
          }),
        }
      }
      if (folder === '/wharftest/data/sub') return { status: 200, body: listingXml({ files: [['b.txt', 4]], folders: [] }) }
      return { status: 404, code: 'ResourceNotFound' }
    })
    const driver = driverWith({ kind: 'sas', sasToken: FAKE_SAS })
    const skipped: SkippedName[] = []
    expect(await keysOf(driver, { onSkipped: (name) => void skipped.push(name) })).toEqual(['a.txt', 'sub/b.txt'])
    const segment = `the segment "${'é'.repeat(40)}…" is 400 bytes of UTF-8; the limit is 255`
    expect(skipped).toEqual([
      { name: `${long}.txt`, size: 5, modifiedAt: '2026-11-02T10:00:00.000Z', reason: segment.replace('400', '404') },
      {
        name: long,
        size: 0,
        modifiedAt: '2026-11-02T10:00:00.000Z',
        reason: `a folder whose name cannot be a path (${segment}); the files under it are not listed`,
      },
    ])
    expect(standIn.requests.map((line) => decodeURIComponent(line.split('?')[0] ?? '').replace(/\/$/, ''))).toEqual([
      'GET /wharftest/data',
      'GET /wharftest/data/sub',
    ])
  })

  it('a put that fails after creating its temp file deletes the temp file', async () => {
    standIn.answer((request) => {
      if (request.url?.includes('comp=range')) return { status: 500, code: 'InternalError' }
      if (request.method === 'DELETE') return { status: 202 }
      // Set File Properties (the resize ahead of the ranges) answers 200, Create File 201.
      return { status: request.url?.includes('comp=properties') ? 200 : 201 }
    })
    const driver = driverWith({ kind: 'key', accountKey: FAKE_ACCOUNT_KEY })
    expect(await codeOf(() => driver.put(key('x/y.bin'), bodyOf('payload')))).toBe('DATASTORE_UNAVAILABLE')
    const created = standIn.requests.find(
      (line) => line.startsWith('PUT /wharftest/data/x/.wharf-tmp-') && !line.includes('comp='),
    )
    expect(created).toBeDefined()
    const temp = created?.split(' ')[1]?.split('?')[0] ?? ''
    expect(standIn.requests.map((line) => line.split('?')[0])).toContain(`DELETE ${temp}`)
    expect(standIn.requests.some((line) => line.includes('comp=rename'))).toBe(false)
  })
})

/** A loopback port that nothing listens on (one the system just handed out and that was closed again). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
