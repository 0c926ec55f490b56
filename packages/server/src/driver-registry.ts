import { WharfError } from '@wharf/contract'
import { createFilesystemDriver, type DatastoreDriver } from '@wharf/datastores'
import type { DatastoreRecord, MetadataStore } from '@wharf/store'

/** Hands out the storage driver of a registered datastore, built once per registration. */
export interface DriverRegistry {
  /** The driver of `datastore` in `workspace`; DATASTORE_NOT_FOUND if it is not registered. */
  get(workspace: string, datastore: string): Promise<DatastoreDriver>
}

/** Builds the driver for one datastore record. Only the kinds this server knows are accepted. */
export function createDriver(record: DatastoreRecord): DatastoreDriver {
  switch (record.kind) {
    case 'filesystem': {
      const root = record.settings.path
      if (typeof root !== 'string') {
        throw new WharfError('DATASTORE_UNAVAILABLE', `datastore "${record.name}" has no folder path in its settings`)
      }
      return createFilesystemDriver({ root })
    }
    case 'azure_blob':
    case 'azure_file':
    case 's3':
      throw new WharfError(
        'DATASTORE_UNAVAILABLE',
        `datastore "${record.name}" is of kind ${record.kind}, which this server version cannot open yet`,
      )
  }
}

/** A registry over the metadata store; a re-registered datastore (new updatedAt) gets a fresh driver. */
export function createDriverRegistry(store: MetadataStore): DriverRegistry {
  const cache = new Map<string, { updatedAt: string; driver: DatastoreDriver }>()
  return {
    async get(workspace, datastore) {
      const record = await store.getDatastore(workspace, datastore)
      const key = `${workspace}\u0000${datastore}`
      const hit = cache.get(key)
      if (hit && hit.updatedAt === record.updatedAt) return hit.driver
      const driver = createDriver(record)
      cache.set(key, { updatedAt: record.updatedAt, driver })
      return driver
    },
  }
}
