import type Database from 'better-sqlite3'
import type { Kysely, Selectable } from 'kysely'
import { assertWithinLimit, printable } from '@wharf/contract'
import { runNotFound } from '../errors.js'
import type { IngestBatch } from '../metadata-store.js'
import { applyBatch, batchMetricNames, emptyMetricState } from '../metric-batch.js'
import type { MetricState, WriterSteps } from '../metric-batch.js'
import { toMetricState } from '../rows.js'
import type { MetricsTable, StoreDatabase } from '../schema.js'
import { chunkBatch, metricsToMerge } from '../series/ingest-chunks.js'
import type { ChunkDataReader } from '../series/series-index.js'
import type { IngestOutcome, MetricIngester } from './capabilities.js'

interface IngestStatements {
  findRun: Database.Statement<[string, string], { one: number }>
  claimBatch: Database.Statement<[string, string, number, number, string]>
  storedBatch: Database.Statement<[string, string, number], { point_count: number }>
  findMetric: Database.Statement<[string, string], Selectable<MetricsTable>>
  countMetrics: Database.Statement<[string], { n: number }>
  createMetric: Database.Statement<[string, string], Selectable<MetricsTable>>
  findWriterStep: Database.Statement<[number, string], { next_step: number }>
  saveWriterStep: Database.Statement<[number, string, number]>
  insertChunk: Database.Statement<[number, number, number, number, number, number, number, Uint8Array]>
  insertChunkData: Database.Statement<[number | bigint, Uint8Array]>
  saveSummary: Database.Statement<
    [
      number,
      number,
      number,
      number,
      number | null,
      string | null,
      number | null,
      number | null,
      number,
      number,
      number,
      number,
      number,
      number,
    ]
  >
}

function prepareStatements(database: Database.Database): IngestStatements {
  return {
    findRun: database.prepare('select 1 as one from runs where id = ? and workspace = ?'),
    claimBatch: database.prepare(
      'insert into writer_batches (run_id, writer_id, sequence, point_count, created_at) values (?, ?, ?, ?, ?) ' +
        'on conflict do nothing',
    ),
    storedBatch: database.prepare('select point_count from writer_batches where run_id = ? and writer_id = ? and sequence = ?'),
    findMetric: database.prepare('select * from metrics where run_id = ? and name = ?'),
    countMetrics: database.prepare('select count(*) as n from metrics where run_id = ?'),
    createMetric: database.prepare(
      'insert into metrics (run_id, name, "count", next_step, last_step, last_time, has_number, has_text) ' +
        'values (?, ?, 0, 0, -1, 0, 0, 0) returning *',
    ),
    findWriterStep: database.prepare('select next_step from metric_writer_steps where metric_id = ? and writer_id = ?'),
    saveWriterStep: database.prepare(
      'insert into metric_writer_steps (metric_id, writer_id, next_step) values (?, ?, ?) ' +
        'on conflict (metric_id, writer_id) do update set next_step = excluded.next_step',
    ),
    insertChunk: database.prepare(
      'insert into metric_chunks (metric_id, min_step, max_step, min_time, max_time, point_count, added_version, summary) ' +
        'values (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    insertChunkData: database.prepare('insert into metric_chunk_data (chunk_id, data) values (?, ?)'),
    saveSummary: database.prepare(
      'update metrics set "count" = ?, next_step = ?, last_step = ?, last_time = ?, last_value = ?, last_text = ?, ' +
        'min_value = ?, max_value = ?, has_number = ?, has_text = ?, next_seq = ?, version = ?, small_chunks = ? where id = ?',
    ),
  }
}

/** Loads (creating the missing ones, within the run's name limit) the batch's metrics. */
function loadMetrics(statements: IngestStatements, batch: IngestBatch): Map<string, MetricState> {
  const { runId, points } = batch
  const states = new Map<string, MetricState>()
  const missing: string[] = []
  for (const name of batchMetricNames(points)) {
    const row = statements.findMetric.get(runId, name)
    if (row === undefined) missing.push(name)
    else states.set(name, toMetricState(row))
  }
  if (missing.length > 0) {
    const existing = statements.countMetrics.get(runId)?.n ?? 0
    assertWithinLimit({ metricNamesPerRun: batch.maxMetricNames }, 'metricNamesPerRun', {
      what: `the number of metric names in run "${printable(runId)}"`,
      actual: existing + missing.length,
    })
    for (const name of missing) {
      const created = statements.createMetric.get(runId, name)
      if (created === undefined) throw new Error(`metric "${name}" was not created`)
      states.set(name, { ...emptyMetricState(Number(created.id), name), ...toMetricState(created) })
    }
  }
  return states
}

function loadWriterSteps(statements: IngestStatements, writerId: string, states: Map<string, MetricState>): WriterSteps {
  const steps: WriterSteps = new Map()
  for (const state of states.values()) {
    const row = statements.findWriterStep.get(state.id, writerId)
    if (row !== undefined) steps.set(state.name, Number(row.next_step))
  }
  return steps
}

function ingest(statements: IngestStatements, batch: IngestBatch): IngestOutcome {
  const { runId, points, writerId } = batch
  if (statements.findRun.get(runId, batch.workspace) === undefined) throw runNotFound(batch.workspace, runId)
  if (writerId !== undefined && batch.sequence !== undefined) {
    const createdAt = new Date(batch.receivedAt).toISOString()
    const claimed = statements.claimBatch.run(runId, writerId, batch.sequence, points.length, createdAt)
    if (claimed.changes === 0) {
      const stored = statements.storedBatch.get(runId, writerId, batch.sequence)
      return { result: { accepted: stored?.point_count ?? 0, duplicate: true }, merge: [] }
    }
  }
  if (points.length === 0) return { result: { accepted: 0, duplicate: false }, merge: [] }

  const states = loadMetrics(statements, batch)
  const writerSteps = writerId === undefined ? undefined : loadWriterSteps(statements, writerId, states)
  const rows = applyBatch(batch, states, writerSteps)
  const added = chunkBatch(rows, states)
  for (const { state, chunks } of added) {
    for (const chunk of chunks) {
      const { lastInsertRowid } = statements.insertChunk.run(
        state.id,
        chunk.minStep,
        chunk.maxStep,
        chunk.minTime,
        chunk.maxTime,
        chunk.count,
        state.version,
        chunk.summary,
      )
      statements.insertChunkData.run(lastInsertRowid, chunk.data)
    }
  }
  if (writerId !== undefined && writerSteps !== undefined) {
    for (const [name, next] of writerSteps) {
      const state = states.get(name)
      if (state !== undefined) statements.saveWriterStep.run(state.id, writerId, next)
    }
  }
  for (const s of states.values()) {
    statements.saveSummary.run(
      s.count,
      s.nextStep,
      s.lastStep,
      s.lastTime,
      s.lastValue,
      s.lastText,
      s.min,
      s.max,
      s.hasNumber ? 1 : 0,
      s.hasText ? 1 : 0,
      s.nextSeq,
      s.version,
      s.smallChunks,
      s.id,
    )
  }
  return { result: { accepted: rows.length, duplicate: false }, merge: metricsToMerge(added) }
}

/**
 * The SQLite ingest path: cached better-sqlite3 statements in one immediate transaction per batch, which
 * writes one chunk per metric of the batch. It runs while holding Kysely's single connection, so no
 * Kysely transaction can interleave with it.
 */
export function createSqliteIngester(db: Kysely<StoreDatabase>, database: Database.Database): MetricIngester {
  let statements: IngestStatements | undefined
  const inTransaction = database.transaction((batch: IngestBatch) => {
    // Prepared on first use: the tables exist only once the store has migrated.
    statements ??= prepareStatements(database)
    return ingest(statements, batch)
  })
  return (batch) => db.connection().execute(() => Promise.resolve().then(() => inTransaction.immediate(batch)))
}

/**
 * Reads encoded chunks by id with one cached statement (the ids as one JSON array), on Kysely's single
 * connection so it never runs inside another caller's open transaction. A chart read fetches up to a
 * thousand chunks at bucket edges; through the query builder that cost more than decoding them.
 */
export function createSqliteChunkReader(db: Kysely<StoreDatabase>, database: Database.Database): ChunkDataReader {
  let statement: Database.Statement<[string], [number, Buffer]> | undefined
  return (ids) =>
    db.connection().execute(() =>
      Promise.resolve().then(() => {
        statement ??= database
          .prepare<[string], [number, Buffer]>(
            'select chunk_id, data from metric_chunk_data where chunk_id in (select value from json_each(?))',
          )
          .raw(true)
        const data = new Map<number, Uint8Array>()
        for (const [id, bytes] of statement.all(JSON.stringify(ids))) data.set(Number(id), bytes)
        return data
      }),
    )
}
