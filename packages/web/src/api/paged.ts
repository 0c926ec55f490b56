import { useEffect } from 'react'
import { useInfiniteQuery, type InfiniteData, type UseInfiniteQueryResult } from '@tanstack/react-query'
import type { WharfClient } from '@wharf/client'
import { useSession } from './session.js'

/** Where the page to read starts (absent: the first page), and the signal that cancels the read. */
export interface PageRequest {
  pageToken: string | undefined
  signal: AbortSignal
}

/**
 * A paged listing read through the client a page at a time, cached under `key` (scoped to the workspace
 * and token like `useApiQuery`). `fetchNextPage` reads the page after the last one read; a failure that
 * means "the server wants a token" opens the token prompt.
 */
export function useApiPages<P extends { nextPageToken?: string }>(
  key: readonly unknown[],
  read: (client: WharfClient, request: PageRequest) => Promise<P>,
  options: { enabled?: boolean } = {},
): UseInfiniteQueryResult<InfiniteData<P, string | undefined>> {
  const { client, workspace, token, noteError } = useSession()
  const result = useInfiniteQuery<P, Error, InfiniteData<P, string | undefined>, readonly unknown[], string | undefined>({
    queryKey: [workspace, token ?? '', ...key],
    queryFn: ({ pageParam, signal }) => read(client, { pageToken: pageParam, signal }),
    initialPageParam: undefined,
    getNextPageParam: (last: P) => (last.nextPageToken === '' ? undefined : last.nextPageToken),
    enabled: options.enabled ?? true,
  })
  useEffect(() => {
    if (result.error) noteError(result.error)
  }, [result.error, noteError])
  return result
}

/** The first page a paged walk yields (a walk started at a page token reads that page). */
export async function firstPage<P>(pages: AsyncIterable<P>): Promise<P> {
  for await (const page of pages) return page
  throw new Error('a paged listing yielded no page') // paginate always yields at least one
}
