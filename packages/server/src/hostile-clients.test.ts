import { request as httpRequest } from 'node:http'
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import { loadServerConfig } from './config.js'
import { createLog } from './log.js'
import { startServer, type RunningServer } from './server.js'
import { errorCodeOf } from '@wharf/contract/test-support'
import { startTestServer, type TestServer } from './test-support/test-server.js'

/** A GET with exactly the headers given (fetch will not send a Host of our choosing), as a browser or a script could. */
function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => (body += chunk.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.once('error', reject)
    req.end()
  })
}

describe('folder datastores cannot be led out of the allowed folders', () => {
  let dir: string
  let allowed: string
  let outside: string
  let server: RunningServer
  let client: WharfClient
  const start = async (): Promise<void> => {
    const config = loadServerConfig({
      host: '127.0.0.1',
      port: 0,
      dataDir: path.join(dir, 'data'),
      filesystemRoots: [allowed],
      version: 'test',
    })
    server = await startServer(config, { log: createLog({ write: () => undefined }) })
    client = new WharfClient({ url: server.url })
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-escape-'))
    allowed = path.join(dir, 'allowed')
    outside = path.join(dir, 'outside')
    await mkdir(allowed)
    await mkdir(outside)
    await writeFile(path.join(outside, 'secret.txt'), 'not yours')
    await start()
  })
  afterAll(async () => {
    await server.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses <root>/link/deeper with create-if-not-exists when the link points outside, and creates nothing there', async () => {
    await symlink(outside, path.join(allowed, 'link'))
    const folder = path.join(allowed, 'link', 'deeper')
    expect(
      await errorCodeOf(
        client.registerDatastore({ kind: 'filesystem', name: 'through_link', path: folder, createIfNotExists: true }),
      ),
    ).toBe('FORBIDDEN')
    expect(
      await errorCodeOf(
        client.registerDatastore({ kind: 'filesystem', name: 'through_link', path: folder, skipValidation: true }),
      ),
    ).toBe('FORBIDDEN')
    expect(await readdir(outside)).toEqual(['secret.txt'])
    // A broken link would be followed by mkdir -p too.
    await symlink(path.join(outside, 'new'), path.join(allowed, 'dangling'))
    expect(
      await errorCodeOf(
        client.registerDatastore({
          kind: 'filesystem',
          name: 'dangling',
          path: path.join(allowed, 'dangling', 'x'),
          createIfNotExists: true,
        }),
      ),
    ).toBe('FORBIDDEN')
    expect(await readdir(outside)).toEqual(['secret.txt'])
  })

  it('refuses folders outside the data folder and the configured roots, also on loopback', async () => {
    expect(await errorCodeOf(client.registerDatastore({ kind: 'filesystem', name: 'everything', path: '/' }))).toBe('FORBIDDEN')
    expect(await errorCodeOf(client.registerDatastore({ kind: 'filesystem', name: 'outside', path: outside }))).toBe('FORBIDDEN')
    const error = await client.registerDatastore({ kind: 'filesystem', name: 'outside', path: outside }).catch((e: unknown) => e)
    expect((error as Error).message).toContain('WHARF_FILESYSTEM_ROOTS')
  })

  it('refuses reads, writes and direct access once the registered folder is replaced by a link, also after a restart', async () => {
    const folder = path.join(allowed, 'swapped')
    await client.registerDatastore({ kind: 'filesystem', name: 'swapped', path: folder, createIfNotExists: true })
    await client.uploadDatastoreFile('swapped', { path: 'mine.txt', body: 'mine' })
    expect(await (await client.downloadDatastoreFile('swapped', 'mine.txt')).text()).toBe('mine')
    await rm(folder, { recursive: true })
    await symlink(outside, folder)
    const attempts = async (): Promise<void> => {
      expect(await errorCodeOf(client.downloadDatastoreFile('swapped', 'secret.txt'))).toBe('FORBIDDEN')
      expect(await errorCodeOf(client.uploadDatastoreFile('swapped', { path: 'planted.txt', body: 'x' }))).toBe('FORBIDDEN')
      expect(await errorCodeOf(client.datastoreAccess('swapped', 'write'))).toBe('FORBIDDEN')
      const listed = await errorCodeOf(
        (async () => {
          for await (const file of client.listDatastoreFiles('swapped')) void file
        })(),
      )
      expect(listed).toBe('FORBIDDEN')
      expect(await readdir(outside)).toEqual(['secret.txt'])
    }
    await attempts()
    await server.close()
    await start()
    await attempts()
  })
})

describe('a web page cannot drive a loopback server', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startTestServer('sqlite')
  })
  afterAll(async () => {
    await t.stop()
  })

  it('answers loopback host names, with or without port', async () => {
    const port = new URL(t.url).port
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost', '127.0.0.2', `[::1]:${port}`]) {
      const response = await rawGet(`${t.url}/api/v1/workspaces`, { host })
      expect(response.status, `${host}: ${response.body}`).toBe(200)
    }
  })

  it('refuses any other Host (DNS rebinding) with FORBIDDEN and says how to allow it', async () => {
    for (const host of [
      'evil.example',
      `evil.example:${new URL(t.url).port}`,
      '10.0.0.1',
      'localhost.evil.example',
      '127.0.0.1.evil.example',
    ]) {
      const response = await rawGet(`${t.url}/api/v1/workspaces`, { host })
      expect(response.status, host).toBe(403)
      const error = (JSON.parse(response.body) as { error: { code: string; message: string } }).error
      expect(error.code).toBe('FORBIDDEN')
      expect(error.message).toContain('--allowed-hosts')
    }
    // The attack itself: registering "/" as a folder through a rebound name.
    const register = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${t.url}/api/v1/workspaces/default/datastores`,
        {
          method: 'POST',
          headers: { host: 'rebind.evil.example', 'content-type': 'application/json' },
        },
        (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        },
      )
      req.once('error', reject)
      req.end(JSON.stringify({ kind: 'filesystem', name: 'root', path: '/' }))
    })
    expect(register).toBe(403)
  })

  it('refuses cross-site browser requests and foreign origins, but not its own pages or non-browser clients', async () => {
    const url = `${t.url}/api/v1/workspaces`
    const host = new URL(t.url).host
    expect((await rawGet(url, { host, 'sec-fetch-site': 'cross-site' })).status).toBe(403)
    expect((await rawGet(url, { host, origin: 'https://evil.example' })).status).toBe(403)
    expect((await rawGet(url, { host, origin: 'null' })).status).toBe(403)
    expect((await rawGet(url, { host, origin: `http://localhost:1${new URL(t.url).port}` })).status).toBe(403)
    expect((await rawGet(url, { host, origin: t.url, 'sec-fetch-site': 'same-origin' })).status).toBe(200)
    expect((await rawGet(url, { host, 'sec-fetch-site': 'none' })).status).toBe(200)
    expect((await fetch(url)).status).toBe(200)
  })

  it('registers folders only under its data folder by default, even on loopback', async () => {
    const client = new WharfClient({ url: t.url })
    expect(await errorCodeOf(client.registerDatastore({ kind: 'filesystem', name: 'everything', path: '/' }))).toBe('FORBIDDEN')
    expect(await errorCodeOf(client.registerDatastore({ kind: 'filesystem', name: 'temp', path: tmpdir() }))).toBe('FORBIDDEN')
    const inside = await client.registerDatastore({
      kind: 'filesystem',
      name: 'inside',
      path: path.join(t.dataDir, 'mine'),
      createIfNotExists: true,
    })
    expect(inside.kind).toBe('filesystem')
  })

  it('answers the names given in allowedHosts', async () => {
    const named = await startTestServer('sqlite', { config: { allowedHosts: ['wharf.lan'] } })
    try {
      expect((await rawGet(`${named.url}/api/v1/workspaces`, { host: `wharf.lan:${new URL(named.url).port}` })).status).toBe(200)
      expect((await rawGet(`${named.url}/api/v1/workspaces`, { host: 'other.lan' })).status).toBe(403)
    } finally {
      await named.stop()
    }
  })
})

describe('credentials in an endpoint URL', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startTestServer('sqlite')
  })
  afterAll(async () => {
    await t.stop()
  })

  it('are refused with 400 and never repeated', async () => {
    const password = 'S3cr3t-Passw0rd-in-url'
    const s3 = {
      kind: 's3',
      name: 'creds',
      bucket: 'bucket-a',
      accessKeyId: 'AKID',
      secretAccessKey: 'x'.repeat(20),
      skipValidation: true,
    }
    const azure = {
      kind: 'azure_blob',
      name: 'creds',
      accountName: 'acct',
      containerName: 'box',
      accountKey: 'a2V5',
      skipValidation: true,
    }
    const bodies = [
      { ...s3, endpoint: `http://AKID:${password}@127.0.0.1:9000` },
      { ...s3, endpoint: `https://AKID:${password}@s3.example.com/extra/path` },
      { ...s3, endpoint: `AKID:${password}@s3.example.com` },
      { ...azure, endpoint: `http://acct:${password}@127.0.0.1:10000/devstoreaccount1` },
      { ...azure, endpoint: `http://acct:${password}@127.0.0.1:99999999/x` },
      { ...azure, endpoint: `acct:${password}@core.windows.net` },
    ]
    for (const body of bodies) {
      const response = await fetch(`${t.url}/api/v1/workspaces/default/datastores`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      const text = await response.text()
      expect(response.status, text).toBe(400)
      expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe('INVALID_ARGUMENT')
      expect(text).not.toContain(password)
    }
    expect(t.logLines.join('\n')).not.toContain(password)
  })
})

describe('text that has no UTF-8 form', () => {
  let t: TestServer
  let client: WharfClient
  let api: string
  beforeAll(async () => {
    t = await startTestServer('sqlite')
    client = new WharfClient({ url: t.url })
    api = `${t.url}/api/v1/workspaces/default`
  })
  afterAll(async () => {
    await t.stop()
  })

  /** Sends JSON text as written: `\ud800` stays an escape, as any JSON encoder writes a lone surrogate. */
  const send = async (
    method: string,
    url: string,
    body: string | Uint8Array,
  ): Promise<{ status: number; code: string; message: string }> => {
    const response = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body })
    const json = (await response.json()) as { error?: { code: string; message: string } }
    return { status: response.status, code: json.error?.code ?? 'ok', message: json.error?.message ?? '' }
  }

  it('refuses a lone surrogate in any name or text with 400, naming the field, and stores nothing', async () => {
    const run = await client.createRun({ experiment: 'surrogates' })
    const runUrl = `${api}/runs/${run.id}`
    const cases: [string, string, string, string][] = [
      ['POST', `${api}/runs`, '{"experiment":"surrogates","displayName":"loss \\ud800"}', 'displayName'],
      ['POST', `${api}/runs`, '{"experiment":"surrogates","description":"\\udfff alone"}', 'description'],
      ['PATCH', runUrl, '{"displayName":"x\\udc00y"}', 'displayName'],
      ['PATCH', `${runUrl}/tags`, '{"set":{"tag\\ud83d":"v"}}', 'tag\\ud83d'],
      ['PATCH', `${runUrl}/tags`, '{"set":{"k":"\\ud83d"}}', 'set.k'],
      ['POST', `${runUrl}/properties`, '{"p":"\\ude00\\ud83d"}', 'p'],
      ['POST', `${runUrl}/metrics`, '{"points":[{"name":"ok","value":1},{"name":"loss\\ud800","value":1}]}', 'points.1.name'],
      ['POST', `${runUrl}/metrics`, '{"points":[{"name":"note","text":"half \\ud800"}]}', 'points.0.text'],
      ['POST', `${runUrl}/metrics`, '{"series":[{"name":"notes","texts":["fine","\\udbff"]}]}', 'series.0.texts.1'],
      ['POST', `${api}/experiments`, '{"name":"exp\\ud800"}', 'name'],
      ['POST', `${api}/datastores`, '{"kind":"filesystem","name":"ds","path":"/tmp/\\ud800","skipValidation":true}', 'path'],
      ['POST', `${api}/assets`, '{"name":"asset\\ud800","runId":"x","path":"outputs"}', 'name'],
    ]
    for (const [method, url, body, field] of cases) {
      const answer = await send(method, url, body)
      expect(answer, `${method} ${body}`).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' })
      expect(answer.message, body).toContain('surrogate')
      expect(answer.message, body).toContain(field.replace('\\ud83d', ''))
    }
    const stored = await client.getRun(run.id)
    expect(stored.displayName).not.toContain('\ufffd')
    expect(Object.keys(stored.tags)).toEqual([])
    expect(await client.listMetrics(run.id)).toEqual([])
  })

  it('keeps well-formed pairs (an emoji written as two escapes) and refuses bytes that are not UTF-8', async () => {
    const run = await client.createRun({ experiment: 'surrogates', displayName: 'x' })
    const answer = await send('PATCH', `${api}/runs/${run.id}`, '{"displayName":"rocket \\ud83d\\ude80"}')
    expect(answer.status).toBe(200)
    expect((await client.getRun(run.id)).displayName).toBe('rocket \u{1F680}')
    // "x" then the 3-byte encoding of U+D800 (CESU-8), which is not UTF-8.
    const bytes = Buffer.concat([Buffer.from('{"displayName":"x'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])
    expect(await send('PATCH', `${api}/runs/${run.id}`, bytes)).toMatchObject({ status: 400, code: 'MALFORMED_REQUEST' })
    expect((await client.getRun(run.id)).displayName).toBe('rocket \u{1F680}')
  })
})

describe('which host names a server answers', () => {
  it('loopback names always; the bound address beyond loopback; any for a wildcard bind with nothing configured', () => {
    const token = 'a-token-of-enough-length'
    expect(loadServerConfig({ dataDir: '/tmp/x' }).allowedHosts).toEqual([])
    expect(loadServerConfig({ dataDir: '/tmp/x', allowedHosts: ['Wharf.LAN'] }).allowedHosts).toEqual(['wharf.lan'])
    expect(loadServerConfig({ dataDir: '/tmp/x', host: '10.1.2.3', authToken: token }).allowedHosts).toEqual(['10.1.2.3'])
    expect(loadServerConfig({ dataDir: '/tmp/x', host: '0.0.0.0', authToken: token }).allowedHosts).toBeUndefined()
    expect(
      loadServerConfig({ dataDir: '/tmp/x', host: '0.0.0.0', authToken: token, allowedHosts: ['wharf.lan'] }).allowedHosts,
    ).toEqual(['wharf.lan'])
    expect(loadServerConfig({ dataDir: '/tmp/x', allowedHosts: ['*'] }).allowedHosts).toBeUndefined()
  })
})
