import { describe, expect, it } from 'vitest'
import { isWharfError } from './errors.js'
import { mapPage, paginate } from './paging.js'
import type { Page } from './schemas.js'

/** A page source over 0..count-1 whose token is the index of the next item. */
function numbers(
  count: number,
  defaultSize = 3,
): { calls: { token?: string; size?: number }[]; fetch: (token?: string, size?: number) => Promise<Page<number>> } {
  const calls: { token?: string; size?: number }[] = []
  return {
    calls,
    fetch(token, size) {
      calls.push({ ...(token === undefined ? {} : { token }), ...(size === undefined ? {} : { size }) })
      const from = token === undefined ? 0 : Number(token)
      const to = Math.min(count, from + (size ?? defaultSize))
      const items = Array.from({ length: to - from }, (_, i) => from + i)
      return Promise.resolve(to < count ? { items, nextPageToken: String(to) } : { items })
    },
  }
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = []
  for await (const item of iterable) all.push(item)
  return all
}

describe('paginate', () => {
  it('fetches nothing until iteration starts', () => {
    const source = numbers(5)
    paginate(source.fetch)
    expect(source.calls).toEqual([])
  })

  it('yields every item across pages, in order', async () => {
    const source = numbers(8)
    expect(await collect(paginate(source.fetch))).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(source.calls).toEqual([{}, { token: '3' }, { token: '6' }])
  })

  it('walks pages with the asked page size, the last without a token', async () => {
    const source = numbers(5)
    const pages = await collect(paginate(source.fetch).byPage({ pageSize: 2 }))
    expect(pages).toEqual([{ items: [0, 1], nextPageToken: '2' }, { items: [2, 3], nextPageToken: '4' }, { items: [4] }])
    expect(source.calls.map((c) => c.size)).toEqual([2, 2, 2])
  })

  it('resumes after a page token', async () => {
    const source = numbers(5)
    const pages = await collect(paginate(source.fetch).byPage({ pageSize: 2, pageToken: '2' }))
    expect(pages.flatMap((p) => p.items)).toEqual([2, 3, 4])
  })

  it('starts afresh for each iteration', async () => {
    const items = paginate(numbers(4).fetch)
    expect(await collect(items)).toEqual([0, 1, 2, 3])
    expect(await collect(items)).toEqual([0, 1, 2, 3])
  })

  it('yields one empty page for an empty listing', async () => {
    const pages = await collect(paginate(numbers(0).fetch).byPage())
    expect(pages).toEqual([{ items: [] }])
  })

  it('rejects a page size that is not a whole number ≥ 1', async () => {
    for (const pageSize of [0, -1, 1.5, Number.NaN]) {
      const error: unknown = await collect(paginate(numbers(3).fetch).byPage({ pageSize })).catch((e: unknown) => e)
      expect(isWharfError(error, 'INVALID_ARGUMENT'), String(pageSize)).toBe(true)
    }
  })

  it('stops a source that hands back the token it was given', async () => {
    const stuck = paginate<number>(() => Promise.resolve({ items: [1], nextPageToken: 'same' }))
    const error: unknown = await collect(stuck.byPage({ pageToken: 'same' })).catch((e: unknown) => e)
    expect(isWharfError(error, 'INTERNAL')).toBe(true)
  })

  it('passes a fetch failure on', async () => {
    const failing = paginate<number>(() => Promise.reject(new Error('boom')))
    await expect(collect(failing)).rejects.toThrow('boom')
  })

  it('starts from its defaults, which byPage settings override', async () => {
    const source = numbers(7)
    const items = paginate(source.fetch, { pageSize: 2, pageToken: '3' })
    expect(await collect(items)).toEqual([3, 4, 5, 6])
    expect(source.calls).toEqual([
      { token: '3', size: 2 },
      { token: '5', size: 2 },
    ])
    const pages = await collect(items.byPage({ pageToken: '5' }))
    expect(pages).toEqual([{ items: [5, 6] }])
  })

  it('collects every item with toArray, a page at a time', async () => {
    const source = numbers(5)
    expect(await paginate(source.fetch).toArray()).toEqual([0, 1, 2, 3, 4])
    expect(source.calls).toEqual([{}, { token: '3' }])
  })
})

describe('mapPage', () => {
  it('turns each item and keeps the next page token, dropping an empty one', () => {
    expect(mapPage({ items: [1, 2], nextPageToken: 'n' }, (n) => n * 10)).toEqual({ items: [10, 20], nextPageToken: 'n' })
    expect(mapPage({ items: [1], nextPageToken: '' }, String)).toEqual({ items: ['1'] })
    expect(mapPage({ items: [] }, String)).toEqual({ items: [] })
  })
})
