import { sql } from 'kysely'
import type { Db } from '../entities/shared.js'
import { decodeChunk } from './codec.js'
import type { ChunkPoints } from './codec.js'
import { SUMMARY_LENGTH, unpackSummary } from './summary.js'

/** One chunk as reads see it: bounds and summary (see `summary.ts`). */
export interface ChunkEntry {
  id: number
  minStep: number
  maxStep: number
  minTime: number
  maxTime: number
  count: number
  summary: Float64Array
}

/**
 * The chunks of one metric, sorted by first step, as of one metric version. Chart reads work from it
 * and decode only the chunks at bucket edges; it is cached per metric and brought up to date from the
 * chunks added since (or read again whole after a merge).
 */
export interface SeriesIndex {
  metricId: number
  version: number
  mergeGeneration: number
  entries: ChunkEntry[]
  /** The widest step span of a chunk: chunks overlapping a step range start at most this far before it. */
  maxSpan: number
}

interface ChunkRow {
  version: number | string
  merge_generation: number | string
  id: number | string | null
  min_step: number | string | null
  max_step: number | string | null
  min_time: number | null
  max_time: number | null
  point_count: number | null
  summary: Uint8Array | null
}

/**
 * Summaries cached for this many chunks in all (about 250 bytes each, so about 100 MB; 100M points at
 * the full chunk size), least recently used dropped first.
 */
const CACHE_CHUNKS = 400_000

/** The per-store cache of series indexes. */
export class SeriesIndexCache {
  private readonly indexes = new Map<number, SeriesIndex>()
  private chunks = 0

  get(metricId: number): SeriesIndex | undefined {
    const index = this.indexes.get(metricId)
    if (index !== undefined) {
      // Most recently used last.
      this.indexes.delete(metricId)
      this.indexes.set(metricId, index)
    }
    return index
  }

  set(index: SeriesIndex): void {
    this.forget(index.metricId)
    this.indexes.set(index.metricId, index)
    this.chunks += index.entries.length
    for (const [id, oldest] of this.indexes) {
      if (this.chunks <= CACHE_CHUNKS || id === index.metricId) break
      this.forget(id)
      void oldest
    }
  }

  forget(metricId: number): void {
    const old = this.indexes.get(metricId)
    if (old === undefined) return
    this.indexes.delete(metricId)
    this.chunks -= old.entries.length
  }
}

function byFirstStep(a: ChunkEntry, b: ChunkEntry): number {
  return a.minStep - b.minStep || a.id - b.id
}

/**
 * The metric's version, merge generation and its chunks added after `sinceVersion`, in one statement
 * so that all three come from one snapshot (a merge committing in between cannot mix two states).
 */
async function readChunks(
  db: Db,
  metricId: number,
  sinceVersion: number,
): Promise<{ version: number; generation: number; entries: ChunkEntry[] }> {
  const { rows } = await sql<ChunkRow>`select m.version, m.merge_generation, c.id, c.min_step, c.max_step, c.min_time,
      c.max_time, c.point_count, c.summary
    from metrics m left join metric_chunks c on c.metric_id = m.id and c.added_version > ${sinceVersion}
    where m.id = ${metricId}`.execute(db)
  const first = rows[0]
  if (first === undefined) throw new Error(`metric ${metricId} vanished while its chunks were read`)
  const entries: ChunkEntry[] = []
  for (const row of rows) {
    if (row.id === null || row.summary === null) continue
    const summary = unpackSummary(row.summary)
    if (summary.length !== SUMMARY_LENGTH) throw new Error(`chunk ${row.id} has a malformed summary`)
    entries.push({
      id: Number(row.id),
      minStep: Number(row.min_step),
      maxStep: Number(row.max_step),
      minTime: Number(row.min_time),
      maxTime: Number(row.max_time),
      count: Number(row.point_count),
      summary,
    })
  }
  return { version: Number(first.version), generation: Number(first.merge_generation), entries }
}

/** The up-to-date index of a metric whose row says `version` and `mergeGeneration`. */
export async function loadSeriesIndex(
  db: Db,
  cache: SeriesIndexCache,
  metric: { id: number; version: number; mergeGeneration: number },
): Promise<SeriesIndex> {
  const cached = cache.get(metric.id)
  if (cached !== undefined && cached.version === metric.version && cached.mergeGeneration === metric.mergeGeneration) {
    return cached
  }
  if (cached !== undefined && cached.mergeGeneration === metric.mergeGeneration) {
    const added = await readChunks(db, metric.id, cached.version)
    if (added.generation === cached.mergeGeneration) {
      const index = withEntries(cached, added.entries, added.version)
      cache.set(index)
      return index
    }
  }
  const whole = await readChunks(db, metric.id, -1)
  const index: SeriesIndex = {
    metricId: metric.id,
    version: whole.version,
    mergeGeneration: whole.generation,
    entries: whole.entries.sort(byFirstStep),
    maxSpan: 0,
  }
  for (const entry of index.entries) index.maxSpan = Math.max(index.maxSpan, entry.maxStep - entry.minStep)
  cache.set(index)
  return index
}

function withEntries(index: SeriesIndex, added: ChunkEntry[], version: number): SeriesIndex {
  const entries = index.entries.slice()
  let sorted = true
  let maxSpan = index.maxSpan
  for (const entry of added.sort(byFirstStep)) {
    const last = entries.at(-1)
    if (last !== undefined && byFirstStep(last, entry) > 0) sorted = false
    entries.push(entry)
    maxSpan = Math.max(maxSpan, entry.maxStep - entry.minStep)
  }
  if (!sorted) entries.sort(byFirstStep)
  return { ...index, version, entries, maxSpan }
}

/** Index of the first entry that may overlap steps from `fromStep` on. */
export function firstOverlapping(index: SeriesIndex, fromStep: number): number {
  const floor = fromStep - index.maxSpan
  let lo = 0
  let hi = index.entries.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((index.entries[mid] as ChunkEntry).minStep < floor) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Reads encoded chunks by id; a chunk merged away meanwhile is missing from the map. */
export type ChunkDataReader = (ids: readonly number[]) => Promise<Map<number, Uint8Array>>

/** The encoded points of chunks, by id, through Kysely (any engine, inside a transaction too). */
export async function readChunkData(db: Db, ids: readonly number[]): Promise<Map<number, Uint8Array>> {
  const data = new Map<number, Uint8Array>()
  for (let from = 0; from < ids.length; from += 500) {
    const slice = ids.slice(from, from + 500)
    const rows = await db.selectFrom('metric_chunk_data').select(['chunk_id', 'data']).where('chunk_id', 'in', slice).execute()
    for (const row of rows) data.set(Number(row.chunk_id), row.data)
  }
  return data
}

/**
 * Decoded chunks by id, least recently used dropped first, bounded by points. A chunk's points never
 * change (a merge writes new chunks under new ids), so an entry never goes stale. Chart reads decode
 * the chunks at bucket edges; a chart re-read while live, or zoomed back and forth, finds them here.
 */
export class DecodedChunkCache {
  private readonly chunks = new Map<number, ChunkPoints>()
  private points = 0

  constructor(private readonly maxPoints: number) {}

  /** A cached chunk, decoded with times when `withTimes`. */
  get(id: number, withTimes: boolean): ChunkPoints | undefined {
    const chunk = this.chunks.get(id)
    if (chunk === undefined || (withTimes && chunk.times.length !== chunk.length)) return undefined
    this.chunks.delete(id)
    this.chunks.set(id, chunk)
    return chunk
  }

  set(id: number, chunk: ChunkPoints): void {
    const old = this.chunks.get(id)
    if (old !== undefined) {
      this.chunks.delete(id)
      this.points -= old.length
    }
    this.chunks.set(id, chunk)
    this.points += chunk.length
    for (const [oldest, entry] of this.chunks) {
      if (this.points <= this.maxPoints) break
      this.chunks.delete(oldest)
      this.points -= entry.length
    }
  }
}

/**
 * Decoded chunks by id: from the cache, the rest read with `readData` and decoded (with times when
 * asked). Returns undefined when a chunk was merged away meanwhile.
 */
export async function decodedChunks(
  ids: readonly number[],
  withTimes: boolean,
  source: { readData: ChunkDataReader; decoded: DecodedChunkCache },
): Promise<Map<number, ChunkPoints> | undefined> {
  const out = new Map<number, ChunkPoints>()
  const missing: number[] = []
  for (const id of ids) {
    const chunk = source.decoded.get(id, withTimes)
    if (chunk === undefined) missing.push(id)
    else out.set(id, chunk)
  }
  if (missing.length === 0) return out
  const data = await source.readData(missing)
  for (const id of missing) {
    const bytes = data.get(id)
    if (bytes === undefined) return undefined
    const chunk = decodeChunk(bytes, { times: withTimes })
    source.decoded.set(id, chunk)
    out.set(id, chunk)
  }
  return out
}
