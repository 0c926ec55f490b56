import pg from 'pg'
import { Kysely, PostgresDialect, sql } from 'kysely'
import type { StoreDatabase } from '../schema.js'
import { errorCode } from './capabilities.js'
import type { DialectCapabilities, StoreDialect } from './capabilities.js'
import { SeriesState } from '../series/merge.js'
import { createPostgresIngester } from './postgres-ingest.js'

const INT8_OID = 20
const UNIQUE_VIOLATION = '23505'

/** PostgreSQL's capability record. */
export const POSTGRES_CAPABILITIES: DialectCapabilities = {
  schema: {
    idType: 'bigint',
    idColumn: (column) => column.primaryKey().generatedByDefaultAsIdentity(),
    // An identity never gives a number out twice.
    neverReusedIdColumn: (column) => column.primaryKey().generatedByDefaultAsIdentity(),
    // Byte order, as SQLite compares, whatever the database's locale.
    keyText: sql`text collate "C"`,
    pointIndexColumns: ['metric_id', 'step', 'id'],
    bytesType: 'bytea',
    keepsNegativeZero: true,
  },
  rowLocks: true,
  tagValue: (tags, key) => sql<string | null>`(cast(${tags} as jsonb) ->> ${key})`,
  isUniqueViolation: (error) => errorCode(error) === UNIQUE_VIOLATION,
}

/** Opens a `pg` pool behind Kysely. */
export function createPostgresDialect(config: { url: string; poolSize?: number }): StoreDialect {
  // The store keeps every integer below 2^53 (steps are validated so), so bigints come back as numbers.
  const types = new pg.TypeOverrides()
  types.setTypeParser(INT8_OID, 'text', Number)
  const pool = new pg.Pool({ connectionString: config.url, max: config.poolSize ?? 10, types })
  // An idle connection that breaks (a server restart) is dropped by the pool; without a listener the
  // event would end the process. The next query reports the failure to its caller.
  pool.on('error', () => undefined)
  const db = new Kysely<StoreDatabase>({ dialect: new PostgresDialect({ pool }) })
  return {
    kind: 'postgres',
    db,
    capabilities: POSTGRES_CAPABILITIES,
    ingest: createPostgresIngester(db),
    series: new SeriesState(db, POSTGRES_CAPABILITIES.rowLocks, async (ids) => {
      // One round trip for any number of chunks.
      const { rows } = await sql<{ chunk_id: number; data: Uint8Array }>`select chunk_id, data from metric_chunk_data
        where chunk_id = any(${[...ids]}::bigint[])`.execute(db)
      return new Map(rows.map((row) => [Number(row.chunk_id), row.data]))
    }),
  }
}
