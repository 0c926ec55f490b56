import type { RunLogChunk, RunLogSummary } from '@wharf/contract'
import { resolveRetryPolicy, retryRequest } from '../retry.js'
import type { WorkspaceConnection } from '../config/connection.js'

/** The log a submitted run's script writes: its stdout and stderr, in order. */
export const STD_LOG = 'std_log.txt'

/**
 * How long one read waits on the server for more bytes or the run's end: under the client's 30 s
 * request timeout, long enough that a quiet run costs one request per 20 s.
 */
const LONG_POLL_MS = 20_000

/** Options of {@link readRunLog}. */
export interface ReadRunLogOptions {
  runId: string
  /** The log, `std_log.txt` by default. */
  name?: string
  /** Keep reading until the run has ended and everything was read; otherwise stop at the log's current end. */
  follow: boolean
  /** The byte offset to start at (default 0). */
  offset?: number
  /**
   * Skip the text: only wait for the run's end. Each read starts at the log's end, so waiting costs one
   * request per burst of output (or per 20 s of silence), never a loop.
   */
  skipText?: boolean
  signal?: AbortSignal
}

/**
 * The one way a run's live log is read: chunks in order, each read waiting on the server (long poll)
 * while following, so a quiet run costs one request per 20 s. Ends when the run ended and all was read
 * (`chunk.ended`), or, without `follow`, at the log's current end. A read the server could not answer
 * (restart, outage) is retried. Rejects with ABORTED when the signal fires.
 */
export async function* readRunLog(workspace: WorkspaceConnection, options: ReadRunLogOptions): AsyncGenerator<RunLogChunk> {
  const name = options.name ?? STD_LOG
  const policy = resolveRetryPolicy({ attempts: 8, maxDelayMs: 5_000 })
  let offset = options.offset ?? 0
  for (;;) {
    const chunk = await retryRequest(
      () =>
        workspace.client.call('readRunLog', {
          params: { runId: options.runId, log: name },
          query: {
            offset,
            waitMs: options.follow ? LONG_POLL_MS : 0,
            // A few bytes, not one: a read cut inside a UTF-8 character answers nothing and would wait.
            ...(options.skipText === true ? { limit: 64 } : {}),
          },
          signal: options.signal,
        }),
      { policy, serverUrl: workspace.url, holdProcess: true },
    )
    // Skipping the text, the next read starts at the end: it waits for new bytes rather than fetching them.
    offset = options.skipText === true ? Math.max(chunk.nextOffset, chunk.size) : chunk.nextOffset
    yield chunk
    if (chunk.ended) return
    if (!options.follow && chunk.nextOffset >= chunk.size) return
  }
}

/** The run's live logs with their sizes. */
export async function listRunLogs(
  workspace: WorkspaceConnection,
  options: { runId: string; signal?: AbortSignal },
): Promise<RunLogSummary[]> {
  const { items } = await workspace.client.call('listRunLogs', { params: { runId: options.runId }, signal: options.signal })
  return items
}
