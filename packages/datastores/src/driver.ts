import type { Readable } from 'node:stream'
import type { DatastoreKind, PagedIterable } from '@wharf/contract'
import type { DatastoreKey } from './key.js'

export type { PagedIterable } from '@wharf/contract'

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
  /**
   * Store only if no file is at the key yet, decided by the storage itself (a conditional write, not a
   * check before it), so of writers racing anywhere, on any machine, at most one succeeds. The others get
   * FILE_EXISTS and store nothing.
   */
  ifNotExists?: boolean
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

/** Options for {@link DatastoreDriver.putFile}. */
export interface PutFileOptions {
  /** The size the caller saw; a file of another size when it is read fails the put (INVALID_ARGUMENT) and stores nothing. */
  size?: number
  /**
   * Leave making the file durable to a later {@link DatastoreDriver.syncKeys} of its key, which the caller
   * must await before it tells anyone the file is stored (one batched step is much cheaper than one per
   * file). Ignored by storages where a finished put is always durable.
   */
  deferSync?: boolean
  /** As {@link PutOptions.ifNotExists}: FILE_EXISTS, and nothing stored, when a file is at the key. */
  ifNotExists?: boolean
  signal?: AbortSignal
}

/** What a {@link DatastoreDriver.putFile} stored. */
export interface PutFileResult {
  size: number
  /** Base64 MD5 of the content, when the driver computed one (it always does when the storage keeps one). */
  md5?: string
}

/** Options for {@link DatastoreDriver.getFile}. */
export interface GetFileOptions {
  signal?: AbortSignal
}

export interface ListOptions {
  /** A string prefix of the key (`a/b` matches `a/b.txt` and `a/b/c`). */
  prefix?: string
  pageSize?: number
  signal?: AbortSignal
  /**
   * Told of each stored name the listing leaves out because no key (and so no local path) can have it,
   * such as `a/../b` or `folder/` written by another tool, before the page it falls in is returned.
   */
  onSkipped?: (skipped: SkippedName) => void
}

/** A stored name that is no key, left out of a listing, and why. */
export interface SkippedName {
  /** The name as the storage has it. */
  name: string
  size: number
  modifiedAt: string
  /** Why it cannot be a key, e.g. `".." segments are not allowed; …`. */
  reason: string
}

/**
 * One kind of storage (a folder, a blob container, a file share, a bucket) behind one interface. Bytes
 * flow as streams and are never held whole in memory. Errors are WharfErrors: FILE_NOT_FOUND for a
 * missing key, DATASTORE_UNAVAILABLE (with the cause kept) when the storage cannot be reached.
 */
export interface DatastoreDriver {
  readonly kind: DatastoreKind

  /**
   * Streams `body` to `key`, replacing what is there (unless `ifNotExists`: then FILE_EXISTS when a file
   * is there). Atomic: a reader sees the old content or the whole new content, never a part; a failed or
   * aborted put leaves no partial file behind.
   */
  put(key: DatastoreKey, body: Readable, options?: PutOptions): Promise<PutResult>
  /**
   * Optional fast path for a file on this machine: stores the local file at `localPath` under `key` (with
   * the same promises as {@link put}) without streaming it through the caller, e.g. as a kernel copy. An
   * error of reading `localPath` itself comes back as the untranslated system error (ENOENT, EACCES, …), so
   * the caller can name its own file; errors of the storage are WharfErrors as for `put`.
   */
  putFile?(key: DatastoreKey, localPath: string, options?: PutFileOptions): Promise<PutFileResult>
  /**
   * Makes the files that {@link putFile} stored with `deferSync` at these keys durable (their content and
   * their names). Throws DATASTORE_UNAVAILABLE naming the storage when it cannot confirm that. Present
   * exactly when `putFile` honours `deferSync`.
   */
  syncKeys?(keys: readonly DatastoreKey[], options?: { signal?: AbortSignal }): Promise<void>
  /**
   * Optional fast path for a file on this machine: copies the stored file to a new file at `targetPath`
   * (which must not exist; its folder must) without streaming it through the caller, and resolves with
   * the bytes written. Verifies nothing: the caller compares the size with what it expected. FILE_NOT_FOUND
   * if the key is missing; an error of writing `targetPath` comes back as the untranslated system error.
   * A failed copy may leave a partial file at `targetPath`, which the caller removes.
   */
  getFile?(key: DatastoreKey, targetPath: string, options?: GetFileOptions): Promise<{ size: number }>
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
