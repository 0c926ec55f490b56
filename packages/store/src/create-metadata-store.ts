import { WharfError, printable } from '@wharf/contract'
import { createPostgresDialect } from './dialects/postgres.js'
import { createSqliteDialect } from './dialects/sqlite.js'
import type { StoreDialect } from './dialects/capabilities.js'
import { createKyselyMetadataStore } from './kysely-metadata-store.js'
import type { MetadataStore, StoreConfig } from './metadata-store.js'

function openDialect(config: StoreConfig): StoreDialect {
  switch (config.kind) {
    case 'sqlite':
      try {
        return createSqliteDialect(config)
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error)
        throw new WharfError(
          'INTERNAL',
          `cannot open the SQLite database "${printable(config.path, 200)}": ${reason}; ` +
            'check that its folder exists and is writable',
          { details: { path: config.path }, cause: error },
        )
      }
    case 'postgres':
      return createPostgresDialect(config)
  }
}

/**
 * Opens the metadata store described by `config` and brings its schema up to date before resolving.
 * Throws INTERNAL (with the driver error as `cause`) when the database cannot be opened or migrated.
 */
export async function createMetadataStore(config: StoreConfig): Promise<MetadataStore> {
  const store = createKyselyMetadataStore(openDialect(config))
  try {
    await store.migrate()
  } catch (error) {
    await store.close()
    throw error
  }
  return store
}
