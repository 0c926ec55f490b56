import type { Kysely, Migration } from 'kysely'
import type { SchemaTypes } from '../dialects/capabilities.js'

/**
 * Asset aliases: a name such as `champion` that points at one version of an asset and can be moved.
 * The version is a number rather than a reference to the version row, so one row per alias is all an
 * alias takes; the store only points an alias at a version that exists, and versions are never removed.
 */
export function createAssetAliasesMigration(types: SchemaTypes): Migration {
  const { keyText } = types
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('asset_aliases')
        .addColumn('workspace', keyText, (c) => c.notNull().references('workspaces.name'))
        .addColumn('name', keyText, (c) => c.notNull())
        .addColumn('alias', keyText, (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('asset_aliases_pk', ['workspace', 'name', 'alias'])
        .execute()
    },
  }
}
