import type { DatastoreDriver } from '@wharf/datastores'
import type { MetadataStore } from '@wharf/store'
import { createDriver, type DriverContext } from './datastores.js'

/** Hands out the storage driver of a registered datastore, built once per registration. */
export interface DriverRegistry {
  /** The driver of `datastore` in `workspace`; DATASTORE_NOT_FOUND if it is not registered. */
  get(workspace: string, datastore: string): Promise<DatastoreDriver>
}

/** A registry over the metadata store; a re-registered datastore (new updatedAt) gets a fresh driver. */
export function createDriverRegistry(store: MetadataStore, context: DriverContext): DriverRegistry {
  const cache = new Map<string, { updatedAt: string; driver: DatastoreDriver }>()
  return {
    async get(workspace, datastore) {
      const record = await store.getDatastore({ workspace, name: datastore })
      const key = `${workspace}\u0000${datastore}`
      const hit = cache.get(key)
      if (hit && hit.updatedAt === record.updatedAt) return hit.driver
      const driver = createDriver(record, context)
      cache.set(key, { updatedAt: record.updatedAt, driver })
      return driver
    },
  }
}
