import { sql, type Kysely, type Migration } from 'kysely'
import type { SchemaTypes } from '../dialects/capabilities.js'

/**
 * Metric values keep the sign of zero. SQLite stores an integral REAL in a REAL-affinity column as an
 * integer, so -0.0 came back as 0; its metric value columns are rebuilt without a declared type (no
 * affinity), which stores a REAL exactly as given. PostgreSQL's double precision keeps -0: nothing to do.
 */
export function createSignedZeroMigration(types: SchemaTypes): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (types.keepsNegativeZero) return
      await sql`create table metric_points_signed (
          id integer primary key, metric_id bigint not null, step bigint not null, "time" double precision not null,
          "value", "text" text)`.execute(db)
      await sql`insert into metric_points_signed (id, metric_id, step, "time", "value", "text")
          select id, metric_id, step, "time", "value", "text" from metric_points`.execute(db)
      await sql`drop table metric_points`.execute(db)
      await sql`alter table metric_points_signed rename to metric_points`.execute(db)
      await sql`create index metric_points_by_step on metric_points (${sql.join(types.pointIndexColumns.map((c) => sql.ref(c)))})`.execute(
        db,
      )

      await sql`create table metrics_signed (
          id integer primary key, run_id text not null references runs (id), name text not null,
          "count" bigint not null, next_step bigint not null, last_step bigint not null, last_time double precision not null,
          last_value, last_text text, min_value, max_value, has_number integer not null, has_text integer not null,
          constraint metrics_run_name_unique unique (run_id, name))`.execute(db)
      await sql`insert into metrics_signed (id, run_id, name, "count", next_step, last_step, last_time, last_value, last_text,
          min_value, max_value, has_number, has_text)
          select id, run_id, name, "count", next_step, last_step, last_time, last_value, last_text,
          min_value, max_value, has_number, has_text from metrics`.execute(db)
      await sql`drop table metrics`.execute(db)
      await sql`alter table metrics_signed rename to metrics`.execute(db)
    },
  }
}
