import { WharfError } from './errors.js'
import type { Page } from './schemas.js'

/** Where a walk of a {@link PagedIterable} starts and how big its pages are. */
export interface PageSettings {
  /** The most items per page (the source's default when absent); a whole number ≥ 1. */
  pageSize?: number
  /** A `nextPageToken` from an earlier page: the walk resumes after that page. */
  pageToken?: string
}

/** An async iterable of items that can also be walked a page at a time; each walk starts afresh. */
export interface PagedIterable<T, P extends Page<T> = Page<T>> extends AsyncIterable<T> {
  /** The pages in order, as the source made them (a page may carry more than its items, e.g. `skipped`). */
  byPage(settings?: PageSettings): AsyncIterable<P>
  /** Collects every item (mind the size of what you ask for). */
  toArray(): Promise<T[]>
}

/** Fetches one page: the one after `pageToken` (the first when absent), with at most `pageSize` items. */
export type FetchPage<P> = (pageToken?: string, pageSize?: number) => Promise<P>

/**
 * Turns a page fetcher into a {@link PagedIterable}; nothing is fetched until iteration starts, and each
 * iteration starts afresh from `defaults` (overridden by what `byPage` is given). Throws INVALID_ARGUMENT
 * for a page size that is not a whole number ≥ 1, and INTERNAL if the fetcher hands back the token it was
 * given (the walk would never end).
 */
export function paginate<T, P extends Page<T> = Page<T>>(
  fetchPage: FetchPage<P>,
  defaults: PageSettings = {},
): PagedIterable<T, P> {
  async function* byPage(settings: PageSettings = {}): AsyncGenerator<P> {
    const { pageSize, pageToken } = { ...defaults, ...settings }
    if (pageSize !== undefined && !(Number.isSafeInteger(pageSize) && pageSize > 0)) {
      throw new WharfError('INVALID_ARGUMENT', `the page size ${String(pageSize)} is not a whole number ≥ 1`)
    }
    let token = pageToken === '' ? undefined : pageToken
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
    async toArray() {
      const all: T[] = []
      for await (const page of byPage()) all.push(...page.items)
      return all
    },
  }
}

/** `page` with each item turned by `toItem`, keeping its next page token (an empty token ends the listing). */
export function mapPage<R, T>(page: Page<R>, toItem: (item: R) => T): Page<T> {
  const items = page.items.map(toItem)
  return page.nextPageToken === undefined || page.nextPageToken === '' ? { items } : { items, nextPageToken: page.nextPageToken }
}
