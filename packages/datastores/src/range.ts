import { WharfError, printable } from '@wharf/contract'
import type { GetOptions } from './driver.js'

/** An inclusive byte range as a get asks for it. */
export type ByteRange = NonNullable<GetOptions['range']>

/** Throws INVALID_ARGUMENT unless `start` is a whole number ≥ 0 and `end`, when given, is one ≥ `start`. */
export function checkRange(range: ByteRange): void {
  const { start, end } = range
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new WharfError('INVALID_ARGUMENT', `the range start ${String(start)} is not a whole number of bytes ≥ 0`)
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) {
    throw new WharfError('INVALID_ARGUMENT', `the range end ${String(end)} is not a whole number ≥ the start (${start})`)
  }
}

/**
 * The bytes of `range` inside a file of `size` bytes. An end past the last byte is cut to it (as HTTP
 * does); a start at or past the end throws RANGE_NOT_SATISFIABLE.
 */
export function rangeWithin(range: ByteRange, options: { size: number; key: string }): { start: number; end: number } {
  checkRange(range)
  const { size, key } = options
  if (range.start >= size) {
    throw new WharfError(
      'RANGE_NOT_SATISFIABLE',
      `the range starting at byte ${range.start} is past the end of "${printable(key)}" (${size} bytes); ask for bytes 0 to ${Math.max(size - 1, 0)}`,
      { details: { size } },
    )
  }
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) }
}

/** What every driver's get checks before asking its storage: a well-formed range, and a caller still waiting. */
export function checkGet(options: GetOptions): void {
  if (options.range) checkRange(options.range)
  options.signal?.throwIfAborted()
}
