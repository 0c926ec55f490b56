import type { Kysely, Migration } from 'kysely'
import type { SchemaTypes } from '../dialects/capabilities.js'

/**
 * What the MLflow dialect of the API needs kept: experiments get tags, a last-update time and a soft
 * delete; runs get a soft delete (a deleted run stays readable and can be restored); and logged
 * models (MLflow 3's models logged from a run, each with its own artifacts) get a table.
 */
export function createLifecycleMigration(types: SchemaTypes): Migration {
  const { keyText } = types
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('experiments')
        .addColumn('tags', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute()
      await db.schema.alterTable('experiments').addColumn('updated_at', 'text').execute()
      await db.schema.alterTable('experiments').addColumn('deleted_at', 'text').execute()
      await db.schema.alterTable('runs').addColumn('deleted_at', 'text').execute()

      await db.schema
        .createTable('logged_models')
        .addColumn('id', keyText, (c) => c.primaryKey())
        .addColumn('workspace', keyText, (c) => c.notNull().references('workspaces.name'))
        .addColumn('experiment_id', 'bigint', (c) => c.notNull().references('experiments.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('source_run_id', keyText, (c) => c.references('runs.id'))
        .addColumn('model_type', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text')
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('created_at', keyText, (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'text')
        .execute()
      await db.schema
        .createIndex('logged_models_experiment')
        .on('logged_models')
        .columns(['experiment_id', 'created_at'])
        .execute()
    },
  }
}
