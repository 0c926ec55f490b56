import type { Readable } from 'node:stream'
import { paginate, type DatastoreKind } from '@wharf/contract'
import type { DatastoreDriver, FileInfo, GetOptions, ListOptions, PagedIterable, PutOptions, PutResult } from './driver.js'
import type { DatastoreKey } from './key.js'

/** A driver whose credential works until `expiresOn` (a delegated SAS token, say). */
export interface DriverLease {
  driver: DatastoreDriver
  expiresOn: Date
}

/** Options for {@link createRenewingDriver}. */
export interface RenewingDriverOptions {
  kind: DatastoreKind
  /** The lease to start with. */
  first: DriverLease
  /** Gets a new lease (asks the server for a fresh token); shared by every call waiting, so it takes no caller's signal. */
  renew: () => Promise<DriverLease>
  /**
   * Renew when the current lease has less than this left (default 10 minutes), or less than a third of
   * the time it had when it was received, whichever is sooner, so short leases are not renewed on every call.
   */
  renewBeforeMs?: number
}

const DEFAULT_RENEW_BEFORE_MS = 10 * 60 * 1000
/** After a failed renewal, the longest wait before the next try. */
const RETRY_AFTER_MS = 30 * 1000

/**
 * A driver over short-lived credentials that stays usable for as long as its caller needs it: every call
 * first checks the lease, and one that ends within `renewBeforeMs` is renewed (once, however many calls
 * are waiting). Calls already under way finish on the lease they started with. If renewing fails while
 * the current lease is still valid, calls go on with it and the renewal is tried again a little later
 * (at most 30 s); once it has expired the renewal's error is the call's error. Only the methods every
 * driver has are offered, not the local fast paths.
 */
export function createRenewingDriver(options: RenewingDriverOptions): DatastoreDriver {
  return new RenewingDriver(options)
}

class RenewingDriver implements DatastoreDriver {
  readonly kind: DatastoreKind
  readonly #renew: RenewingDriverOptions['renew']
  readonly #renewBeforeMs: number
  #lease: DriverLease
  /** When the current lease is due for renewal (ms since the epoch). */
  #renewAt = 0
  #renewing: Promise<DriverLease> | undefined

  constructor(options: RenewingDriverOptions) {
    this.kind = options.kind
    this.#renew = options.renew
    this.#renewBeforeMs = options.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS
    this.#lease = this.#take(options.first)
  }

  #take(lease: DriverLease): DriverLease {
    const expires = lease.expiresOn.getTime()
    this.#renewAt = expires - Math.min(this.#renewBeforeMs, Math.max(0, expires - Date.now()) / 3)
    return lease
  }

  async #driver(signal: AbortSignal | undefined): Promise<DatastoreDriver> {
    const lease = this.#lease
    if (Date.now() < this.#renewAt) return lease.driver
    signal?.throwIfAborted()
    this.#renewing ??= this.#renew()
      .then((next) => (this.#lease = this.#take(next)))
      .finally(() => {
        this.#renewing = undefined
      })
    try {
      return (await this.#renewing).driver
    } catch (error) {
      const left = lease.expiresOn.getTime() - Date.now()
      if (left <= 0) throw error
      // Try again later, not on every call while the server is away.
      this.#renewAt = Math.max(this.#renewAt, Date.now() + Math.min(RETRY_AFTER_MS, left / 3))
      return lease.driver
    }
  }

  async put(key: DatastoreKey, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    return (await this.#driver(options.signal)).put(key, body, options)
  }

  async get(key: DatastoreKey, options: GetOptions = {}): Promise<Readable> {
    return (await this.#driver(options.signal)).get(key, options)
  }

  async stat(key: DatastoreKey, options: { signal?: AbortSignal } = {}): Promise<FileInfo | undefined> {
    return (await this.#driver(options.signal)).stat(key, options)
  }

  async delete(key: DatastoreKey, options: { signal?: AbortSignal } = {}): Promise<void> {
    return (await this.#driver(options.signal)).delete(key, options)
  }

  async validate(options: { create?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    return (await this.#driver(options.signal)).validate(options)
  }

  /** Each page is asked of the lease current at that moment; page tokens are the storage's own, valid across leases. */
  list(options: ListOptions = {}): PagedIterable<FileInfo> {
    return paginate(async (pageToken, pageSize = options.pageSize) => {
      const driver = await this.#driver(options.signal)
      const pages = driver.list(options).byPage({
        ...(pageSize === undefined ? {} : { pageSize }),
        ...(pageToken === undefined ? {} : { pageToken }),
      })
      for await (const page of pages) return page
      return { items: [] }
    })
  }
}
