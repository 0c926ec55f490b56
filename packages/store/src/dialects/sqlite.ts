import Database from 'better-sqlite3'
import { CompiledQuery, Kysely, SqliteAdapter, SqliteDriver, SqliteIntrospector, SqliteQueryCompiler, sql } from 'kysely'
import type {
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely as KyselyInstance,
  QueryCompiler,
} from 'kysely'
import type { StoreDatabase } from '../schema.js'
import { errorCode } from './capabilities.js'
import type { DialectCapabilities, StoreDialect } from './capabilities.js'
import { SeriesState } from '../series/merge.js'
import { createSqliteChunkReader, createSqliteIngester } from './sqlite-ingest.js'

/** How long a write waits for another process's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 10_000

// Every store transaction writes, so it takes the write lock at BEGIN: a deferred transaction that reads
// first and writes later fails at once (SQLITE_BUSY_SNAPSHOT) when another process wrote in between.
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }
}

// SQLite can roll DDL back. Saying so makes Kysely's migrator run inside one (immediate) transaction,
// which is what serialises two processes that migrate the same file at once.
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true
  }
}

class WharfSqliteDialect implements Dialect {
  readonly #database: Database.Database

  constructor(database: Database.Database) {
    this.#database = database
  }

  createDriver(): Driver {
    return new ImmediateSqliteDriver({ database: this.#database })
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler()
  }

  createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter()
  }

  createIntrospector(db: KyselyInstance<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db)
  }
}

/** SQLite's capability record. */
export const SQLITE_CAPABILITIES: DialectCapabilities = {
  schema: {
    idType: 'integer',
    // INTEGER PRIMARY KEY makes the column the rowid: no second index, the fastest insert layout.
    idColumn: (column) => column.primaryKey(),
    neverReusedIdColumn: (column) => column.primaryKey().autoIncrement(),
    keyText: 'text',
    // A SQLite index entry already ends with the rowid, so (metric_id, step) orders ties by id.
    pointIndexColumns: ['metric_id', 'step'],
    bytesType: 'blob',
    keepsNegativeZero: false,
  },
  rowLocks: false,
  // json_each rather than a JSON path, so keys with dots or quotes need no escaping.
  tagValue: (tags, key) => sql<string | null>`(select json_each.value from json_each(${tags}) where json_each.key = ${key})`,
  isUniqueViolation: (error) => {
    const code = errorCode(error)
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  },
}

/** Opens a SQLite file (WAL, synchronous=NORMAL, foreign keys on) behind Kysely. */
export function createSqliteDialect(config: { path: string }): StoreDialect {
  const database = new Database(config.path)
  try {
    database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    database.pragma('journal_mode = WAL')
    database.pragma('synchronous = NORMAL')
    // 64 MiB of page cache (the default is 2 MiB): the point index of a long run outgrows 2 MiB quickly,
    // and every insert then reads index pages back from the OS.
    database.pragma('cache_size = -65536')
    database.pragma('foreign_keys = ON')
  } catch (error) {
    database.close()
    throw error
  }
  const db = new Kysely<StoreDatabase>({ dialect: new WharfSqliteDialect(database) })
  return {
    kind: 'sqlite',
    db,
    capabilities: SQLITE_CAPABILITIES,
    ingest: createSqliteIngester(db, database),
    series: new SeriesState(db, SQLITE_CAPABILITIES.rowLocks, createSqliteChunkReader(db, database)),
  }
}
