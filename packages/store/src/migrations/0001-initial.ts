import type { Kysely, Migration } from 'kysely'
import type { SchemaTypes } from '../dialects/capabilities.js'

/** The first schema: workspaces, datastores, experiments, runs, metrics, writer batches, artifacts. */
export function createInitialMigration(types: SchemaTypes): Migration {
  const { idType, idColumn, keyText } = types
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('workspaces')
        .addColumn('name', keyText, (c) => c.primaryKey())
        .addColumn('default_datastore', 'text', (c) => c.notNull())
        .addColumn('artifact_datastore', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute()

      await db.schema
        .createTable('datastores')
        .addColumn('workspace', keyText, (c) => c.notNull().references('workspaces.name'))
        .addColumn('name', keyText, (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('settings', 'text', (c) => c.notNull())
        .addColumn('auth_type', 'text', (c) => c.notNull())
        .addColumn('secret', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('datastores_pk', ['workspace', 'name'])
        .execute()

      await db.schema
        .createTable('experiments')
        .addColumn('id', idType, idColumn)
        .addColumn('workspace', keyText, (c) => c.notNull().references('workspaces.name'))
        .addColumn('name', keyText, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('experiments_workspace_name_unique', ['workspace', 'name'])
        .execute()

      await db.schema
        .createTable('runs')
        .addColumn('id', keyText, (c) => c.primaryKey())
        .addColumn('workspace', keyText, (c) => c.notNull().references('workspaces.name'))
        .addColumn('experiment_id', 'bigint', (c) => c.notNull().references('experiments.id'))
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        // Times are ISO text; keyText so that ordering and keyset paging compare them by code point.
        .addColumn('created_at', keyText, (c) => c.notNull())
        .addColumn('started_at', keyText)
        .addColumn('ended_at', keyText)
        .addColumn('error', 'text')
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('properties', 'text', (c) => c.notNull())
        .addColumn('parent_run_id', keyText, (c) => c.references('runs.id'))
        .addColumn('compute_target', 'text', (c) => c.notNull())
        .addColumn('script_name', 'text')
        .addColumn('command', 'text')
        .execute()
      await db.schema.createIndex('runs_workspace_created').on('runs').columns(['workspace', 'created_at']).execute()
      await db.schema.createIndex('runs_experiment').on('runs').columns(['experiment_id', 'created_at']).execute()
      await db.schema.createIndex('runs_parent').on('runs').column('parent_run_id').execute()

      await db.schema
        .createTable('metrics')
        .addColumn('id', idType, idColumn)
        .addColumn('run_id', keyText, (c) => c.notNull().references('runs.id'))
        .addColumn('name', keyText, (c) => c.notNull())
        .addColumn('count', 'bigint', (c) => c.notNull())
        .addColumn('next_step', 'bigint', (c) => c.notNull())
        .addColumn('last_step', 'bigint', (c) => c.notNull())
        .addColumn('last_time', 'double precision', (c) => c.notNull())
        .addColumn('last_value', 'double precision')
        .addColumn('last_text', 'text')
        .addColumn('min_value', 'double precision')
        .addColumn('max_value', 'double precision')
        .addColumn('has_number', 'integer', (c) => c.notNull())
        .addColumn('has_text', 'integer', (c) => c.notNull())
        .addUniqueConstraint('metrics_run_name_unique', ['run_id', 'name'])
        .execute()

      // No foreign key to metrics: the ids come from the store itself, and a per-row check would cost
      // the ingest hot path a lookup (a trigger call on PostgreSQL) for every point.
      await db.schema
        .createTable('metric_points')
        .addColumn('id', idType, idColumn)
        .addColumn('metric_id', 'bigint', (c) => c.notNull())
        .addColumn('step', 'bigint', (c) => c.notNull())
        .addColumn('time', 'double precision', (c) => c.notNull())
        .addColumn('value', 'double precision')
        .addColumn('text', 'text')
        .execute()
      await db.schema
        .createIndex('metric_points_by_step')
        .on('metric_points')
        .columns([...types.pointIndexColumns])
        .execute()

      await db.schema
        .createTable('writer_batches')
        .addColumn('run_id', keyText, (c) => c.notNull().references('runs.id'))
        .addColumn('writer_id', keyText, (c) => c.notNull())
        .addColumn('sequence', 'bigint', (c) => c.notNull())
        .addColumn('point_count', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('writer_batches_pk', ['run_id', 'writer_id', 'sequence'])
        .execute()

      await db.schema
        .createTable('artifacts')
        .addColumn('run_id', keyText, (c) => c.notNull().references('runs.id'))
        .addColumn('path', keyText, (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('datastore', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('artifacts_pk', ['run_id', 'path'])
        .execute()
    },
  }
}
