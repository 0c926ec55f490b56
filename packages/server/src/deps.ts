import type { MetadataStore } from '@wharf/store'
import type { ServerConfig } from './config.js'
import type { RegistrationContext } from './datastores.js'
import type { DriverRegistry } from './driver-registry.js'
import type { Log } from './log.js'

/** What every route needs, built once when the server starts. */
export interface AppDeps {
  store: MetadataStore
  config: ServerConfig
  log: Log
  drivers: DriverRegistry
  /** Seals and opens datastore secrets; the folder policy for filesystem registrations. */
  datastores: RegistrationContext
  /**
   * Check every answer of a bound route against its schema and status, and every error answer against
   * the error body: a mismatch becomes a loud 500. Test servers turn it on; it costs a parse per answer.
   */
  checkResponses?: boolean
  /** Aborted when the server starts to stop: requests that wait (a log read with waitMs) answer at once. */
  closing?: AbortSignal
}
