import type { WharfClient } from '@wharf/client'
import { WharfError, printable, type IngestResult } from '@wharf/contract'
import { countSeriesPoints } from './column-batch.js'
import type { SpoolRecord } from './spool-file.js'

// How a spooled batch reaches its server: which client a record goes to, and the one send.

/**
 * Sends one spooled batch with its original writer id and sequence; throws DUPLICATE_BATCH_MISMATCH
 * when the server already holds that (writerId, sequence) with another point count.
 */
export async function sendSpoolRecord(
  client: WharfClient,
  record: SpoolRecord,
  options: { signal?: AbortSignal } = {},
): Promise<IngestResult> {
  const { writerId, sequence, series } = record
  const result = await client.logMetrics(
    record.runId,
    { writerId, sequence, series },
    options.signal ? { signal: options.signal } : {},
  )
  const points = countSeriesPoints(series)
  if (result.duplicate && result.accepted !== points) {
    throw new WharfError(
      'DUPLICATE_BATCH_MISMATCH',
      `run "${printable(record.runId)}" already holds batch ${sequence} of writer "${writerId}" with ${result.accepted} points, not ${points}: the writer id was reused; give every logger its own writerId`,
      { details: { runId: record.runId, writerId, sequence, stored: result.accepted, sent: points } },
    )
  }
  return result
}

/** A client, or a way to pick one per run (for spool files of runs on several servers or workspaces). */
export type SpoolClientSource = WharfClient | ((runId: string, context: { workspace: string }) => WharfClient)

/** One client per record: the given function, or the given client switched to the record's workspace (each made once). */
export function createClientPicker(source: SpoolClientSource): (record: { runId: string; workspace: string }) => WharfClient {
  if (typeof source === 'function') return (record) => source(record.runId, { workspace: record.workspace })
  const byWorkspace = new Map<string, WharfClient>([[source.workspace, source]])
  return (record) => {
    let client = byWorkspace.get(record.workspace)
    if (client === undefined) {
      client = source.withWorkspace(record.workspace)
      byWorkspace.set(record.workspace, client)
    }
    return client
  }
}
