import type { Kysely, Migration } from 'kysely'
import type { SchemaTypes } from '../dialects/capabilities.js'

/** Assets: named, numbered versions promoted from a run's artifacts, one row per file of a version. */
export function createAssetsMigration(types: SchemaTypes): Migration {
  const { idType, idColumn, keyText } = types
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('asset_versions')
        .addColumn('id', idType, idColumn)
        .addColumn('workspace', keyText, (c) => c.notNull().references('workspaces.name'))
        .addColumn('name', keyText, (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('source_run_id', keyText, (c) => c.notNull().references('runs.id'))
        .addColumn('artifact_path', 'text', (c) => c.notNull())
        .addColumn('copied', 'integer', (c) => c.notNull())
        .addColumn('file_count', 'integer', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('created_at', keyText, (c) => c.notNull())
        // Also the index behind "latest version of a name" and listing by name.
        .addUniqueConstraint('asset_versions_workspace_name_version_unique', ['workspace', 'name', 'version'])
        .execute()

      await db.schema
        .createTable('asset_files')
        .addColumn('asset_version_id', 'bigint', (c) => c.notNull().references('asset_versions.id'))
        .addColumn('path', keyText, (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('datastore', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('asset_files_pk', ['asset_version_id', 'path'])
        .execute()
    },
  }
}
