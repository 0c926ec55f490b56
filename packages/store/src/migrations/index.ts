import type { Migration } from 'kysely'
import type { SchemaTypes } from '../dialects/capabilities.js'
import { createInitialMigration } from './0001-initial.js'
import { createAssetsMigration } from './0002-assets.js'
import { createSignedZeroMigration } from './0003-signed-zero.js'
import { createSubmittedRunsMigration } from './0004-submitted-runs.js'
import { createMetricChunksMigration } from './0005-metric-chunks.js'
import { createLifecycleMigration } from './0006-lifecycle-and-models.js'
import { createAssetAliasesMigration } from './0007-asset-aliases.js'

/**
 * Every migration, by name in the order they run. Migrations are code (no files are read at run time);
 * each gets the engine's column types because a few spellings differ.
 */
export function createMigrations(types: SchemaTypes): Record<string, Migration> {
  return {
    '0001-initial': createInitialMigration(types),
    '0002-assets': createAssetsMigration(types),
    '0003-signed-zero': createSignedZeroMigration(types),
    '0004-submitted-runs': createSubmittedRunsMigration(types),
    '0005-metric-chunks': createMetricChunksMigration(types),
    '0006-lifecycle-and-models': createLifecycleMigration(types),
    '0007-asset-aliases': createAssetAliasesMigration(types),
  }
}
