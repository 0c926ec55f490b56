import { encode } from '@msgpack/msgpack'
import { describe, expect, it } from 'vitest'
import { toJson } from './json.js'
import { DEFAULT_LIMITS } from './limits.js'
import { parseMetricBatch } from './metric-validation.js'
import { decodeMsgpackBody, encodeMetricBatch, isMsgpackMediaType } from './metric-wire.js'
import type { MetricBatch, MetricSeriesIn } from './schemas.js'
import { thrownCodeOf } from './test-support/index.js'
import { seededRandom as seeded } from './test-support/index.js'

const AWKWARD = [0, -0, 1e-310, -1.5, Number.MAX_VALUE, 'NaN', 'Infinity', '-Infinity'] as const

/** A random series: numbers (some awkward), sometimes texts mixed in, sometimes steps and times. */
function randomSeries(random: () => number, name: string): MetricSeriesIn {
  const count = 1 + Math.floor(random() * 20)
  const mixed = random() < 0.3
  const values: (number | 'NaN' | 'Infinity' | '-Infinity' | null)[] = []
  const texts: (string | null)[] = []
  for (let i = 0; i < count; i++) {
    const isText = mixed && random() < 0.5
    const awkward = AWKWARD[Math.floor(random() * AWKWARD.length)] ?? 0
    values.push(isText ? null : random() < 0.2 ? awkward : (random() - 0.5) * 1e6)
    texts.push(isText ? `t${i} ✓` : null)
  }
  const series: MetricSeriesIn = { name, values }
  if (mixed) series.texts = texts
  if (random() < 0.5) series.steps = Array.from({ length: count }, (_, i) => i * 3)
  if (random() < 0.7) series.times = Array.from({ length: count }, (_, i) => 1_700_000_000_000 + i + random())
  return series
}

describe('the MessagePack form of a metric batch', () => {
  it('reads back as the same points as the JSON form, -0, NaN, ±Infinity and texts included (seeded)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = seeded(seed)
      const names = ['loss', 'acc', 'lr', 'note'].filter(() => random() < 0.8)
      const batch: MetricBatch = {
        writerId: `writer-${seed}`,
        sequence: seed,
        series: names.map((name) => randomSeries(random, name)),
        ...(random() < 0.3 ? { points: [{ name: 'row', value: -0, step: 2 }] } : {}),
      }
      if (batch.series?.length === 0 && batch.points === undefined) batch.points = [{ name: 'row', value: 1 }]
      const viaJson = parseMetricBatch(JSON.parse(toJson(batch)), DEFAULT_LIMITS)
      const viaMsgpack = parseMetricBatch(decodeMsgpackBody(encodeMetricBatch(batch)), DEFAULT_LIMITS)
      // toJson keeps -0, which toEqual alone would not tell from 0.
      expect(toJson(viaMsgpack), `seed ${seed}`).toBe(toJson(viaJson))
      expect(viaMsgpack, `seed ${seed}`).toEqual(viaJson)
    }
  })

  it('is far smaller than JSON for a 1,000-point batch', () => {
    const values = Array.from({ length: 250 }, (_, i) => Math.sin(i))
    const times = Array.from({ length: 250 }, (_, i) => 1_700_000_000_000 + i)
    const batch: MetricBatch = { series: ['a', 'b', 'c', 'd'].map((name) => ({ name, values, times })) }
    // 8 bytes a double plus a few of framing, against ~20 characters of text.
    expect(encodeMetricBatch(batch).length).toBeLessThan(16_200)
    expect(toJson(batch).length).toBeGreaterThan(25_000)
  })

  it('refuses bodies that are not one whole MessagePack value with MALFORMED_REQUEST', () => {
    const whole = encodeMetricBatch({ series: [{ name: 'loss', values: [1, 2] }] })
    const bad: [string, Uint8Array][] = [
      ['empty', new Uint8Array()],
      ['cut short', whole.subarray(0, whole.length - 3)],
      ['trailing bytes', Uint8Array.from([...whole, 0x00])],
      ['a byte MessagePack never uses', Uint8Array.of(0xc1)],
      ['an array claiming 4 billion entries', Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff, 0x00)],
      ['a string claiming 4 GB', Uint8Array.of(0xdb, 0xff, 0xff, 0xff, 0xff, 0x61)],
      ['a __proto__ key', encode({ ['__proto__']: 1 })],
    ]
    for (const [what, bytes] of bad)
      expect(
        thrownCodeOf(() => decodeMsgpackBody(bytes)),
        what,
      ).toBe('MALFORMED_REQUEST')
  })

  it('refuses decodable bodies of the wrong shape with INVALID_ARGUMENT', () => {
    const bad: [string, unknown][] = [
      ['a float64 column of 7 bytes', { series: [{ name: 'loss', values: new Uint8Array(7) }] }],
      ['binary texts', { series: [{ name: 'note', texts: new Uint8Array(8) }] }],
      ['columns of different lengths', { series: [{ name: 'loss', values: new Uint8Array(16), times: new Uint8Array(8) }] }],
      ['a fractional step', { series: [{ name: 'loss', values: new Uint8Array(8), steps: new Float64Array([0.5]) }] }],
      ['a NaN time', { series: [{ name: 'loss', values: new Uint8Array(8), times: new Float64Array([NaN]) }] }],
      ['a binary name', { series: [{ name: new Uint8Array(4), values: [1] }] }],
      ['an array at the top', [1, 2]],
      ['a timestamp as a value', { points: [{ name: 'loss', value: new Date(0) }] }],
    ]
    for (const [what, body] of bad) {
      const decoded = decodeMsgpackBody(encode(body))
      expect(
        thrownCodeOf(() => parseMetricBatch(decoded, DEFAULT_LIMITS)),
        what,
      ).toBe('INVALID_ARGUMENT')
    }
  })

  it('reads float64 columns that sit at any offset in the body', () => {
    // A name of each length shifts the columns after it to every alignment.
    for (let length = 1; length <= 8; length++) {
      const name = 'n'.repeat(length)
      const batch: MetricBatch = { series: [{ name, values: [1.25, -0, 3], times: [10, 20, 30] }] }
      const parsed = parseMetricBatch(decodeMsgpackBody(encodeMetricBatch(batch)), DEFAULT_LIMITS)
      expect(toJson(parsed.points), name).toBe(
        toJson([
          { name, value: 1.25, time: 10 },
          { name, value: -0, time: 20 },
          { name, value: 3, time: 30 },
        ]),
      )
    }
  })

  it('knows the MessagePack media types', () => {
    for (const type of ['application/msgpack', 'application/vnd.msgpack', 'application/x-msgpack; charset=binary']) {
      expect(isMsgpackMediaType(type), type).toBe(true)
    }
    for (const type of ['application/json', 'application/msgpackx', 'text/plain', ''])
      expect(isMsgpackMediaType(type), type).toBe(false)
  })
})
