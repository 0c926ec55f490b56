import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import type { WharfClient } from '@wharf/client'
import type { DatastoreFile } from '@wharf/contract'

/** A running {@link startListingServer}. */
export interface ListingServer {
  /** The URL to give rclone's `http` backend: this server, a random secret, then the folder's root. */
  readonly url: string
  /** Files listed when it started. */
  readonly fileCount: number
  close(): Promise<void>
}

interface Folder {
  folders: Set<string>
  files: Map<string, DatastoreFile>
}

/** Response headers of the server's file route that rclone needs to read a file (or a range of it). */
const PASSED_HEADERS = ['content-length', 'content-range', 'content-type', 'accept-ranges', 'last-modified', 'etag']

/**
 * A loopback HTTP server that shows a datastore folder the way rclone's read-only `http` backend reads
 * one: HTML indexes of its folders (listed once, at the start: the mount shows the inputs as they were
 * then) and its files, each read (by ranges) through the Wharf server's file route with the run token.
 * So any datastore kind the server reaches (S3, Azure Files, a folder on the server's machine) mounts
 * read-only without its storage keys leaving the server. A request without the random secret in its
 * path is refused, so no other local user reads through it.
 */
export async function startListingServer(options: {
  client: WharfClient
  datastore: string
  /** The folder in the datastore ('' for the whole datastore). */
  folder: string
  signal?: AbortSignal
}): Promise<ListingServer> {
  const { client, datastore } = options
  const prefix = options.folder === '' ? '' : `${options.folder}/`
  const files = await client
    .listDatastoreFiles(datastore, { ...(prefix ? { prefix } : {}), ...(options.signal ? { signal: options.signal } : {}) })
    .toArray()
  const tree = new Map<string, Folder>([['', { folders: new Set(), files: new Map() }]])
  const folderAt = (at: string): Folder => {
    let folder = tree.get(at)
    if (folder === undefined) {
      folder = { folders: new Set(), files: new Map() }
      tree.set(at, folder)
      const cut = at.lastIndexOf('/')
      folderAt(cut < 0 ? '' : at.slice(0, cut)).folders.add(at.slice(cut + 1))
    }
    return folder
  }
  for (const file of files) {
    const relative = file.path.slice(prefix.length)
    const cut = relative.lastIndexOf('/')
    folderAt(cut < 0 ? '' : relative.slice(0, cut)).files.set(relative.slice(cut + 1), file)
  }
  const secret = randomBytes(24).toString('base64url')
  const server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    void answer({
      incoming,
      outgoing,
      secret,
      tree,
      read: (relative, range) => readFile(client, { datastore, key: prefix + relative, range }),
    }).catch((error: unknown) => {
      if (!outgoing.headersSent) outgoing.writeHead(502, { 'content-type': 'text/plain' })
      outgoing.end(error instanceof Error ? error.message : 'the file could not be read')
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/${secret}/`,
    fileCount: files.length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

function readFile(
  client: WharfClient,
  options: { datastore: string; key: string; range: string | undefined },
): Promise<Response> {
  const match = /^bytes=(\d+)-(\d*)$/.exec(options.range ?? '')
  const range = match ? { start: Number(match[1]), ...(match[2] ? { end: Number(match[2]) } : {}) } : undefined
  return client.downloadDatastoreFile(options.datastore, options.key, range ? { range } : {})
}

async function answer(options: {
  incoming: IncomingMessage
  outgoing: ServerResponse
  secret: string
  tree: ReadonlyMap<string, Folder>
  read: (relative: string, range: string | undefined) => Promise<Response>
}): Promise<void> {
  const { incoming, outgoing, tree } = options
  incoming.resume()
  const pathname = new URL(incoming.url ?? '/', 'http://listing').pathname
  const root = `/${options.secret}/`
  if (!pathname.startsWith(root) || (incoming.method !== 'GET' && incoming.method !== 'HEAD')) {
    outgoing.writeHead(403, { 'content-type': 'text/plain' }).end('refused')
    return
  }
  const relative = decodeURIComponent(pathname.slice(root.length))
  if (relative === '' || relative.endsWith('/')) {
    const folder = tree.get(relative.replace(/\/$/, ''))
    if (folder === undefined) {
      outgoing.writeHead(404).end()
      return
    }
    const links = [
      ...[...folder.folders].sort().map((name) => `<a href="${encodeURIComponent(name)}/">${escapeHtml(name)}/</a>`),
      ...[...folder.files.keys()].sort().map((name) => `<a href="${encodeURIComponent(name)}">${escapeHtml(name)}</a>`),
    ]
    outgoing.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    outgoing.end(incoming.method === 'HEAD' ? undefined : `<html><body>\n${links.join('\n')}\n</body></html>\n`)
    return
  }
  const cut = relative.lastIndexOf('/')
  const file = tree.get(cut < 0 ? '' : relative.slice(0, cut))?.files.get(relative.slice(cut + 1))
  if (file === undefined) {
    outgoing.writeHead(tree.has(relative) ? 301 : 404, tree.has(relative) ? { location: `${pathname}/` } : {}).end()
    return
  }
  if (incoming.method === 'HEAD') {
    outgoing.writeHead(200, {
      'content-length': String(file.size),
      'last-modified': new Date(file.modifiedAt).toUTCString(),
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
    })
    outgoing.end()
    return
  }
  const range = typeof incoming.headers.range === 'string' ? incoming.headers.range : undefined
  const response = await options.read(relative, range)
  const headers: Record<string, string> = { 'last-modified': new Date(file.modifiedAt).toUTCString() }
  for (const name of PASSED_HEADERS) {
    const value = response.headers.get(name)
    if (value !== null) headers[name] = value
  }
  outgoing.writeHead(response.status, headers)
  if (response.body === null) {
    outgoing.end()
    return
  }
  await new Promise<void>((resolve, reject) => {
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>)
    body.once('error', reject)
    outgoing.once('close', () => {
      body.destroy()
      resolve()
    })
    body.pipe(outgoing)
  })
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
