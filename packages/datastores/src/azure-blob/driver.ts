import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { addAbortSignal } from 'node:stream'
import { BlobServiceClient, StorageSharedKeyCredential, type BlobItem, type ContainerClient } from '@azure/storage-blob'
import { DEFAULT_LIMITS, WharfError, isWharfError, paginate, printable, type Page } from '@wharf/contract'
import {
  azureAccessError,
  downloadStream,
  errorCodeOf,
  infoOfProperties,
  md5Of,
  signalOption,
  statusOf,
  type AzureAuth,
} from '../azure-common.js'
import { fileExists, fileNotFound, plainCause } from '../driver-errors.js'
import type {
  DatastoreDriver,
  FileInfo,
  GetOptions,
  ListOptions,
  PagedIterable,
  PutOptions,
  PutResult,
  SkippedName,
} from '../driver.js'
import { BlockUpload } from '../block-upload.js'
import { HashingStream, feedBody, rethrowCallerFailure } from '../hashing.js'
import { keyProblemOf, toDatastoreKey, toKeyPrefix, type DatastoreKey } from '../key.js'
import { listPageSize } from '../paging.js'
import { checkGet, rangeWithin } from '../range.js'

/** How the driver signs its requests: the storage account key, or a SAS token for the container. */
export type AzureBlobCredential = { kind: 'key'; accountKey: string } | { kind: 'sas'; sasToken: string }

/** Options for {@link createAzureBlobDriver}. */
export interface AzureBlobDriverOptions {
  accountName: string
  containerName: string
  credential: AzureBlobCredential
  /** The full blob service URL (Azurite: `http://127.0.0.1:PORT/devstoreaccount1`); default `https://<account>.blob.core.windows.net`. */
  endpoint?: string
  /** How many blocks of one put are uploaded at the same time (default 4). */
  concurrency?: number
}

interface Signal {
  signal?: AbortSignal | undefined
}

/** Bytes per staged block; a put of at most this many bytes is one request. */
const BLOCK_SIZE = 4 * 1024 * 1024
/** Azure's limit of committed blocks per blob. */
const MAX_BLOCKS = 50_000

/**
 * A datastore in an Azure Blob Storage container (or Azurite). Puts stage blocks and commit them with
 * the content's MD5 at the end, so a blob is only ever seen whole and always carries Content-MD5.
 * The account key or SAS token never appears in an error message or its details.
 */
export function createAzureBlobDriver(options: AzureBlobDriverOptions): DatastoreDriver {
  const { accountName, containerName, credential } = options
  if (typeof accountName !== 'string' || accountName === '') {
    throw new WharfError('INVALID_ARGUMENT', 'an azure_blob datastore needs the storage account name (option "accountName")')
  }
  if (typeof containerName !== 'string' || containerName === '') {
    throw new WharfError('INVALID_ARGUMENT', 'an azure_blob datastore needs the container name (option "containerName")')
  }
  const concurrency = options.concurrency ?? 4
  if (!(Number.isSafeInteger(concurrency) && concurrency > 0)) {
    throw new WharfError('INVALID_ARGUMENT', `the upload concurrency ${String(concurrency)} is not a whole number ≥ 1`)
  }
  const endpoint = (options.endpoint ?? `https://${accountName}.blob.core.windows.net`).replace(/\/+$/, '')
  let service: BlobServiceClient
  if (credential.kind === 'key') {
    if (!credential.accountKey)
      throw new WharfError('INVALID_ARGUMENT', 'an azure_blob datastore with key auth needs the account key')
    service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(accountName, credential.accountKey))
  } else {
    const sas = credential.sasToken.replace(/^\?/, '')
    if (!sas) throw new WharfError('INVALID_ARGUMENT', 'an azure_blob datastore with SAS auth needs the SAS token')
    service = new BlobServiceClient(`${endpoint}?${sas}`)
  }
  return new AzureBlobDriver({
    container: service.getContainerClient(containerName),
    where: { accountName, containerName, endpoint, auth: credential.kind },
    concurrency,
  })
}

interface Where {
  accountName: string
  containerName: string
  endpoint: string
  auth: AzureAuth
}

class AzureBlobDriver implements DatastoreDriver {
  readonly kind = 'azure_blob' as const
  readonly #container: ContainerClient
  readonly #where: Where
  readonly #concurrency: number

  constructor(options: { container: ContainerClient; where: Where; concurrency: number }) {
    this.#container = options.container
    this.#where = options.where
    this.#concurrency = options.concurrency
  }

  async put(key: DatastoreKey, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    const { signal, size } = options
    const safe = toDatastoreKey(key)
    const hasher = new HashingStream(size === undefined ? {} : { size })
    signal?.throwIfAborted()
    const blob = this.#container.getBlockBlobClient(safe)
    const blockSize = size === undefined ? BLOCK_SIZE : Math.max(BLOCK_SIZE, Math.ceil(size / MAX_BLOCKS))
    if (signal) addAbortSignal(signal, hasher)
    const feed = feedBody(body, hasher)
    const uploadId = randomBytes(12).toString('hex')
    const blockId = (index: number): string => Buffer.from(`${uploadId}-${String(index).padStart(6, '0')}`).toString('base64')
    const blocks = new BlockUpload(hasher, {
      blockSize,
      concurrency: this.#concurrency,
      prepare: ({ index }) => {
        if (index >= MAX_BLOCKS) throw tooBig(safe)
      },
      send: ({ data, index }) => blob.stageBlock(blockId(index), data, data.length, signalOption(signal)),
    })
    try {
      const last = await blocks.sendFullBlocks()
      await blocks.finish()
      signal?.throwIfAborted()
      const result = hasher.result()
      const blobHTTPHeaders = {
        blobContentMD5: Buffer.from(result.md5, 'base64'),
        ...(options.contentType === undefined ? {} : { blobContentType: options.contentType }),
      }
      // If-None-Match: * makes the storage refuse the write when any blob is there, however close the race.
      const conditions = options.ifNotExists ? { conditions: { ifNoneMatch: '*' } } : {}
      if (blocks.count === 0) {
        // Small enough for one Put Blob, which is atomic and carries the headers.
        await blob.upload(last, last.length, { blobHTTPHeaders, ...conditions, ...signalOption(signal) })
      } else {
        await blocks.finish(last)
        signal?.throwIfAborted()
        const blockIds = Array.from({ length: blocks.count }, (_, index) => blockId(index))
        await blob.commitBlockList(blockIds, { blobHTTPHeaders, ...conditions, ...signalOption(signal) })
      }
      return result
    } catch (error) {
      hasher.destroy()
      await blocks.settle()
      rethrowCallerFailure(feed, error, signal)
      const failure = blocks.failure ?? error
      if (options.ifNotExists && (await this.#lostCreateRace(failure, { key: safe, signal }))) throw fileExists(safe, failure)
      if (errorCodeOf(failure) === 'InvalidBlockList') throw writeConflict(safe, failure)
      throw this.#translate(failure, { action: `write "${printable(safe)}"` })
    } finally {
      feed.release()
    }
  }

  async get(key: DatastoreKey, options: GetOptions = {}): Promise<Readable> {
    const { signal, range } = options
    const safe = toDatastoreKey(key)
    checkGet(options)
    try {
      return await downloadStream(this.#container.getBlobClient(safe), { key: safe, range, signal })
    } catch (error) {
      if (statusOf(error) === 404 && errorCodeOf(error) !== 'ContainerNotFound') throw fileNotFound(safe, error)
      if (statusOf(error) === 416 && range) {
        // Say how big the file is, as the other drivers do.
        const info = await this.stat(safe, signal ? { signal } : {})
        if (!info) throw fileNotFound(safe, error)
        rangeWithin(range, { size: info.size, key: safe })
      }
      throw this.#translate(error, { action: `read "${printable(safe)}"` })
    }
  }

  async stat(key: DatastoreKey, options: Signal = {}): Promise<FileInfo | undefined> {
    const safe = toDatastoreKey(key)
    options.signal?.throwIfAborted()
    try {
      return infoOfProperties(safe, await this.#container.getBlobClient(safe).getProperties(signalOption(options.signal)))
    } catch (error) {
      if (statusOf(error) === 404 && errorCodeOf(error) !== 'ContainerNotFound') return undefined
      throw this.#translate(error, { action: `read "${printable(safe)}"` })
    }
  }

  async delete(key: DatastoreKey, options: Signal = {}): Promise<void> {
    const safe = toDatastoreKey(key)
    options.signal?.throwIfAborted()
    try {
      await this.#container.getBlobClient(safe).deleteIfExists({ deleteSnapshots: 'include', ...signalOption(options.signal) })
    } catch (error) {
      throw this.#translate(error, { action: `delete "${printable(safe)}"` })
    }
  }

  list(options: ListOptions = {}): PagedIterable<FileInfo> {
    const prefix = toKeyPrefix(options.prefix ?? '')
    const { signal } = options
    const defaultSize = listPageSize(options.pageSize, DEFAULT_LIMITS.pageSize)
    return paginate(async (pageToken, pageSize = defaultSize): Promise<Page<FileInfo>> => {
      const items: FileInfo[] = []
      let marker = pageToken
      // Azure may answer with a short page and a marker; keep asking until the page is full or the listing ends.
      do {
        signal?.throwIfAborted()
        const pages = this.#container.listBlobsFlat({ ...(prefix === '' ? {} : { prefix }), ...signalOption(signal) }).byPage({
          maxPageSize: Math.min(pageSize - items.length, 5000),
          ...(marker === undefined ? {} : { continuationToken: marker }),
        })
        let step: Awaited<ReturnType<typeof pages.next>>
        try {
          step = await pages.next()
        } catch (error) {
          throw this.#translate(error, { action: `list "${printable(prefix)}"` })
        }
        if (step.done) break
        for (const item of step.value.segment.blobItems) {
          const info = fileInfoOf(item)
          if ('reason' in info) options.onSkipped?.(info)
          else items.push(info)
        }
        marker = step.value.continuationToken === '' ? undefined : step.value.continuationToken
      } while (marker !== undefined && items.length < pageSize)
      return marker === undefined ? { items } : { items, nextPageToken: marker }
    })
  }

  async validate(options: { create?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options
    signal?.throwIfAborted()
    // Listing one blob needs no more than a container SAS with list permission, unlike reading the container's properties.
    try {
      await this.#container.listBlobsFlat(signalOption(signal)).byPage({ maxPageSize: 1 }).next()
      return
    } catch (error) {
      if (!(statusOf(error) === 404 && options.create)) throw this.#translate(error, { action: 'check the container' })
    }
    try {
      await this.#container.createIfNotExists(signalOption(signal))
    } catch (error) {
      throw this.#translate(error, { action: 'create the container' })
    }
  }

  /**
   * Whether a conditional put failed because another writer created the blob first: the condition's own
   * refusal (409 BlobAlreadyExists, 412), or a block list another writer's commit threw away (Azure drops
   * every uncommitted block of a blob when one list is committed) with the blob now there.
   */
  async #lostCreateRace(error: unknown, options: { key: DatastoreKey; signal: AbortSignal | undefined }): Promise<boolean> {
    const status = statusOf(error)
    const code = errorCodeOf(error)
    if (status === 412 || code === 'BlobAlreadyExists' || code === 'ConditionNotMet') return true
    if (code !== 'InvalidBlockList') return false
    return (await this.stat(options.key, options.signal ? { signal: options.signal } : {}).catch(() => undefined)) !== undefined
  }

  /** A WharfError for the failures this driver knows; anything else as it is. */
  #translate(error: unknown, options: { action: string }): unknown {
    if (isWharfError(error)) return error
    const { accountName, containerName, endpoint, auth } = this.#where
    const target = {
      what: `the Azure Blob container "${containerName}"`,
      accountName,
      endpoint,
      auth,
      details: { accountName, containerName, endpoint },
    }
    const known = azureAccessError(error, { action: options.action, target })
    if (known) return known
    const status = statusOf(error)
    const code = errorCodeOf(error)
    if (status === 404 && code === 'ContainerNotFound') {
      return new WharfError(
        'DATASTORE_UNAVAILABLE',
        `could not ${options.action}: the Azure Blob container "${containerName}" does not exist in the storage account "${accountName}"; create it, or validate the datastore with create`,
        { details: target.details, cause: plainCause(error) },
      )
    }
    return plainCause(error)
  }
}

/** The info of a listed blob, or what was skipped for a name no key can have (a folder marker, `a/../b`). */
function fileInfoOf(item: BlobItem): FileInfo | SkippedName {
  const size = item.properties.contentLength ?? 0
  const modifiedAt = item.properties.lastModified.toISOString()
  const reason = keyProblemOf(item.name)
  if (reason !== undefined) return { name: item.name, size, modifiedAt, reason }
  return { key: item.name as DatastoreKey, size, modifiedAt, ...md5Of(item.properties.contentMD5) }
}

/**
 * Another put of the same blob committed its block list while this one staged its blocks: Azure
 * discards every uncommitted block of a blob at a commit, so this commit finds its blocks gone.
 */
function writeConflict(key: DatastoreKey, cause: unknown): WharfError {
  return new WharfError(
    'WRITE_CONFLICT',
    `another upload of "${printable(key)}" was stored while this one was being written, and the storage kept that one; upload again if this content should replace it`,
    { details: { key }, cause: plainCause(cause) },
  )
}

function tooBig(key: string): WharfError {
  return new WharfError(
    'INVALID_ARGUMENT',
    `cannot store "${printable(key)}": a blob of unknown size may have at most ${MAX_BLOCKS} blocks of ${BLOCK_SIZE} bytes; declare the size`,
    { details: { key: printable(key, 1024) } },
  )
}
