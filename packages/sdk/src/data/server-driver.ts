import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import type { WharfClient } from '@wharf/client'
import { WharfError, isWharfError, mapPage, paginate } from '@wharf/contract'
import {
  HashingStream,
  checkGet,
  feedBody,
  toDatastoreKey,
  type DatastoreDriver,
  type DatastoreKey,
  type FileInfo,
  type GetOptions,
  type ListOptions,
  type PagedIterable,
  type PutOptions,
  type PutResult,
} from '@wharf/datastores'

/**
 * A datastore reached through the Wharf server's file routes: what a client uses when it may not
 * touch the storage itself (S3, a SAS-only Azure registration, a folder on another machine). The
 * server streams the bytes; nothing is buffered whole on either side.
 */
export function createServerDriver(
  client: WharfClient,
  datastore: { name: string; kind: DatastoreDriver['kind'] },
): DatastoreDriver {
  return new ServerDriver(client, datastore)
}

class ServerDriver implements DatastoreDriver {
  readonly kind: DatastoreDriver['kind']
  readonly #client: WharfClient
  readonly #name: string

  constructor(client: WharfClient, datastore: { name: string; kind: DatastoreDriver['kind'] }) {
    this.#client = client
    this.#name = datastore.name
    this.kind = datastore.kind
  }

  async put(key: DatastoreKey, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    const safe = toDatastoreKey(key)
    // Hash on this side too: the result must describe the bytes this caller sent.
    const hasher = new HashingStream(options.size === undefined ? {} : { size: options.size })
    // A body that fails or closes early fails the upload, with the body's own error.
    const feed = feedBody(body, hasher)
    let stored
    try {
      stored = await this.#client.uploadDatastoreFile(this.#name, {
        path: safe,
        body: Readable.toWeb(hasher) as ReadableStream<Uint8Array>,
        // A conditional put asks the server for its no-overwrite upload, which the storage enforces.
        overwrite: options.ifNotExists !== true,
        ...(options.size !== undefined ? { size: options.size } : {}),
        ...(options.contentType !== undefined ? { contentType: options.contentType } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      })
    } catch (error) {
      // The request broke off because of the caller's own failure, which the transport's error would only
      // report as the server going away.
      throw feed.callerError() ?? error
    } finally {
      feed.release()
    }
    const sent = hasher.result()
    if (sent.size !== stored.size || sent.sha256 !== stored.sha256) {
      throw new WharfError(
        'DATASTORE_UNAVAILABLE',
        `the server stored ${stored.size} bytes of "${safe}" but ${sent.size} were sent; upload it again`,
      )
    }
    return sent
  }

  async get(key: DatastoreKey, options: GetOptions = {}): Promise<Readable> {
    const safe = toDatastoreKey(key)
    // A range that is no range would be ignored by HTTP (the whole file sent): refuse it as every driver does.
    checkGet(options)
    const response = await this.#client.downloadDatastoreFile(this.#name, safe, {
      ...(options.range ? { range: options.range } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    })
    if (!response.body) return Readable.from([])
    return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>)
  }

  async stat(key: DatastoreKey, options: { signal?: AbortSignal } = {}): Promise<FileInfo | undefined> {
    const safe = toDatastoreKey(key)
    // The key itself sorts first among the keys it prefixes, so one item answers.
    for await (const page of this.#client
      .listDatastoreFiles(this.#name, { prefix: safe, pageSize: 1, ...(options.signal ? { signal: options.signal } : {}) })
      .byPage()) {
      const first = page.items[0]
      return first?.path === safe ? toInfo(first) : undefined
    }
    return undefined
  }

  async delete(key: DatastoreKey, options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      await this.#client.deleteDatastoreFile(this.#name, toDatastoreKey(key), options.signal ? { signal: options.signal } : {})
    } catch (error) {
      // A driver's delete of a missing key resolves (DatastoreDriver.delete); the server says it deleted nothing.
      if (!isWharfError(error, 'FILE_NOT_FOUND')) throw error
    }
  }

  list(options: ListOptions = {}): PagedIterable<FileInfo> {
    return paginate(async (pageToken, pageSize) => {
      const size = pageSize ?? options.pageSize
      for await (const page of this.#client
        .listDatastoreFiles(this.#name, {
          ...(options.prefix ? { prefix: options.prefix } : {}),
          ...(size !== undefined ? { pageSize: size } : {}),
          ...(pageToken ? { pageToken } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        })
        .byPage()) {
        for (const { path, size, modifiedAt, reason } of page.skipped ?? [])
          options.onSkipped?.({ name: path, size, modifiedAt, reason })
        return mapPage(page, toInfo)
      }
      return { items: [] }
    })
  }

  /** The server validated the storage when it was registered; this checks it still answers a listing. */
  async validate(options: { create?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    for await (const page of this.list({ pageSize: 1, ...(options.signal ? { signal: options.signal } : {}) }).byPage()) {
      void page
      return
    }
  }
}

function toInfo(file: { path: string; size: number; modifiedAt: string; contentMd5?: string | undefined }): FileInfo {
  return {
    key: toDatastoreKey(file.path),
    size: file.size,
    modifiedAt: file.modifiedAt,
    ...(file.contentMd5 !== undefined ? { contentMd5: file.contentMd5 } : {}),
  }
}
