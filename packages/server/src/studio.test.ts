import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from './test-support/index.js'

// A studio build as Vite lays it out: the page, and assets named by content hash.
const PAGE = '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body></body></html>'
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(5000))})`

/** A GET through node:http with exactly these headers; the body as bytes, undecoded. */
function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; encoding: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }),
      )
    })
    req.on('error', reject)
    req.end()
  })
}

describe('the server serves the studio', () => {
  let buildDir: string
  let server: TestServer
  let authServer: TestServer
  let unbuilt: TestServer
  const token = 'studio-serving-test-token-0123'

  beforeAll(async () => {
    buildDir = await mkdtemp(path.join(tmpdir(), 'wharf-studio-build-'))
    await mkdir(path.join(buildDir, 'assets'))
    await writeFile(path.join(buildDir, 'index.html'), PAGE)
    await writeFile(path.join(buildDir, 'assets', 'index-abc123.js'), SCRIPT)
    await writeFile(path.join(buildDir, 'assets', 'index-abc123.js.map'), '{}')
    server = await startTestServer('sqlite', { config: { studioDir: buildDir } })
    authServer = await startTestServer('sqlite', { authToken: token, config: { studioDir: buildDir } })
    unbuilt = await startTestServer('sqlite', { config: { studioDir: false } })
  })
  afterAll(async () => {
    await Promise.all([server?.stop(), authServer?.stop(), unbuilt?.stop()])
    await rm(buildDir, { recursive: true, force: true })
  })

  it('answers its page for the root and for every studio path, fresh each time, with a content security policy', async () => {
    for (const urlPath of ['/', '/w/default/experiments', '/w/team%20a/runs/01J/anything?tab=logs']) {
      const response = await fetch(`${server.url}${urlPath}`)
      expect(response.status, urlPath).toBe(200)
      expect(response.headers.get('content-type')).toMatch(/^text\/html/)
      expect(response.headers.get('cache-control')).toBe('no-cache')
      expect(response.headers.get('content-security-policy')).toContain("default-src 'self'")
      expect(response.headers.get('x-frame-options')).toBe('DENY')
      expect(await response.text()).toBe(PAGE)
    }
  })

  it('serves hashed assets as immutable, gzipped when asked, and never the source maps', async () => {
    const plain = await fetch(`${server.url}/assets/index-abc123.js`, { headers: { 'accept-encoding': 'identity' } })
    expect(plain.status).toBe(200)
    expect(plain.headers.get('content-type')).toMatch(/^(text|application)\/javascript/)
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(await plain.text()).toBe(SCRIPT)
    // fetch decodes gzip itself; a raw request shows what is on the wire.
    const raw = await rawGet(`${server.url}/assets/index-abc123.js`, { 'accept-encoding': 'gzip' })
    expect(raw.encoding).toBe('gzip')
    expect(raw.body.length).toBeLessThan(SCRIPT.length / 10)
    expect(gunzipSync(raw.body).toString()).toBe(SCRIPT)
    expect((await fetch(`${server.url}/assets/index-abc123.js.map`)).status).toBe(404)
  })

  it('answers 404 for an asset of another build (a stale page), not the page', async () => {
    const response = await fetch(`${server.url}/assets/index-old999.js`)
    expect(response.status).toBe(404)
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('ROUTE_NOT_FOUND')
  })

  it('leaves the API alone: unknown API paths are API errors, not the page', async () => {
    for (const urlPath of ['/api/v1/no-such-endpoint', '/api/v1']) {
      const response = await fetch(`${server.url}${urlPath}`)
      expect(response.status, urlPath).toBe(404)
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('ROUTE_NOT_FOUND')
    }
  })

  it('serves the page without a token when auth is on, and still refuses the API without one', async () => {
    expect((await fetch(`${authServer.url}/w/default/experiments`)).status).toBe(200)
    expect((await fetch(`${authServer.url}/assets/index-abc123.js`)).status).toBe(200)
    const api = await fetch(`${authServer.url}/api/v1/workspaces`)
    expect(api.status).toBe(401)
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED')
  })

  it('says how to build the studio when there is no build', async () => {
    const response = await fetch(`${unbuilt.url}/`)
    expect(response.status).toBe(200)
    expect(await response.text()).toContain('npm run build')
    expect((await fetch(`${unbuilt.url}/w/default/experiments`)).status).toBe(404)
  })

  it('refuses a studio page asked for by another site (DNS rebinding) like any other request', async () => {
    // fetch sets Host itself; node:http sends the one a rebinding page would.
    const response = await rawGet(`${server.url}/`, { host: 'evil.example' })
    expect(response.status).toBe(403)
  })
})
