import type { Readable } from 'node:stream'
import type { DatastoreKind, Page } from '@wharf/contract'
import type { DatastoreKey } from './key.js'

/** What a driver knows of one stored file. */
export interface FileInfo {
  key: DatastoreKey
  size: number
  /** ISO time of the last change. */
  modifiedAt: string
  /** Base64 MD5 of the content where the storage keeps one (Azure Content-MD5), else undefined. */
  contentMd5?: string
}

export interface PutOptions {
  /** Declared size in bytes, when known; a body of another length fails the put and stores nothing. */
  size?: number
  contentType?: string
  signal?: AbortSignal
}

/** What a put stored: byte count and digests computed while streaming. */
export interface PutResult {
  size: number
  /** Hex SHA-256 of the content. */
  sha256: string
  /** Base64 MD5 of the content (the form Content-MD5 uses). */
  md5: string
}

export interface GetOptions {
  /** Inclusive byte range; `end` defaults to the last byte. */
  range?: { start: number; end?: number }
  signal?: AbortSignal
}

export interface ListOptions {
  /** A string prefix of the key (`a/b` matches `a/b.txt` and `a/b/c`). */
  prefix?: string
  pageSize?: number
  signal?: AbortSignal
}

/** An async iterable of items that can also be walked a page at a time. */
export interface PagedIterable<T> extends AsyncIterable<T> {
  /** Pages in order; `pageToken` (a `nextPageToken` from an earlier page) resumes after that page. */
  byPage(options?: { pageSize?: number; pageToken?: string }): AsyncIterable<Page<T>>
}

/**
 * One kind of storage (a folder, a blob container, a file share, a bucket) behind one interface. Bytes
 * flow as streams and are never held whole in memory. Errors are WharfErrors: FILE_NOT_FOUND for a
 * missing key, DATASTORE_UNAVAILABLE (with the cause kept) when the storage cannot be reached.
 */
export interface DatastoreDriver {
  readonly kind: DatastoreKind

  /**
   * Streams `body` to `key`, replacing what is there. Atomic: a reader sees the old content or the
   * whole new content, never a part; a failed or aborted put leaves no partial file behind.
   */
  put(key: DatastoreKey, body: Readable, options?: PutOptions): Promise<PutResult>
  /** Streams the content (or a byte range of it). FILE_NOT_FOUND if the key is missing. */
  get(key: DatastoreKey, options?: GetOptions): Promise<Readable>
  /** The file's info, or undefined when it does not exist. */
  stat(key: DatastoreKey, options?: { signal?: AbortSignal }): Promise<FileInfo | undefined>
  /** Idempotent: deleting a missing key resolves. */
  delete(key: DatastoreKey, options?: { signal?: AbortSignal }): Promise<void>
  /** Files (never folders) whose key starts with the prefix, in key order, paged. */
  list(options?: ListOptions): PagedIterable<FileInfo>
  /**
   * Checks that the storage exists and can be reached with the configured credentials; with `create`,
   * creates it first. Throws DATASTORE_UNAVAILABLE (or FORBIDDEN for refused credentials) otherwise.
   */
  validate(options?: { create?: boolean; signal?: AbortSignal }): Promise<void>
}
