import type { Limits } from '@wharf/contract'
import { assertWithinLimit } from '@wharf/contract'

/** The page size a listing asked for, defaulting to 100 and capped by the `pageSize` limit. */
export function pageSizeOf(query: { pageSize?: number | undefined }, limits: Pick<Limits, 'pageSize'>): number {
  const size = query.pageSize ?? Math.min(100, limits.pageSize)
  assertWithinLimit(limits, 'pageSize', { what: 'pageSize', actual: size })
  return size
}
