import type { Readable } from 'node:stream'
import { addAbortSignal } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  ShareServiceClient,
  StorageSharedKeyCredential,
  type ShareClient,
  type ShareClientOptions,
  type ShareDirectoryClient,
  type ShareFileClient,
} from '@azure/storage-file-share'
import { DEFAULT_LIMITS, WharfError, isWharfError, printable } from '@wharf/contract'
import {
  azureAccessError,
  downloadStream,
  errorCodeOf,
  infoOfProperties,
  signalOption,
  statusOf,
  type AzureAuth,
} from '../azure-common.js'
import { fileExists, fileNotFound, plainCause } from '../driver-errors.js'
import type { DatastoreDriver, FileInfo, GetOptions, ListOptions, PagedIterable, PutOptions, PutResult } from '../driver.js'
import { BlockUpload } from '../block-upload.js'
import { HashingStream, feedBody, rethrowCallerFailure } from '../hashing.js'
import {
  RESERVED_SEGMENT_PREFIX,
  entryProblemOf,
  tempSegmentName,
  toDatastoreKey,
  toKeyPrefix,
  type DatastoreKey,
} from '../key.js'
import { listPageSize, paginateWalk, walkFolderEntries, type FolderEntry, type WalkStep } from '../paging.js'
import { checkGet, rangeWithin } from '../range.js'

/** How the driver signs its requests: the storage account key, or a SAS token for the share. */
export type AzureFileCredential = { kind: 'key'; accountKey: string } | { kind: 'sas'; sasToken: string }

/** Options for {@link createAzureFileDriver}. */
export interface AzureFileDriverOptions {
  accountName: string
  shareName: string
  credential: AzureFileCredential
  /**
   * The file service URL, without a query; default `https://<account>.file.core.windows.net`. An IP
   * address or localhost endpoint names the account in its path (`http://127.0.0.1:PORT/<account>`),
   * but puts cannot work there: the SDK's rename (12.29) drops that account segment.
   */
  endpoint?: string
  /** A folder inside the share (`a/b`) that is the datastore's root; default the share's own root. */
  rootDirectory?: string
  /** How many ranges of one put are uploaded at the same time (default 4). */
  concurrency?: number
  /** How many times the SDK tries each request before reporting its failure (default 4). */
  maxTries?: number
}

interface Signal {
  signal?: AbortSignal | undefined
}

interface Where {
  accountName: string
  shareName: string
  endpoint: string
  rootDirectory: string
  auth: AzureAuth
}

/** One listed name of a folder, with what the listing says of it, or one no key can have, left out. */
type Entry = FolderEntry<{ size: number; modifiedAt: Date | undefined }>

interface Folder {
  /** The key prefix of the folder's entries (`a/b/`, or '' at the root). */
  keyPrefix: string
  /** Only names starting with this are listed (the last part of a listing prefix). */
  namePrefix: string
  after: string | undefined
  signal: AbortSignal | undefined
}

/** Bytes per uploaded range: the most one Put Range may carry. */
const RANGE_SIZE = 4 * 1024 * 1024
/** The largest file Azure Files stores (4 TiB). */
const MAX_FILE_SIZE = 4 * 1024 * 1024 * 1024 * 1024
/** A temp file of unknown final size grows by at most this much at a time. */
const MAX_GROWTH = 1024 * 1024 * 1024
/** Characters Azure Files refuses in a name (besides `/` and `\`, which a key never has in one). */
const FORBIDDEN_CHARS = /["*:<>?|]/
const SHARE_NAME = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/
const UNAVAILABLE_CODES = new Set(['ShareNotFound', 'ShareBeingDeleted', 'ShareDisabled'])

/**
 * A datastore in an Azure Files share, or in a folder of one. Puts write a temp file in the target's
 * folder in ranges of 4 MiB, set its Content-MD5 and rename it over the target, so readers only ever
 * see whole files; folders are created as needed and pruned when their last file is deleted. Throws
 * INVALID_ARGUMENT for unusable options. The account key or SAS token never appears in an error.
 */
export function createAzureFileDriver(options: AzureFileDriverOptions): DatastoreDriver {
  const { accountName, shareName, credential } = options
  if (typeof accountName !== 'string' || accountName === '') {
    throw new WharfError('INVALID_ARGUMENT', 'an azure_file datastore needs the storage account name (option "accountName")')
  }
  if (typeof shareName !== 'string' || !SHARE_NAME.test(shareName)) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `the Azure Files share name "${printable(String(shareName))}" is not one (option "shareName"): use 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit`,
    )
  }
  const concurrency = wholeNumberOption(options.concurrency, { name: 'concurrency', fallback: 4 })
  const maxTries = wholeNumberOption(options.maxTries, { name: 'maxTries', fallback: 4 })
  const endpoint = endpointOf(options.endpoint, accountName)
  const rootDirectory = rootDirectoryOf(options.rootDirectory)
  // Without this the service trims a trailing dot, so the key "v1." would be stored as "v1".
  const clientOptions: ShareClientOptions = { retryOptions: { maxTries }, allowTrailingDot: true, allowSourceTrailingDot: true }
  let service: ShareServiceClient
  if (credential?.kind === 'key') {
    if (!credential.accountKey)
      throw new WharfError('INVALID_ARGUMENT', 'an azure_file datastore with key auth needs the account key')
    service = new ShareServiceClient(endpoint, new StorageSharedKeyCredential(accountName, credential.accountKey), clientOptions)
  } else if (credential?.kind === 'sas') {
    const sas = (credential.sasToken ?? '').replace(/^\?/, '')
    if (!sas) throw new WharfError('INVALID_ARGUMENT', 'an azure_file datastore with SAS auth needs the SAS token')
    service = new ShareServiceClient(`${endpoint}?${sas}`, undefined, clientOptions)
  } else {
    throw new WharfError(
      'INVALID_ARGUMENT',
      'an azure_file datastore needs a credential: { kind: "key", accountKey } or { kind: "sas", sasToken }',
    )
  }
  let share: ShareClient
  try {
    share = service.getShareClient(shareName)
  } catch (cause) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `the azure_file endpoint ${endpoint} is not one the SDK can address share "${shareName}" under; an IP address or localhost endpoint names the account in its path: http://127.0.0.1:PORT/${accountName}`,
      { cause },
    )
  }
  return new AzureFileDriver({
    share,
    where: { accountName, shareName, endpoint, rootDirectory, auth: credential.kind },
    concurrency,
  })
}

class AzureFileDriver implements DatastoreDriver {
  readonly kind = 'azure_file' as const
  readonly #share: ShareClient
  readonly #where: Where
  readonly #root: readonly string[]
  readonly #concurrency: number

  constructor(options: { share: ShareClient; where: Where; concurrency: number }) {
    this.#share = options.share
    this.#where = options.where
    this.#root = options.where.rootDirectory === '' ? [] : options.where.rootDirectory.split('/')
    this.#concurrency = options.concurrency
  }

  async put(key: DatastoreKey, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    const { signal, size } = options
    const safe = storableKey(key)
    const hasher = new HashingStream(size === undefined ? {} : { size })
    if (size !== undefined && size > MAX_FILE_SIZE) throw tooBig(safe)
    signal?.throwIfAborted()
    const segments = safe.split('/')
    const name = segments.pop() ?? safe
    const folder = [...this.#root, ...segments]
    if (signal) addAbortSignal(signal, hasher)
    // The hasher's error is read where it is iterated; until then (while the temp file is being created) it must not go unhandled.
    hasher.on('error', () => undefined)
    const feed = feedBody(body, hasher)
    let temp: ShareFileClient | undefined
    let ranges: BlockUpload | undefined
    try {
      const file = await this.#createTemp({ folder, size: size ?? 0, key: safe, signal })
      temp = file
      let length = size ?? 0
      ranges = new BlockUpload(hasher, {
        blockSize: RANGE_SIZE,
        concurrency: this.#concurrency,
        prepare: async ({ data, offset }) => {
          const end = offset + data.length
          if (end > MAX_FILE_SIZE) throw tooBig(safe)
          if (end > length) {
            // The size is unknown, so the file grows ahead of the ranges and is cut to size at the end.
            length = Math.min(MAX_FILE_SIZE, end + Math.min(Math.max(length, RANGE_SIZE * this.#concurrency), MAX_GROWTH))
            await file.resize(length, signalOption(signal))
          }
        },
        send: ({ data, offset }) => file.uploadRange(data, offset, data.length, signalOption(signal)),
      })
      await ranges.finish(await ranges.sendFullBlocks())
      signal?.throwIfAborted()
      const result = hasher.result()
      if (length !== result.size) await file.resize(result.size, signalOption(signal))
      // Set after the last resize, which clears the content headers.
      await file.setHttpHeaders(
        {
          fileContentMD5: Buffer.from(result.md5, 'base64'),
          ...(options.contentType === undefined ? {} : { fileContentType: options.contentType }),
        },
        signalOption(signal),
      )
      await this.#replace(file, { path: [...folder, name].join('/'), key: safe, signal, replace: options.ifNotExists !== true })
      temp = undefined
      return result
    } catch (error) {
      hasher.destroy()
      await ranges?.settle()
      // Without the caller's signal, which may be the reason for stopping. The put's own error is what the caller needs.
      await temp?.deleteIfExists().catch(() => undefined)
      rethrowCallerFailure(feed, error, signal)
      throw this.#translate(ranges?.failure ?? error, { action: `write "${printable(safe)}"` })
    } finally {
      feed.release()
    }
  }

  async get(key: DatastoreKey, options: GetOptions = {}): Promise<Readable> {
    const { signal, range } = options
    const safe = storableKey(key)
    checkGet(options)
    const file = this.#file(safe)
    try {
      return await downloadStream(file, { key: safe, range, signal })
    } catch (error) {
      if (isMissing(error)) throw fileNotFound(safe, error)
      if (!(statusOf(error) === 416 && range)) throw this.#translate(error, { action: `read "${printable(safe)}"` })
    }
    // Refused range: say how big the file is, as the other drivers do, or read it with the end cut to the last byte.
    const info = await this.stat(safe, signal ? { signal } : {})
    if (!info) throw fileNotFound(safe)
    const span = rangeWithin(range, { size: info.size, key: safe })
    try {
      return await downloadStream(file, { key: safe, range: span, signal })
    } catch (error) {
      if (isMissing(error)) throw fileNotFound(safe, error)
      throw this.#translate(error, { action: `read "${printable(safe)}"` })
    }
  }

  async stat(key: DatastoreKey, options: Signal = {}): Promise<FileInfo | undefined> {
    const safe = storableKey(key)
    options.signal?.throwIfAborted()
    try {
      return infoOfProperties(safe, await this.#file(safe).getProperties(signalOption(options.signal)))
    } catch (error) {
      if (isMissing(error)) return undefined
      throw this.#translate(error, { action: `read "${printable(safe)}"` })
    }
  }

  async delete(key: DatastoreKey, options: Signal = {}): Promise<void> {
    const safe = storableKey(key)
    const { signal } = options
    signal?.throwIfAborted()
    try {
      await this.#file(safe).delete(signalOption(signal))
    } catch (error) {
      if (isMissing(error)) return
      throw this.#translate(error, { action: `delete "${printable(safe)}"` })
    }
    // Folders exist only to hold files (as in object stores); pruning keeps a later put of `a` possible after `a/b` is gone.
    const segments = safe.split('/').slice(0, -1)
    for (let depth = segments.length; depth > 0; depth--) {
      try {
        await this.#directory([...this.#root, ...segments.slice(0, depth)]).delete(signalOption(signal))
      } catch {
        // Not empty (the usual case), gone already, or unreachable: the file is deleted either way, and the folder stays.
        return
      }
    }
  }

  list(options: ListOptions = {}): PagedIterable<FileInfo> {
    const prefix = toKeyPrefix(options.prefix ?? '')
    checkStorable(prefix, 'prefix')
    const { signal } = options
    return paginateWalk({
      pageSize: listPageSize(options.pageSize, DEFAULT_LIMITS.pageSize),
      signal,
      onSkipped: options.onSkipped,
      walk: (after) => {
        const cut = prefix.lastIndexOf('/')
        return this.#walk({ keyPrefix: prefix.slice(0, cut + 1), namePrefix: prefix.slice(cut + 1), after, signal })
      },
    })
  }

  async validate(options: { create?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options
    signal?.throwIfAborted()
    // Listing one entry needs no more than a share SAS with list permission, unlike reading the share's properties.
    let missing: 'share' | 'root'
    try {
      await this.#directory(this.#root).listFilesAndDirectories(signalOption(signal)).byPage({ maxPageSize: 1 }).next()
      return
    } catch (error) {
      if (errorCodeOf(error) === 'ShareNotFound') missing = 'share'
      else if (this.#root.length > 0 && isMissing(error)) missing = 'root'
      else throw this.#translate(error, { action: 'check the share' })
      if (!options.create)
        throw missing === 'share' ? this.#translate(error, { action: 'check the share' }) : this.#rootMissing(error)
    }
    if (missing === 'share') {
      try {
        await this.#share.createIfNotExists(signalOption(signal))
      } catch (error) {
        throw this.#translate(error, { action: 'create the share' })
      }
    }
    try {
      await this.#createFolders(this.#root, { from: 0, signal })
    } catch (error) {
      throw this.#translate(error, { action: `create the folder "${printable(this.#where.rootDirectory)}"` })
    }
  }

  #directory(segments: readonly string[]): ShareDirectoryClient {
    return segments.length === 0 ? this.#share.rootDirectoryClient : this.#share.getDirectoryClient(segments.join('/'))
  }

  #file(key: DatastoreKey): ShareFileClient {
    const segments = key.split('/')
    const name = segments.pop() ?? key
    return this.#directory([...this.#root, ...segments]).getFileClient(name)
  }

  /** Creates a new, empty temp file of `size` bytes in `folder`, creating the folders it needs first. */
  async #createTemp(options: {
    folder: readonly string[]
    size: number
    key: string
    signal: AbortSignal | undefined
  }): Promise<ShareFileClient> {
    const { folder, size, key, signal } = options
    // A concurrent delete may prune a folder between creating it and creating the temp file in it.
    for (let attempt = 1; ; attempt++) {
      const file = this.#directory(folder).getFileClient(tempSegmentName())
      let failure: unknown
      try {
        await file.create(size, signalOption(signal))
        return file
      } catch (error) {
        failure = error
      }
      if (!isMissing(failure)) throw failure
      if (attempt > 1 || folder.length === this.#root.length) {
        // Creating the folders did not help (or there are none to create): say why.
        if (this.#root.length > 0 && !(await exists(this.#directory(this.#root).getProperties(signalOption(signal))))) {
          throw this.#rootMissing(failure)
        }
        const blocker = await this.#fileInTheWay(folder, signal)
        if (blocker !== undefined) throw fileInTheWay(key, blocker, failure)
        if (attempt >= 5 || folder.length === this.#root.length) throw failure
      }
      try {
        await this.#createFolders(folder, { from: this.#root.length, signal })
      } catch (error) {
        // A parent pruned meanwhile, a missing root, or a file in the way: the next attempt tells them apart.
        if (!isMissing(error)) throw error
      }
    }
  }

  /** Creates each missing folder of `segments` below the first `from` of them; one that already exists is fine. */
  async #createFolders(segments: readonly string[], options: { from: number; signal: AbortSignal | undefined }): Promise<void> {
    for (let depth = options.from + 1; depth <= segments.length; depth++) {
      await this.#directory(segments.slice(0, depth)).createIfNotExists(signalOption(options.signal))
    }
  }

  /** The key part of `folder` that is a file rather than a folder, if one is. */
  async #fileInTheWay(folder: readonly string[], signal: AbortSignal | undefined): Promise<string | undefined> {
    for (let depth = this.#root.length + 1; depth <= folder.length; depth++) {
      const file = this.#directory(folder.slice(0, depth - 1)).getFileClient(folder[depth - 1] ?? '')
      if (await exists(file.getProperties(signalOption(signal)))) return folder.slice(this.#root.length, depth).join('/')
    }
    return undefined
  }

  /**
   * Renames the finished temp file over the target; a rename that conflicts with another in flight is tried
   * again. Without `replace` the share refuses the rename when a file is there (replaceIfExists: false): the
   * best Azure Files offers, one server-side check-and-rename, which keeps a concurrent writer from being
   * overwritten (decision 0016).
   */
  async #replace(
    temp: ShareFileClient,
    options: { path: string; key: string; signal: AbortSignal | undefined; replace: boolean },
  ): Promise<void> {
    const { path, key, signal } = options
    for (let attempt = 1; ; attempt++) {
      try {
        await temp.rename(path, { replaceIfExists: options.replace, ...signalOption(signal) })
        return
      } catch (error) {
        const status = statusOf(error)
        if (status !== 409 && status !== 400) throw error
        if (await exists(this.#share.getDirectoryClient(path).getProperties(signalOption(signal)))) throw isAFolder(key, error)
        if (
          !options.replace &&
          (await exists(this.#share.rootDirectoryClient.getFileClient(path).getProperties(signalOption(signal))))
        )
          throw fileExists(key, error)
        if (status === 400 || attempt >= 3) throw error
        await sleep(100 * attempt, undefined, signal ? { signal } : {})
      }
    }
  }

  /**
   * Every file under the folder after `after`, in key byte order, listing one folder at a time, and in that
   * order the names no key can have (a folder once, for all under it).
   */
  async *#walk(folder: Folder): AsyncGenerator<WalkStep> {
    yield* walkFolderEntries(await this.#read(folder), {
      keyPrefix: folder.keyPrefix,
      after: folder.after,
      file: (entry, key) => ({ key, size: entry.size, modifiedAt: (entry.modifiedAt ?? new Date()).toISOString() }),
      folder: (_entry, { keyPrefix, after }) => this.#walk({ keyPrefix, namePrefix: '', after, signal: folder.signal }),
    })
  }

  /**
   * The entries of one folder, those no key can have marked as left out; none when the folder does
   * not exist (any more). Temp files of puts are not entries.
   */
  async #read(folder: Folder): Promise<Entry[]> {
    const { keyPrefix, namePrefix, signal } = folder
    signal?.throwIfAborted()
    const segments = keyPrefix === '' ? [] : keyPrefix.slice(0, -1).split('/')
    const listing = this.#directory([...this.#root, ...segments]).listFilesAndDirectories({
      ...(namePrefix === '' ? {} : { prefix: namePrefix }),
      includeTimestamps: true,
      includeExtendedInfo: true,
      ...signalOption(signal),
    })
    const entries: Entry[] = []
    try {
      // The service does not promise an order, so a whole folder is read before its entries are sorted.
      for await (const page of listing.byPage({ maxPageSize: 5000 })) {
        for (const item of page.segment.fileItems) {
          // Uploads in progress (or left by a crash) are the driver's own, never the user's files.
          if (!item.name.startsWith(namePrefix) || item.name.startsWith(RESERVED_SEGMENT_PREFIX)) continue
          const modifiedAt = item.properties.lastModified ?? item.properties.lastWriteTime
          entries.push(
            entryOf({
              name: item.name,
              kind: 'file',
              size: item.properties.contentLength,
              modifiedAt,
              order: Buffer.from(item.name),
              keyPrefix,
            }),
          )
        }
        for (const item of page.segment.directoryItems) {
          if (!item.name.startsWith(namePrefix)) continue
          const modifiedAt = item.properties?.lastModified ?? item.properties?.lastWriteTime
          entries.push(
            entryOf({ name: item.name, kind: 'folder', size: 0, modifiedAt, order: Buffer.from(`${item.name}/`), keyPrefix }),
          )
        }
      }
    } catch (error) {
      if (isMissing(error)) {
        if (segments.length === 0 && this.#root.length > 0) throw this.#rootMissing(error)
        return []
      }
      throw this.#translate(error, { action: `list "${printable(keyPrefix + namePrefix)}"` })
    }
    return entries
  }

  #rootMissing(cause: unknown): WharfError {
    const { accountName, shareName, endpoint, rootDirectory } = this.#where
    return new WharfError(
      'DATASTORE_UNAVAILABLE',
      `the folder "${printable(rootDirectory)}" does not exist in the Azure Files share "${shareName}" of the storage account "${accountName}"; create it, or validate the datastore with create`,
      { details: { accountName, shareName, endpoint, rootDirectory }, cause: plainCause(cause) },
    )
  }

  /** A WharfError for the failures this driver knows; anything else as it is. */
  #translate(error: unknown, options: { action: string }): unknown {
    if (isWharfError(error)) return error
    const { accountName, shareName, endpoint, rootDirectory, auth } = this.#where
    const details = { accountName, shareName, endpoint, ...(rootDirectory === '' ? {} : { rootDirectory }) }
    const target = { what: `the Azure Files share "${shareName}"`, accountName, endpoint, auth, details }
    const known = azureAccessError(error, { action: options.action, target })
    if (known) return known
    const code = errorCodeOf(error)
    const what = `the Azure Files share "${shareName}" of the storage account "${accountName}"`
    if (code === 'ShareNotFound') {
      return new WharfError(
        'DATASTORE_UNAVAILABLE',
        `could not ${options.action}: ${what} does not exist; create it, or validate the datastore with create (which creates it with createIfNotExists)`,
        { details, cause: plainCause(error) },
      )
    }
    if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
      return new WharfError(
        'DATASTORE_UNAVAILABLE',
        `could not ${options.action}: ${what} cannot be used now (${code}); check the share in the Azure portal`,
        {
          details,
          cause: plainCause(error),
        },
      )
    }
    return plainCause(error)
  }
}

function wholeNumberOption(value: number | undefined, options: { name: string; fallback: number }): number {
  const number = value ?? options.fallback
  if (!(Number.isSafeInteger(number) && number > 0)) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `the option "${options.name}" of an azure_file datastore is ${String(value)}; give a whole number ≥ 1`,
    )
  }
  return number
}

/** The service URL without a trailing `/`; never echoes a query, which may be a SAS token. */
function endpointOf(raw: string | undefined, accountName: string): string {
  const text = raw ?? `https://${accountName}.file.core.windows.net`
  let url: URL
  try {
    url = new URL(text)
  } catch (cause) {
    const which = raw === undefined ? `the account name "${printable(accountName)}" does not make one` : 'it is not a URL'
    throw new WharfError(
      'INVALID_ARGUMENT',
      `the azure_file endpoint is not usable: ${which}; give a URL such as https://<account>.file.core.windows.net`,
      {
        cause,
      },
    )
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new WharfError('INVALID_ARGUMENT', `the azure_file endpoint must be an http(s) URL, not ${url.protocol}`)
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `the azure_file endpoint ${url.origin}${url.pathname} must have no query, fragment or user; give a SAS token as the credential { kind: "sas", sasToken }`,
    )
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '')
}

function rootDirectoryOf(raw: string | undefined): string {
  if (raw === undefined || raw === '' || raw === '/') return ''
  try {
    return storableKey(String(raw).replace(/^\/+/, ''))
  } catch (cause) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `the option "rootDirectory" of an azure_file datastore is not a usable folder: ${(cause as Error).message}`,
      {
        cause,
      },
    )
  }
}

/** A checked key that Azure Files can also store as a path; UNSAFE_PATH otherwise. */
function storableKey(raw: string): DatastoreKey {
  const key = toDatastoreKey(raw)
  checkStorable(key, 'key')
  return key
}

function checkStorable(text: string, what: 'key' | 'prefix'): void {
  const forbidden = FORBIDDEN_CHARS.exec(text)?.[0]
  if (forbidden === undefined) return
  throw new WharfError(
    'UNSAFE_PATH',
    `the datastore ${what} "${printable(text)}" is not allowed: Azure Files names cannot contain ${forbidden} (nor any of " * : < > ? |); choose a name without them`,
    { details: { [what]: printable(text, 1024) } },
  )
}

/** A listed name as an entry of its folder, or left out with the reason when no key can have it. */
function entryOf(listed: {
  name: string
  kind: 'file' | 'folder'
  size: number
  modifiedAt: Date | undefined
  order: Buffer
  keyPrefix: string
}): Entry {
  const { keyPrefix, ...entry } = listed
  const reason = entryProblemOf(keyPrefix + entry.name, { folder: entry.kind === 'folder' })
  if (reason === undefined) return entry
  const modifiedAt = (entry.modifiedAt ?? new Date()).toISOString()
  return { kind: 'skipped', skipped: { name: keyPrefix + entry.name, size: entry.size, modifiedAt, reason }, order: entry.order }
}

/** Whether the resource a request (such as getProperties) asks about exists; other failures are thrown. */
async function exists(request: Promise<unknown>): Promise<boolean> {
  try {
    await request
    return true
  } catch (error) {
    if (isMissing(error)) return false
    throw error
  }
}

/** True for a file that does not exist: a 404 other than the share's own, or a folder where a file was asked for. */
function isMissing(error: unknown): boolean {
  const code = errorCodeOf(error)
  return (statusOf(error) === 404 && code !== 'ShareNotFound') || code === 'ResourceTypeMismatch'
}

function tooBig(key: string): WharfError {
  return new WharfError(
    'INVALID_ARGUMENT',
    `cannot store "${printable(key)}": an Azure Files file holds at most ${MAX_FILE_SIZE} bytes (4 TiB)`,
    {
      details: { key: printable(key, 1024) },
    },
  )
}

function isAFolder(key: string, cause: unknown): WharfError {
  return new WharfError(
    'INVALID_ARGUMENT',
    `cannot store "${printable(key)}": it is a folder in this Azure Files datastore, so it cannot also be a file; delete the files under it first or choose another key`,
    { details: { key: printable(key, 1024) }, cause: plainCause(cause) },
  )
}

function fileInTheWay(key: string, conflict: string, cause: unknown): WharfError {
  return new WharfError(
    'INVALID_ARGUMENT',
    `cannot store "${printable(key)}": "${printable(conflict)}" is a file in this Azure Files datastore, so it cannot also be a folder; delete it first or choose another key`,
    { details: { key: printable(key, 1024), conflict: printable(conflict, 1024) }, cause: plainCause(cause) },
  )
}
