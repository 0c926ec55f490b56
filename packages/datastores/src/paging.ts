import { WharfError, type Page } from '@wharf/contract'
import type { PagedIterable } from './driver.js'

/** Fetches one page: the one after `pageToken` (the first when absent), with at most `pageSize` items. */
export type FetchPage<T> = (pageToken?: string, pageSize?: number) => Promise<Page<T>>

/**
 * Turns a page fetcher into a {@link PagedIterable}; nothing is fetched until iteration starts, and each
 * iteration starts afresh. Throws INVALID_ARGUMENT for a page size that is not a positive whole number,
 * and INTERNAL if the fetcher hands back the token it was given (it would never end).
 */
export function paginate<T>(fetchPage: FetchPage<T>): PagedIterable<T> {
  async function* byPage(options: { pageSize?: number; pageToken?: string } = {}): AsyncGenerator<Page<T>> {
    const { pageSize } = options
    if (pageSize !== undefined && !(Number.isSafeInteger(pageSize) && pageSize > 0)) {
      throw new WharfError('INVALID_ARGUMENT', `the page size ${String(pageSize)} is not a whole number ≥ 1`)
    }
    let token = options.pageToken === '' ? undefined : options.pageToken
    do {
      const page = await fetchPage(token, pageSize)
      yield page
      if (page.nextPageToken !== undefined && page.nextPageToken === token) {
        throw new WharfError('INTERNAL', `a listing returned the page token it was given ("${token}") and would never end`)
      }
      token = page.nextPageToken === '' ? undefined : page.nextPageToken
    } while (token !== undefined)
  }
  return {
    byPage,
    async *[Symbol.asyncIterator]() {
      for await (const page of byPage()) yield* page.items
    },
  }
}

/** The page size of a listing (`pageSize`, else the default); INVALID_ARGUMENT unless a whole number ≥ 1. */
export function listPageSize(pageSize: number | undefined, fallback: number): number {
  const size = pageSize ?? fallback
  if (!(Number.isSafeInteger(size) && size > 0)) {
    throw new WharfError('INVALID_ARGUMENT', `the page size ${String(size)} is not a whole number ≥ 1`)
  }
  return size
}
