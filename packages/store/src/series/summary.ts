import type { ChunkPoints } from './codec.js'

/**
 * The summary of one chunk, kept beside its encoded points so chart reads answer whole chunks without
 * decoding them. Numbers are kept bit-exact as float64 (a blob, not REAL columns: SQLite loses -0 in
 * REAL columns and cannot store NaN), in this order:
 */
export const S = {
  /** Numeric points (finite or not); text points are not counted. */
  Numeric: 0,
  /** NaN and ±Infinity among them. */
  NonFinite: 1,
  /** Least and greatest finite value, NaN when there is none. */
  Min: 2,
  Max: 3,
  /** The first numeric point in read order (step, then arrival): its step, arrival sequence, time, value. */
  FirstStep: 4,
  FirstSeq: 5,
  FirstTime: 6,
  FirstValue: 7,
  /** The last numeric point in read order. */
  LastStep: 8,
  LastSeq: 9,
  LastTime: 10,
  LastValue: 11,
  /** 1 when times never decrease in read order, so time order and read order agree within the chunk. */
  TimeOrdered: 12,
} as const
export const SUMMARY_LENGTH = 13

/** Bounds of a chunk over all its points (text included): what reads select chunks by. */
export interface ChunkBounds {
  minStep: number
  maxStep: number
  minTime: number
  maxTime: number
  count: number
}

/** Whether `value` is NaN or ±Infinity. */
export function isNonFinite(value: number): boolean {
  return value - value !== 0
}

/** `candidate` is a lower minimum than `current` (NaN: none yet), with -0 below +0 as Math.min has it. */
export function lowerThan(candidate: number, current: number): boolean {
  return Number.isNaN(current) || candidate < current || (candidate === 0 && current === 0 && Object.is(candidate, -0))
}

/** `candidate` is a higher maximum than `current` (NaN: none yet), with +0 above -0 as Math.max has it. */
export function higherThan(candidate: number, current: number): boolean {
  return Number.isNaN(current) || candidate > current || (candidate === 0 && current === 0 && Object.is(current, -0))
}

/** Summarises points already in read order. */
export function summarize(points: ChunkPoints): { summary: Float64Array; bounds: ChunkBounds } {
  const { length, steps, seqs, times, values, texts } = points
  const s = new Float64Array(SUMMARY_LENGTH)
  s[S.Min] = Number.NaN
  s[S.Max] = Number.NaN
  let numeric = 0
  let nonFinite = 0
  let minTime = Number.POSITIVE_INFINITY
  let maxTime = Number.NEGATIVE_INFINITY
  let timeOrdered = 1
  for (let i = 0; i < length; i++) {
    const time = times[i] as number
    if (time < minTime) minTime = time
    if (time > maxTime) maxTime = time
    if (i > 0 && time < (times[i - 1] as number)) timeOrdered = 0
    if (texts !== null && texts[i] !== null) continue
    const value = values[i] as number
    if (numeric === 0) {
      s[S.FirstStep] = steps[i] as number
      s[S.FirstSeq] = seqs[i] as number
      s[S.FirstTime] = time
      s[S.FirstValue] = value
    }
    numeric++
    s[S.LastStep] = steps[i] as number
    s[S.LastSeq] = seqs[i] as number
    s[S.LastTime] = time
    s[S.LastValue] = value
    if (isNonFinite(value)) {
      nonFinite++
      continue
    }
    if (lowerThan(value, s[S.Min] as number)) s[S.Min] = value
    if (higherThan(value, s[S.Max] as number)) s[S.Max] = value
  }
  s[S.Numeric] = numeric
  s[S.NonFinite] = nonFinite
  s[S.TimeOrdered] = timeOrdered
  const bounds: ChunkBounds = {
    minStep: steps[0] as number,
    maxStep: steps[length - 1] as number,
    minTime,
    maxTime,
    count: length,
  }
  return { summary: s, bounds }
}

/** The summary as stored: 13 little-endian float64. */
export function packSummary(summary: Float64Array): Uint8Array {
  return new Uint8Array(summary.buffer.slice(summary.byteOffset, summary.byteOffset + summary.byteLength))
}

/** A stored summary, read back. */
export function unpackSummary(bytes: Uint8Array): Float64Array {
  if (bytes.byteLength !== SUMMARY_LENGTH * 8)
    throw new Error(`a chunk summary has ${bytes.byteLength} bytes, not ${SUMMARY_LENGTH * 8}`)
  const copy = new Uint8Array(bytes.byteLength)
  copy.set(bytes)
  return new Float64Array(copy.buffer)
}
