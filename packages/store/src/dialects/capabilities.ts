import type { ColumnDataType, ColumnDefinitionBuilder, Expression, Kysely, RawBuilder } from 'kysely'
import type { IngestResult } from '@wharf/contract'
import type { IngestBatch, StoreKind } from '../metadata-store.js'
import type { StoreDatabase } from '../schema.js'
import type { SeriesState } from '../series/merge.js'

/** A column type as Kysely's schema builder takes it: a name, or raw SQL. */
export type ColumnType = ColumnDataType | RawBuilder<unknown>

/** Column types the migrations need that the engines spell differently. */
export interface SchemaTypes {
  /** Type of an auto-numbered integer primary key. */
  idType: ColumnType
  /** Turns a column of `idType` into the auto-numbered primary key. */
  idColumn: (column: ColumnDefinitionBuilder) => ColumnDefinitionBuilder
  /**
   * Like `idColumn`, but an id is never given out again after its row is deleted (SQLite reuses the
   * highest rowid otherwise): caches keyed by id rely on it.
   */
  neverReusedIdColumn: (column: ColumnDefinitionBuilder) => ColumnDefinitionBuilder
  /** Text that sorts and compares by code point, so keyset paging agrees with ORDER BY on every engine. */
  keyText: ColumnType
  /** Columns of the metric point index used for ordered, keyset-paged reads. */
  pointIndexColumns: readonly string[]
  /** Type of a column of raw bytes. */
  bytesType: ColumnType
  /** Whether a double precision column keeps -0 (SQLite's REAL affinity stores it as the integer 0). */
  keepsNegativeZero: boolean
}

/** The few things the engines do differently; queries ask this record instead of testing the engine. */
export interface DialectCapabilities {
  schema: SchemaTypes
  /**
   * Whether SELECT … FOR UPDATE / FOR SHARE exist. Without them (SQLite) every write transaction already
   * holds the database's write lock from its first statement.
   */
  rowLocks: boolean
  /** The value of tag `key` in a JSON text column of string tags, or null when the key is absent. */
  tagValue: (tags: Expression<string>, key: string) => RawBuilder<string | null>
  /** True when `error` is the engine's unique or primary key violation. */
  isUniqueViolation: (error: unknown) => boolean
}

/** What storing a batch did: the answer for the client, and the metrics whose small chunks piled up. */
export interface IngestOutcome {
  result: IngestResult
  /** Ids of metrics to merge in the background. */
  merge: number[]
}

/** Stores one validated metric batch; the hot path, written per engine. */
export type MetricIngester = (batch: IngestBatch) => Promise<IngestOutcome>

/** An opened database: the Kysely instance, its capabilities and its metric ingest path. */
export interface StoreDialect {
  kind: StoreKind
  db: Kysely<StoreDatabase>
  capabilities: DialectCapabilities
  ingest: MetricIngester
  /** Chart-read cache and background merges of metric chunks. */
  series: SeriesState
}

/** The `code` property of a driver error, when it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined
  const code = error.code
  return typeof code === 'string' ? code : undefined
}
