import type { Page } from '@wharf/contract'

/** An async iterable of items that can also be walked a page at a time. */
export interface PagedIterable<T, P extends Page<T> = Page<T>> extends AsyncIterable<T> {
  /** The pages as the server sent them (a page may carry more than its items, e.g. `skipped`). */
  byPage(): AsyncIterable<P>
  /** Collects every item (mind the size of what you ask for). */
  toArray(): Promise<T[]>
}

/**
 * Turns a page fetcher into a {@link PagedIterable}; nothing is fetched until iteration starts.
 * `startToken` (a `nextPageToken` from an earlier walk) resumes after that page.
 */
export function paginate<T, P extends Page<T> = Page<T>>(fetchPage: (pageToken?: string) => Promise<P>, startToken?: string): PagedIterable<T, P> {
  async function* byPage(): AsyncGenerator<P> {
    let token: string | undefined = startToken
    do {
      const page = await fetchPage(token)
      yield page
      token = page.nextPageToken
    } while (token)
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
