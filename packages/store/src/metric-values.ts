import { WharfError, printable } from '@wharf/contract'
import type { MetricPoint, MetricPointIn, NonFiniteValue } from '@wharf/contract'

/** A number as read back: finite, or one of the wire's non-finite strings. */
export type WireNumber = Exclude<MetricPoint['value'], undefined>

// Spelled through NonFiniteValue because the contract's emitted declarations drop '-Infinity' from the
// zod-inferred unions (a declaration-emit quirk with the key "-Infinity"); from source it is a no-op.
const NEGATIVE_INFINITY = '-Infinity' as NonFiniteValue as WireNumber

// Storage encoding, the same on both engines: a number sits in a REAL column, ±Infinity included (both
// engines store them). SQLite turns a bound NaN into NULL, so NaN is stored as NULL REAL with NULL text,
// and a string metric as NULL REAL with its text.

/** A metric value as the store keeps it. */
export interface StoredValue {
  value: number | null
  text: string | null
}

/** Encodes a wire point's value; INVALID_ARGUMENT unless exactly one of `value` and `text` is set. */
export function encodePointValue(point: MetricPointIn): StoredValue {
  const { value, text } = point
  if ((value === undefined) === (text === undefined)) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `metric point "${printable(point.name)}" must have exactly one of "value" (a number) and "text" (a string)`,
      { details: { field: 'value', name: point.name } },
    )
  }
  if (text !== undefined) return { value: null, text }
  // The non-finite strings: Number('Infinity') and Number('-Infinity') are the infinities.
  if (typeof value === 'string') return { value: value === 'NaN' ? null : Number(value), text: null }
  return { value: value === undefined || Number.isNaN(value) ? null : value, text: null }
}

/** Decodes a stored number; null (the NaN encoding) becomes 'NaN'. */
export function decodeNumber(value: number | null): WireNumber {
  if (value === null || Number.isNaN(value)) return 'NaN'
  if (value === Number.POSITIVE_INFINITY) return 'Infinity'
  if (value === Number.NEGATIVE_INFINITY) return NEGATIVE_INFINITY
  return value
}

/** Decodes a stored value that may be absent (min/max of a metric without numbers): null stays null. */
export function decodeOptionalNumber(value: number | null): WireNumber | null {
  return value === null ? null : decodeNumber(value)
}

/** Decodes a stored value to the wire's single-field form (a number, a non-finite string, or text). */
export function decodeValue(stored: StoredValue): number | string {
  return stored.text !== null ? stored.text : decodeNumber(stored.value)
}

/** Decodes a stored point to its wire shape: `text` for string metrics, `value` otherwise. */
export function decodePoint(row: { step: number; time: number } & StoredValue): MetricPoint {
  return row.text !== null
    ? { step: row.step, time: row.time, text: row.text }
    : { step: row.step, time: row.time, value: decodeNumber(row.value) }
}
