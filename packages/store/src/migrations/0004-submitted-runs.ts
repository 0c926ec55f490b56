import type { Kysely, Migration } from 'kysely'
import type { SchemaTypes } from '../dialects/capabilities.js'

/**
 * Submitted runs: a run keeps its snapshot, definition, the time it entered each status, its runner's
 * last heartbeat and a cancel request; snapshots (content-addressed manifests) and the blobs each
 * datastore holds; live logs as appended byte chunks, kept after the run ends.
 */
export function createSubmittedRunsMigration(types: SchemaTypes): Migration {
  const { keyText, bytesType } = types
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('runs').addColumn('snapshot_id', 'text').execute()
      await db.schema.alterTable('runs').addColumn('definition', 'text').execute()
      await db.schema.alterTable('runs').addColumn('status_times', 'text').execute()
      // keyText: the watchdog compares heartbeat times as text.
      await db.schema.alterTable('runs').addColumn('heartbeat_at', keyText).execute()
      await db.schema.alterTable('runs').addColumn('cancel_requested_at', 'text').execute()
      // The watchdog's sweep reads only the runs a runner has reported for.
      await db.schema.createIndex('runs_heartbeat').on('runs').columns(['heartbeat_at', 'status']).execute()

      await db.schema
        .createTable('snapshots')
        .addColumn('workspace', keyText, (c) => c.notNull().references('workspaces.name'))
        .addColumn('id', keyText, (c) => c.notNull())
        .addColumn('datastore', 'text', (c) => c.notNull())
        .addColumn('files', 'text', (c) => c.notNull())
        .addColumn('file_count', 'integer', (c) => c.notNull())
        .addColumn('total_bytes', 'bigint', (c) => c.notNull())
        .addColumn('complete', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('snapshots_pk', ['workspace', 'id'])
        .execute()

      await db.schema
        .createTable('snapshot_blobs')
        .addColumn('workspace', keyText, (c) => c.notNull().references('workspaces.name'))
        .addColumn('datastore', keyText, (c) => c.notNull())
        .addColumn('sha256', keyText, (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('snapshot_blobs_pk', ['workspace', 'datastore', 'sha256'])
        .execute()

      await db.schema
        .createTable('run_logs')
        .addColumn('run_id', keyText, (c) => c.notNull().references('runs.id'))
        .addColumn('name', keyText, (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('run_logs_pk', ['run_id', 'name'])
        .execute()

      await db.schema
        .createTable('run_log_chunks')
        .addColumn('run_id', keyText, (c) => c.notNull())
        .addColumn('name', keyText, (c) => c.notNull())
        .addColumn('start_offset', 'bigint', (c) => c.notNull())
        .addColumn('end_offset', 'bigint', (c) => c.notNull())
        .addColumn('bytes', bytesType, (c) => c.notNull())
        .addPrimaryKeyConstraint('run_log_chunks_pk', ['run_id', 'name', 'start_offset'])
        .execute()
    },
  }
}
