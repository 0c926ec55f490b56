import { useCallback, useEffect } from 'react'
import { keepPreviousData, useQuery, useQueryClient, type UseQueryResult } from '@tanstack/react-query'
import type { WharfClient } from '@wharf/client'
import { isWharfError } from '@wharf/contract'
import { useSession } from './session.js'

/** How often live views poll while something is running (runs table, run page, logs, live charts). */
export const LIVE_POLL_MS = 2000

/**
 * A read through the client, cached under `key` (scoped to the workspace and token). A failure that
 * means "the server wants a token" opens the token prompt; other failures are the caller's to show.
 */
export function useApiQuery<T>(
  key: readonly unknown[],
  read: (client: WharfClient, signal: AbortSignal) => Promise<T>,
  options: {
    enabled?: boolean
    /** A period, or a function of the data read last (poll while a run is live, stop when it ended). */
    refetchInterval?: number | false | ((data: T | undefined) => number | false)
    keepPrevious?: boolean
    /** How long an answer counts as fresh (default the client's, 1 s); `Infinity` for reads that never change. */
    staleTime?: number
  } = {},
): UseQueryResult<T> {
  const { client, workspace, token, noteError } = useSession()
  const result = useQuery<T>({
    queryKey: [workspace, token ?? '', ...key],
    queryFn: ({ signal }) => read(client, signal),
    enabled: options.enabled ?? true,
    refetchInterval: (query) => {
      // A refusal (no such run, a bad request, no token) does not mend itself: stop polling until the
      // user retries or the token changes. An unreachable or failing server is polled on.
      const { error } = query.state
      if (query.state.status === 'error' && isWharfError(error) && error.status < 500) return false
      const interval = options.refetchInterval ?? false
      return typeof interval === 'function' ? interval(query.state.data) : interval
    },
    ...(options.keepPrevious === true ? { placeholderData: keepPreviousData } : {}),
    ...(options.staleTime !== undefined ? { staleTime: options.staleTime } : {}),
  })
  useEffect(() => {
    if (result.error) noteError(result.error)
  }, [result.error, noteError])
  return result
}

/**
 * Starts a read ahead of the render that will ask for it through {@link useApiQuery} with the same key
 * (a chart's zoom starts its read before the URL change has re-rendered the page); that render then
 * joins the read in flight. Answers the data, or undefined when the read failed (the query that asks
 * shows the failure).
 */
export function useReadAhead(): <T>(
  key: readonly unknown[],
  read: (client: WharfClient, signal: AbortSignal) => Promise<T>,
  options?: { staleTime?: number },
) => Promise<T | undefined> {
  const { client, workspace, token } = useSession()
  const queryClient = useQueryClient()
  return useCallback(
    (key, read, options = {}) =>
      queryClient
        .fetchQuery({
          queryKey: [workspace, token ?? '', ...key],
          queryFn: ({ signal }) => read(client, signal),
          ...(options.staleTime !== undefined ? { staleTime: options.staleTime } : {}),
        })
        .catch(() => undefined),
    [client, workspace, token, queryClient],
  )
}
