import { Readable, addAbortSignal } from 'node:stream'
import { WharfError, printable } from '@wharf/contract'
import { plainCause } from './driver-errors.js'
import type { FileInfo } from './driver.js'
import type { DatastoreKey } from './key.js'
import { rangeWithin, type ByteRange } from './range.js'

// What the azure_blob and azure_file drivers share: both SDKs fail with a RestError and download alike.

/** Error codes of a request that never reached the service (or lost it midway). */
export const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'REQUEST_SEND_ERROR',
])

/** How an Azure driver signs its requests: named in errors (never the secret itself). */
export type AzureAuth = 'key' | 'sas'

/** Where an Azure driver's requests go and what they are for, to name in its errors. */
export interface AzureTarget {
  /** The container or share, e.g. `the Azure Blob container "images"`. */
  what: string
  accountName: string
  endpoint: string
  auth: AzureAuth
  details: Record<string, unknown>
}

/**
 * The failures both Azure drivers tell apart the same way: FORBIDDEN when the account refused the
 * credential (naming which one, and where it is set), DATASTORE_UNAVAILABLE when the endpoint could not
 * be reached or failed; undefined for anything else, which the driver translates itself.
 */
export function azureAccessError(error: unknown, options: { action: string; target: AzureTarget }): WharfError | undefined {
  const { action, target } = options
  const { what, accountName, endpoint, details } = target
  const status = statusOf(error)
  const code = errorCodeOf(error)
  if (status === 403 || status === 401) {
    const fix =
      target.auth === 'key'
        ? 'check --account-key / AZURE_STORAGE_KEY (wharf datastore register --overwrite replaces a registered key)'
        : 'check that it is current, is for this account and allows this operation (--sas-token / AZURE_STORAGE_SAS_TOKEN)'
    const credential = target.auth === 'key' ? 'account key' : 'SAS token'
    return new WharfError(
      'FORBIDDEN',
      `could not ${action}: the storage account "${accountName}" refused the ${credential} (${code ?? status}) for ${what}; ${fix}`,
      {
        // The registration field to correct (a form shows the error there).
        details: { ...details, field: target.auth === 'key' ? 'accountKey' : 'sasToken' },
        cause: plainCause(error),
      },
    )
  }
  if (status === undefined && code !== undefined && NETWORK_CODES.has(code)) {
    return new WharfError(
      'DATASTORE_UNAVAILABLE',
      `could not reach ${what} of the storage account "${accountName}" at ${endpoint} to ${action} (${code}); check the account name, the endpoint and the network`,
      {
        details,
        cause: plainCause(error),
      },
    )
  }
  if (status !== undefined && status >= 500) {
    return new WharfError(
      'DATASTORE_UNAVAILABLE',
      `could not ${action}: ${what} of the storage account "${accountName}" at ${endpoint} is unavailable (${code ?? status}); try again later`,
      {
        details,
        cause: plainCause(error),
      },
    )
  }
  return undefined
}

export function signalOption(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal ? { abortSignal: signal } : {}
}

/** The HTTP status of an Azure SDK's RestError (either SDK's: matched by name), else undefined. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode
  return error instanceof Error && error.name === 'RestError' && typeof status === 'number' ? status : undefined
}

/** The service's error code (`x-ms-error-code`) of a RestError, or the system code of a network error. */
export function errorCodeOf(error: unknown): string | undefined {
  const { response, details, code } = (error ?? {}) as {
    response?: { headers?: { get?(name: string): string | undefined } }
    details?: { errorCode?: unknown }
    code?: unknown
  }
  const fromHeader =
    error instanceof Error && error.name === 'RestError' ? response?.headers?.get?.('x-ms-error-code') : undefined
  if (fromHeader) return fromHeader
  if (typeof details?.errorCode === 'string') return details.errorCode
  return typeof code === 'string' ? code : undefined
}

/** `{ contentMd5 }` in base64 from the raw Content-MD5 an SDK reports, or nothing when there is none. */
export function md5Of(raw: Uint8Array | undefined): { contentMd5?: string } {
  return raw && raw.length > 0 ? { contentMd5: Buffer.from(raw).toString('base64') } : {}
}

/** What a blob's or a share file's properties say of it, as the FileInfo of `key`. */
export function infoOfProperties(
  key: DatastoreKey,
  properties: { contentLength?: number; lastModified?: Date; contentMD5?: Uint8Array },
): FileInfo {
  return {
    key,
    size: properties.contentLength ?? 0,
    modifiedAt: (properties.lastModified ?? new Date()).toISOString(),
    ...md5Of(properties.contentMD5),
  }
}

/** A blob or share-file client: both download a byte range the same way. */
interface Downloadable {
  download(
    offset?: number,
    count?: number,
    options?: { abortSignal?: AbortSignal },
  ): Promise<{ readableStreamBody?: NodeJS.ReadableStream; contentRange?: string; contentLength?: number }>
}

/**
 * The content (or a range of it) as a stream. RANGE_NOT_SATISFIABLE for a start at or past the end: the
 * SDKs send no Range header for a range from byte 0 without an end, and Azurite answers a start at the
 * end with an empty 206, so the size in the answer is checked here.
 */
export async function downloadStream(
  client: Downloadable,
  options: { key: string; range: ByteRange | undefined; signal: AbortSignal | undefined },
): Promise<Readable> {
  const { key, range, signal } = options
  const offset = range?.start ?? 0
  const count = range?.end === undefined ? undefined : range.end - range.start + 1
  const response = await client.download(offset, count, signalOption(signal))
  const body = response.readableStreamBody
  if (!body) throw new WharfError('INTERNAL', `the download of "${printable(key)}" came back without a body`)
  const stream = body instanceof Readable ? body : Readable.from(body)
  if (range) {
    const size = sizeOf(response.contentRange) ?? response.contentLength ?? 0
    try {
      rangeWithin(range, { size, key })
    } catch (error) {
      stream.destroy()
      throw error
    }
  }
  return signal ? addAbortSignal(signal, stream) : stream
}

/** The full size from a Content-Range such as `bytes 0-9/10`. */
function sizeOf(contentRange: string | undefined): number | undefined {
  const total = contentRange?.match(/\/(\d+)$/)?.[1]
  return total === undefined ? undefined : Number(total)
}
