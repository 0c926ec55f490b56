import { mkdtemp, readdir, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfClient } from '@wharf/client'
import { startServerProcess, type ServerProcess } from './test-support/server-process.js'
import { startTestServer, type TestServer } from './test-support/test-server.js'

/** What a broken or impatient client can do to a request body. */
const BAD_BODIES: { name: string; framing: string; body: string }[] = [
  { name: 'a malformed chunk size', framing: 'Transfer-Encoding: chunked', body: '5\r\n{"a":\r\nZZZ\r\nxx\r\n' },
  { name: 'the connection closed right after the headers', framing: 'Transfer-Encoding: chunked', body: '' },
  { name: 'a Content-Length larger than what is sent', framing: 'Content-Length: 100000', body: '{"name":"half' },
  { name: 'a body cut in the middle of a chunk', framing: 'Transfer-Encoding: chunked', body: '400\r\n{"name":"cut' },
]

/** Writes a request with raw bytes, then closes the connection (unless the server closed it first). */
async function sendBroken(port: number, request: { method: string; path: string; framing: string; body: string }): Promise<void> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve())
    socket.once('error', reject)
  })
  socket.on('error', () => undefined) // the server may reset the connection: that is its right here
  const head = `${request.method} ${request.path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n${request.framing}\r\n\r\n`
  await new Promise<void>((resolve) => socket.write(head + request.body, () => resolve()))
  // Give the server time to start handling the request before the client goes away.
  await new Promise((resolve) => setTimeout(resolve, 100))
  socket.destroy()
  await new Promise((resolve) => setTimeout(resolve, 50))
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true })
  return entries.filter((e) => !e.isDirectory()).map((e) => path.relative(folder, path.join(e.parentPath, e.name)))
}

const CLOSED_LINE = /INFO {2}client closed the request before sending the whole body/g

describe('request bodies that never arrive whole (real server process)', () => {
  let dataDir: string
  let server: ServerProcess
  let client: WharfClient
  let runId: string

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'wharf-bodies-'))
    server = await startServerProcess({ dataDir })
    client = new WharfClient({ url: server.url })
    runId = (await client.createRun({ experiment: 'bodies' })).id
  })
  afterAll(async () => {
    await server?.stop()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  it('survives malformed, aborted and truncated bodies on every route that reads one, and records nothing', async () => {
    const ws = '/api/v1/workspaces/default'
    const routes = [
      { method: 'PUT', path: `${ws}/runs/${runId}/artifacts/content/x.bin` },
      { method: 'PUT', path: `${ws}/datastores/workspaceblobstore/files/content/y.bin` },
      { method: 'PUT', path: `${ws}/datastores/workspacefilestore/files/content/z.bin?overwrite=true` },
      { method: 'POST', path: `${ws}/runs/${runId}/metrics` },
      { method: 'POST', path: `${ws}/datastores` },
      { method: 'POST', path: `${ws}/runs` },
    ]
    let sent = 0
    for (const route of routes) {
      for (const bad of BAD_BODIES) {
        await sendBroken(server.port, { ...route, framing: bad.framing, body: bad.body })
        sent++
        expect(server.isRunning(), `${route.method} ${route.path} with ${bad.name} ended the server:\n${server.stderr()}`).toBe(
          true,
        )
        expect(await client.health(), `${route.method} ${route.path} with ${bad.name}`).toMatchObject({ status: 'ok' })
      }
    }
    // Every request has been handled (and its temp file removed) once each has its line in the log.
    await waitFor(
      () => (server.stderr().match(CLOSED_LINE) ?? []).length >= sent,
      `${sent} "client closed" lines:\n${server.stderr()}`,
    )

    expect(server.isRunning()).toBe(true)
    const artifacts = []
    for await (const a of client.listArtifacts(runId)) artifacts.push(a)
    expect(artifacts).toEqual([])
    for (const store of ['workspaceblobstore', 'workspacefilestore']) {
      const files = []
      for await (const f of client.listDatastoreFiles(store)) files.push(f)
      expect(files, store).toEqual([])
    }
    // Not even a temp file of a put that never finished.
    expect(await filesUnder(path.join(dataDir, 'workspaces'))).toEqual([])
    expect(await client.listMetrics(runId)).toEqual([])
    expect((await client.listDatastores()).map((d) => d.name).sort()).toEqual(['workspaceblobstore', 'workspacefilestore'])
    const runs = []
    for await (const r of client.listRuns()) runs.push(r.id)
    expect(runs).toEqual([runId])
  })
})

describe('a client that goes away (real server process)', () => {
  let dataDir: string
  let server: ServerProcess
  let runId: string

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'wharf-bodies-'))
    server = await startServerProcess({ dataDir })
    runId = (await new WharfClient({ url: server.url }).createRun({ experiment: 'gone' })).id
  })
  afterAll(async () => {
    await server?.stop()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  it('logs a client that goes away mid-upload as one INFO line, without ERROR or a stack', async () => {
    const uploads = [
      `/api/v1/workspaces/default/datastores/workspaceblobstore/files/content/gone.bin`,
      `/api/v1/workspaces/default/runs/${runId}/artifacts/content/gone.bin`,
    ]
    for (const upload of uploads) {
      await sendBroken(server.port, { method: 'PUT', path: upload, framing: 'Content-Length: 1048576', body: 'x'.repeat(70_000) })
    }
    await waitFor(
      () => !server.isRunning() || (server.stderr().match(/client closed the request|ERROR/g) ?? []).length >= uploads.length,
      'a log line per upload',
    )
    const log = server.stderr()
    expect(server.isRunning(), log).toBe(true)
    expect(log).not.toMatch(/ERROR/)
    expect(log).not.toMatch(/\n\s+at |\\n\s+at /)
    for (const upload of uploads) {
      expect(log).toContain(`INFO  client closed the request before sending the whole body method=PUT path=${upload}`)
    }
  })
})

describe('a streamed artifact without a Content-Length (in-process server)', () => {
  let t: TestServer

  beforeAll(async () => {
    t = await startTestServer('sqlite', { limits: { artifactBytes: 1000 } })
  })
  afterAll(async () => {
    await t?.stop()
  })

  it('is refused with PAYLOAD_TOO_LARGE once it passes artifactBytes, and nothing is recorded', async () => {
    const client = new WharfClient({ url: t.url })
    const runId = (await client.createRun({ experiment: 'cap' })).id
    const chunks = [Buffer.alloc(600, 1), Buffer.alloc(600, 2)]
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift()
        if (next) controller.enqueue(next)
        else controller.close()
      },
    })
    const response = await fetch(`${t.url}/api/v1/workspaces/default/runs/${runId}/artifacts/content/big.bin`, {
      method: 'PUT',
      body,
      duplex: 'half',
    })
    expect(response.status).toBe(413)
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE')
    expect(await client.listArtifacts(runId).toArray()).toEqual([])
    expect(await filesUnder(path.join(t.dataDir, 'workspaces'))).toEqual([])
  })
})
