import { describe, expect, it } from 'vitest'
import { decodeChunk, encodeChunk, type ChunkPoints } from './codec.js'
import { seededRandom as createRandom } from '@wharf/contract/test-support'

type Random = () => number

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!
}

const SPECIAL_VALUES = [
  -0,
  0,
  Infinity,
  -Infinity,
  NaN,
  5e-324,
  2.2250738585072e-308,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  1,
  -1,
  0.1,
] as const

const TEXTS = ['', 'loss', 'é', 'naïve café', '日本語のテキスト', '🚀🙂', 'a\u0000b', 'x'.repeat(300)] as const

/** A double from 64 random bits: any exponent, NaNs with payloads included. */
function randomBits(random: Random): number {
  const pair = new Uint32Array([Math.floor(random() * 2 ** 32), Math.floor(random() * 2 ** 32)])
  return new Float64Array(pair.buffer)[0]!
}

function randomValues(random: Random, n: number): Float64Array {
  const values = new Float64Array(n)
  const kind = pick(random, ['special', 'bits', 'float32', 'constant', 'sin', 'mixed'] as const)
  let current = random() * 10
  for (let i = 0; i < n; i++) {
    switch (kind) {
      case 'special':
        values[i] = pick(random, SPECIAL_VALUES)
        break
      case 'bits':
        values[i] = randomBits(random)
        break
      case 'float32':
        values[i] = Math.fround(Math.exp(-i / 500) + random() * 0.05)
        break
      case 'constant':
        values[i] = current
        break
      case 'sin':
        values[i] = Math.sin(i)
        break
      case 'mixed':
        if (random() < 0.2) current = random() < 0.5 ? pick(random, SPECIAL_VALUES) : randomBits(random)
        values[i] = random() < 0.5 ? current : Math.fround(current + random())
        break
    }
  }
  return values
}

function randomSteps(random: Random, n: number): Float64Array {
  const steps = new Float64Array(n)
  const kind = pick(random, ['consecutive', 'repeats', 'strided', 'jumps', 'near-max'] as const)
  const maxJump = kind === 'jumps' ? 2 ** 40 : 3
  let step = kind === 'near-max' ? Number.MAX_SAFE_INTEGER - n * 4 : Math.floor(random() * 1000)
  for (let i = 0; i < n; i++) {
    steps[i] = step
    if (kind === 'consecutive') step += 1
    else if (kind === 'strided') step += 10
    else if (kind === 'near-max') step += Math.floor(random() * 4)
    else step += Math.floor(random() * (maxJump + 1))
  }
  if (kind === 'jumps' && n > 2) {
    // One delta as large as the steps allow.
    steps[n - 1] = Number.MAX_SAFE_INTEGER
    steps[0] = 0
  }
  return steps
}

/** Seqs that keep the invariant: increasing among equal steps; permuted or consecutive otherwise. */
function randomSeqs(random: Random, steps: Float64Array): Float64Array {
  const n = steps.length
  const base = pick(random, [0, 17, 2 ** 52] as const)
  const seqs = new Float64Array(n)
  for (let i = 0; i < n; i++) seqs[i] = base + i
  if (random() < 0.5) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      const swap = seqs[i]!
      seqs[i] = seqs[j]!
      seqs[j] = swap
    }
    for (let from = 0; from < n;) {
      let to = from + 1
      while (to < n && steps[to] === steps[from]) to++
      seqs.subarray(from, to).sort()
      from = to
    }
  }
  return seqs
}

function randomTimes(random: Random, n: number): Float64Array {
  const times = new Float64Array(n)
  const kind = pick(random, ['jitter', 'equal', 'huge', 'negative', 'fractional', 'negative-zero'] as const)
  let time = kind === 'huge' ? 8.64e15 - n * 100 : kind === 'negative' ? -8.64e15 : 1.7e12
  for (let i = 0; i < n; i++) {
    if (kind === 'jitter') time += 5 + (random() < 0.25 ? pick(random, [-1, 1]) : 0)
    else if (kind === 'equal') time += random() < 0.1 ? 1 : 0
    else if (kind === 'huge' || kind === 'negative') time += Math.floor(random() * 100)
    else time += random() * 10
    times[i] = kind === 'negative-zero' && i === 0 ? -0 : kind === 'negative' && random() < 0.1 ? -time : time
  }
  if (kind === 'huge' && n > 1) times[n - 1] = -8.64e15 // a delta beyond 2^53: raw times
  return times
}

function randomTexts(random: Random, n: number): (string | null)[] | null {
  const kind = pick(random, ['none', 'none', 'some', 'all'] as const)
  if (kind === 'none') return null
  const texts: (string | null)[] = []
  for (let i = 0; i < n; i++) texts.push(kind === 'all' || random() < 0.3 ? pick(random, TEXTS) : null)
  return texts
}

function randomChunk(seed: number, length?: number): ChunkPoints {
  const random = createRandom(seed)
  const n = length ?? 1 + Math.floor(random() ** 2 * 3000)
  const steps = randomSteps(random, n)
  return {
    length: n,
    steps,
    seqs: randomSeqs(random, steps),
    times: randomTimes(random, n),
    values: randomValues(random, n),
    texts: randomTexts(random, n),
  }
}

/** The first difference between a decoded chunk and the encoded points, or null (one expect per chunk keeps this fast). */
function firstDifference(decoded: ChunkPoints, points: ChunkPoints, fields: { times?: boolean; texts?: boolean }): string | null {
  const n = points.length
  if (decoded.length !== n) return `length ${decoded.length} ≠ ${n}`
  for (let i = 0; i < n; i++) {
    const text = points.texts?.[i] ?? null
    const value = points.values[i]!
    const expected = text !== null || Number.isNaN(value) ? NaN : value
    if (decoded.steps[i] !== points.steps[i]) return `point ${i}: step ${decoded.steps[i]} ≠ ${points.steps[i]}`
    if (decoded.seqs[i] !== points.seqs[i]) return `point ${i}: seq ${decoded.seqs[i]} ≠ ${points.seqs[i]}`
    if (fields.times !== false && !Object.is(decoded.times[i], points.times[i])) {
      return `point ${i}: time ${decoded.times[i]} ≠ ${points.times[i]}`
    }
    if (!Object.is(decoded.values[i], expected)) return `point ${i}: value ${decoded.values[i]} ≠ ${expected}`
  }
  if (decoded.steps.length !== n || decoded.seqs.length !== n || decoded.values.length !== n) return 'array lengths'
  if (decoded.times.length !== (fields.times === false ? 0 : n)) return `times length ${decoded.times.length}`
  return null
}

/** Compares a decoded chunk with the encoded points, naming the first point that differs. */
function expectSame(decoded: ChunkPoints, points: ChunkPoints, fields: { times?: boolean; texts?: boolean } = {}): void {
  expect(firstDifference(decoded, points, fields)).toBeNull()
  const hasTexts = points.texts?.some((t) => t !== null) ?? false
  if (fields.texts === false || !hasTexts) expect(decoded.texts).toBeNull()
  else expect(decoded.texts).toEqual(points.texts?.slice(0, points.length))
}

/** The shape bench/codec.ts measures: a float32 loss curve logged every step, 5 ms apart with jitter. */
function realisticChunk(seed: number): ChunkPoints {
  const random = createRandom(seed)
  const n = 1024
  const chunk: ChunkPoints = {
    length: n,
    steps: new Float64Array(n),
    seqs: new Float64Array(n),
    times: new Float64Array(n),
    values: new Float64Array(n),
    texts: null,
  }
  for (let i = 0; i < n; i++) {
    chunk.steps[i] = i
    chunk.seqs[i] = 5000 + i
    chunk.times[i] = 1_764_000_000_000 + i * 5 + (random() < 0.25 ? (random() < 0.5 ? -1 : 1) : 0)
    chunk.values[i] = Math.fround(2 * Math.exp(-i / 300) + 0.5 + (random() - 0.5) * 0.02)
  }
  return chunk
}

describe('metric chunk codec', () => {
  it('round-trips random chunks of 1 to 3000 points bit for bit', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const points = randomChunk(seed)
      expectSame(decodeChunk(encodeChunk(points)), points)
    }
  })

  it('round-trips one-point chunks of every kind, and an empty chunk', () => {
    for (let seed = 1000; seed < 1060; seed++) {
      const points = randomChunk(seed, 1)
      expectSame(decodeChunk(encodeChunk(points)), points)
    }
    const empty = randomChunk(1, 0)
    expectSame(decodeChunk(encodeChunk(empty)), empty)
  })

  it('round-trips delta-of-deltas at the edges of every code size', () => {
    const sizes = [1, 2, 3, 4, 5, 127, 128, 129, 32767, 32768, 32769, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 40 + 3, 2 ** 51]
    // Times: delta-of-deltas d, -2d, d (the time goes up by d and back); steps: d, -d (up by d every other point).
    const times = [1_000_000]
    const steps = [0]
    for (const d of sizes) {
      for (const dt of [d, 0, -d]) times.push(times[times.length - 1]! + dt)
      for (const ds of [d, 0]) steps.push(steps[steps.length - 1]! + ds)
    }
    const n = Math.min(times.length, steps.length)
    const points: ChunkPoints = {
      length: n,
      steps: Float64Array.from(steps.slice(0, n)),
      seqs: Float64Array.from({ length: n }, (_, i) => 3 * i),
      times: Float64Array.from(times.slice(0, n)),
      values: Float64Array.from({ length: n }, (_, i) => i),
      texts: null,
    }
    expectSame(decodeChunk(encodeChunk(points)), points)
  })

  it('keeps -0, ±Infinity, subnormals and the largest doubles next to each other', () => {
    const values = Float64Array.from([...SPECIAL_VALUES, ...SPECIAL_VALUES.slice().reverse(), -0, -0, 0, -0])
    const n = values.length
    const points: ChunkPoints = {
      length: n,
      steps: Float64Array.from(values, (_, i) => i),
      seqs: Float64Array.from(values, (_, i) => i),
      times: Float64Array.from(values, (_, i) => i * 1000.5),
      values,
      texts: null,
    }
    expectSame(decodeChunk(encodeChunk(points)), points)
  })

  it('keeps texts: empty, multi-byte, emoji, and a chunk of texts only', () => {
    const n = 40
    const base = realisticChunk(7)
    const mixed: ChunkPoints = {
      ...base,
      length: n,
      texts: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? (TEXTS[i % TEXTS.length] ?? null) : null)),
    }
    expectSame(decodeChunk(encodeChunk(mixed)), mixed)
    const allText: ChunkPoints = { ...base, length: n, texts: Array.from({ length: n }, (_, i) => TEXTS[i % TEXTS.length] ?? '') }
    expectSame(decodeChunk(encodeChunk(allText)), allText)
    const noneText: ChunkPoints = { ...base, length: n, texts: Array.from({ length: n }, () => null) }
    expectSame(decodeChunk(encodeChunk(noneText)), noneText)
  })

  it('skips times and texts when asked, with the other fields unchanged', () => {
    for (let seed = 2000; seed < 2040; seed++) {
      const points = randomChunk(seed)
      const bytes = encodeChunk(points)
      expectSame(decodeChunk(bytes, { times: false }), points, { times: false })
      expectSame(decodeChunk(bytes, { texts: false }), points, { texts: false })
      expectSame(decodeChunk(bytes, { times: false, texts: false }), points, { times: false, texts: false })
    }
  })

  it('reads a blob at any byte offset of a larger buffer', () => {
    const points = randomChunk(31)
    const bytes = encodeChunk(points)
    const shifted = new Uint8Array(bytes.length + 3)
    shifted.set(bytes, 3)
    expectSame(decodeChunk(shifted.subarray(3)), points)
  })

  it('throws on a truncated blob, an extra byte, and an unknown version', () => {
    for (const seed of [3, 4, 5, 6]) {
      const bytes = encodeChunk(randomChunk(seed, 60))
      const decodedCuts: number[] = []
      for (let cut = 0; cut < bytes.length; cut++) {
        try {
          decodeChunk(bytes.subarray(0, cut))
          decodedCuts.push(cut)
        } catch (error) {
          if (!(error instanceof Error)) throw error
        }
      }
      expect(decodedCuts, `blob of ${bytes.length} bytes`).toEqual([])
      const longer = new Uint8Array(bytes.length + 1)
      longer.set(bytes)
      expect(() => decodeChunk(longer)).toThrow(/corrupt metric chunk/)
      const newer = bytes.slice()
      newer[0] = 2
      expect(() => decodeChunk(newer)).toThrow(/version 2 is unknown/)
    }
  })

  it('decodes or throws an Error, never anything else, on random byte corruption', () => {
    const random = createRandom(99)
    for (let round = 0; round < 300; round++) {
      const bytes = encodeChunk(randomChunk(round + 3000, 1 + Math.floor(random() * 300)))
      for (let flips = 0; flips < 3; flips++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256)
      try {
        decodeChunk(bytes)
      } catch (error) {
        expect(error).toBeInstanceOf(Error)
      }
    }
  })

  it('refuses points that break the chunk invariants', () => {
    const points = realisticChunk(1)
    expect(() => encodeChunk({ ...points, steps: Float64Array.from(points.steps).reverse() })).toThrow(/non-decreasing/)
    expect(() => encodeChunk({ ...points, steps: points.steps.map((s) => s + 0.5) })).toThrow(/safe integer/)
    expect(() => encodeChunk({ ...points, seqs: points.seqs.map(() => -1) })).toThrow(/seq -1/)
    expect(() => encodeChunk({ ...points, length: 2000 })).toThrow(/at least 2000/)
  })

  it('stores the realistic shape in at most 4 bytes a point, and consecutive steps and seqs in almost none', () => {
    const bytes = encodeChunk(realisticChunk(42))
    expect(bytes.length / 1024).toBeLessThanOrEqual(4)
    const n = 1024
    const flat: ChunkPoints = {
      length: n,
      steps: Float64Array.from({ length: n }, (_, i) => 100 + i),
      seqs: Float64Array.from({ length: n }, (_, i) => 7 + i),
      times: Float64Array.from({ length: n }, (_, i) => 1_764_000_000_000 + i * 10),
      values: new Float64Array(n).fill(0.25),
      texts: null,
    }
    // 64 bits for the first value, then one bit a point for values and for times.
    expect(encodeChunk(flat).length).toBeLessThan(8 + 32 + (2 * n) / 8)
  })
})
