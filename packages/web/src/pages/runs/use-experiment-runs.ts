import { useEffect, useMemo, useRef, useState } from 'react'
import type { WharfClient } from '@wharf/client'
import { DEFAULT_LIMITS, RUN_STATUSES, isTerminalStatus, type RunStatus, type RunWithMetrics } from '@wharf/contract'
import { LIVE_POLL_MS } from '../../api/hooks.js'
import { useSession } from '../../api/session.js'

/** Statuses a run can still leave: the runs the live poll follows. */
const LIVE_STATUSES: RunStatus[] = RUN_STATUSES.filter((status) => !isTerminalStatus(status))

/** The biggest page asked for, whatever the server allows: a page is painted as soon as it arrives. */
const MAX_PAGE_SIZE = 1000

/** With no live run loaded, the table still looks for new ones, less often. */
const IDLE_POLL_MS = LIVE_POLL_MS * 5

/** Live runs read per LIVE_POLL_MS at most: beyond, the poll slows down in proportion. */
const LIVE_RUNS_PER_POLL = 1000

/** How many of the most recently ended runs each poll reads, to catch runs that ended between two polls. */
const RECENT_ENDED = 100

/** The runs of an experiment as the table holds them, filled a page at a time, then kept live. */
export interface ExperimentRuns {
  runs: ReadonlyMap<string, RunWithMetrics>
  /** Every page has arrived (the first time; a refresh in the background keeps this true). */
  complete: boolean
  /** The last read failed: the first load (nothing shown then) or a poll (what is shown may be behind). */
  error: unknown
  /** Whether a run loaded is still live, so the table is polled every LIVE_POLL_MS. */
  hasLive: boolean
  /** Starts the load again after an error. */
  retry: () => void
}

interface State {
  key: string
  runs: ReadonlyMap<string, RunWithMetrics>
  complete: boolean
  error: unknown
}

// The last full listing of each experiment, so that coming Back to a table shows it at once (then refreshes).
const listings = new Map<string, ReadonlyMap<string, RunWithMetrics>>()

function isAbort(error: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (error instanceof Error && error.name === 'AbortError')
}

/** The page size to ask for: the server's limit (read once per client), at most MAX_PAGE_SIZE. */
async function pageSizeOf(client: WharfClient, signal: AbortSignal): Promise<number> {
  // An older server tells no limits: the default one holds there.
  const limits = client.serverLimits ?? (await client.health({ signal })).limits ?? DEFAULT_LIMITS
  return Math.max(1, Math.min(MAX_PAGE_SIZE, limits.pageSize))
}

/** The items of the first page of a paged listing (the rest is never fetched). */
export async function firstPage<T>(pages: AsyncIterable<{ items: T[] }>): Promise<T[]> {
  for await (const page of pages) return page.items
  return []
}

/** Reads what changed since the last poll: live runs, recently ended ones, and any that ended unseen. */
async function pollChanges(options: {
  client: WharfClient
  experiment: string
  known: ReadonlyMap<string, RunWithMetrics>
  signal: AbortSignal
}): Promise<RunWithMetrics[]> {
  const { client, experiment, known, signal } = options
  const pageSize = await pageSizeOf(client, signal)
  const live = client.listRuns({ experiment, status: LIVE_STATUSES, includeMetrics: 'true', pageSize }, { signal }).toArray()
  const recentPages = client
    .listRuns(
      { experiment, orderBy: 'endedAt', order: 'desc', includeMetrics: 'true', pageSize: Math.min(RECENT_ENDED, pageSize) },
      { signal },
    )
    .byPage()
  const recent = await firstPage(recentPages)
  const changed = [...(await live), ...recent]
  const seen = new Set(changed.map((run) => run.id))
  // A run that was live and is in neither list ended before the most recent RECENT_ENDED: read it alone.
  const missed = [...known.values()].filter((run) => !isTerminalStatus(run.status) && !seen.has(run.id))
  const reread = await Promise.all(
    missed.slice(0, 20).map(async (run) => {
      const [fresh, metrics] = await Promise.all([client.getRun(run.id, { signal }), client.listMetrics(run.id, { signal })])
      return { ...fresh, metrics: Object.fromEntries(metrics.map((m) => [m.name, m.last])) }
    }),
  )
  return [...changed, ...reread]
}

/**
 * Loads every run of `experiment` (with its metrics' last values) a page at a time, then follows it:
 * every LIVE_POLL_MS while a run is live, less often otherwise, merging what changed into what is shown.
 */
export function useExperimentRuns(experiment: string): ExperimentRuns {
  const { client, workspace, token, noteError } = useSession()
  const key = `${workspace}\n${token ?? ''}\n${experiment}`
  const [attempt, setAttempt] = useState(0)
  const [state, setState] = useState<State>(() => ({
    key,
    runs: listings.get(key) ?? new Map(),
    complete: listings.has(key),
    error: undefined,
  }))
  // Another experiment (or workspace, or token) in the same page: start from its own listing.
  const current: State =
    state.key === key ? state : { key, runs: listings.get(key) ?? new Map(), complete: listings.has(key), error: undefined }
  if (current !== state) setState(current)

  const runsRef = useRef(current.runs)
  useEffect(() => {
    runsRef.current = current.runs
  }, [current.runs])

  // The full listing, a page at a time.
  useEffect(() => {
    const controller = new AbortController()
    const { signal } = controller
    const shownEarlier = listings.has(key)
    void (async () => {
      try {
        const pageSize = await pageSizeOf(client, signal)
        const all = new Map<string, RunWithMetrics>()
        for await (const page of client.listRuns({ experiment, includeMetrics: 'true', pageSize }, { signal }).byPage()) {
          for (const run of page.items) all.set(run.id, run)
          // A table already shown stays as it is until the refresh is whole; a first load grows page by page.
          if (!shownEarlier && page.nextPageToken !== undefined) {
            const partial = new Map(all)
            setState((s) => (s.key === key ? { ...s, runs: partial, error: undefined } : s))
          }
        }
        listings.set(key, all)
        setState((s) => (s.key === key ? { key, runs: all, complete: true, error: undefined } : s))
      } catch (error) {
        if (isAbort(error, signal)) return
        noteError(error)
        setState((s) => (s.key === key ? { ...s, error } : s))
      }
    })()
    return () => controller.abort()
  }, [client, experiment, key, noteError, attempt])

  const liveCount = useMemo(() => {
    let live = 0
    for (const run of current.runs.values()) if (!isTerminalStatus(run.status)) live++
    return live
  }, [current.runs])
  const hasLive = liveCount > 0
  // Each poll reads every live run again: thousands of them (a sweep queued at once) are read less often.
  const pollMs = hasLive ? LIVE_POLL_MS * Math.ceil(liveCount / LIVE_RUNS_PER_POLL) : IDLE_POLL_MS

  // Following: merges live and recently ended runs into the table, without reading it all again.
  const { complete } = current
  useEffect(() => {
    if (!complete) return
    const controller = new AbortController()
    const { signal } = controller
    const timer = setTimeout(
      () =>
        void (async () => {
          try {
            const changed = await pollChanges({ client, experiment, known: runsRef.current, signal })
            setState((s) => {
              if (s.key !== key) return s
              const runs = new Map(s.runs)
              for (const run of changed) runs.set(run.id, run)
              listings.set(key, runs)
              return { ...s, runs, error: undefined }
            })
          } catch (error) {
            if (isAbort(error, signal)) return
            noteError(error)
            // Keep what is shown; a new state object schedules the next poll.
            setState((s) => (s.key === key ? { ...s, runs: new Map(s.runs), error } : s))
          }
        })(),
      pollMs,
    )
    return () => {
      clearTimeout(timer)
      controller.abort()
    }
    // current.runs: each merge schedules the next poll.
  }, [client, experiment, key, noteError, complete, pollMs, current.runs])

  return {
    runs: current.runs,
    complete: current.complete,
    error: current.error,
    hasLive,
    retry: () => setAttempt((n) => n + 1),
  }
}
