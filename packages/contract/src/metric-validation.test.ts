import { describe, expect, it } from 'vitest'
import { isWharfError } from './errors.js'
import { DEFAULT_LIMITS } from './limits.js'
import { fromWireNumber, parseMetricBatch, toWireNumber } from './metric-validation.js'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    return isWharfError(error) ? error.code : 'not a WharfError'
  }
  return undefined
}

describe('parseMetricBatch', () => {
  it('accepts rows and columns, and keeps rows first then each series in order', () => {
    const parsed = parseMetricBatch(
      {
        writerId: 'w',
        sequence: 3,
        points: [{ name: 'a', value: 1 }],
        series: [
          { name: 'b', values: [1, 'NaN', null], texts: [null, null, 'x'], steps: [5, 6, 7], times: [1, 2, 3] },
          { name: 'c', texts: ['hello'] },
        ],
      },
      DEFAULT_LIMITS,
    )
    expect(parsed).toEqual({
      writerId: 'w',
      sequence: 3,
      points: [
        { name: 'a', value: 1 },
        { name: 'b', value: 1, step: 5, time: 1 },
        { name: 'b', value: 'NaN', step: 6, time: 2 },
        { name: 'b', text: 'x', step: 7, time: 3 },
        { name: 'c', text: 'hello' },
      ],
    })
  })

  it('rejects malformed columns with INVALID_ARGUMENT', () => {
    const bad: unknown[] = [
      { series: [{ name: 'b' }] },
      { series: [{ name: 'b', values: [1, 2], steps: [1] }] },
      { series: [{ name: 'b', values: [1], texts: ['x'] }] },
      { series: [{ name: 'b', values: [null] }] },
      { series: [{ name: 'b', values: ['high'] }] },
      { series: [{ name: 'b', values: [1], steps: [1.5] }] },
      { series: [{ name: 'b', values: [1], times: ['now'] }] },
      { series: [{ name: 'b', values: [1], colour: [] }] },
      { series: {} },
      { series: [5] },
      {},
      { writerId: 'w', points: [] },
      { sequence: 1, points: [] },
    ]
    for (const input of bad) expect(codeOf(() => parseMetricBatch(input, DEFAULT_LIMITS)), JSON.stringify(input)).toBe('INVALID_ARGUMENT')
  })

  it('refuses lone UTF-16 surrogates in names and texts, and keeps well-formed pairs', () => {
    for (const batch of [
      { points: [{ name: 'loss\ud800', value: 1 }] },
      { points: [{ name: 'note', text: '\udfff' }] },
      { series: [{ name: 'x\udc00', values: [1] }] },
      { series: [{ name: 'notes', texts: ['ok', 'half \ud83d'] }] },
    ]) {
      expect(codeOf(() => parseMetricBatch(batch, DEFAULT_LIMITS)), JSON.stringify(batch)).toBe('INVALID_ARGUMENT')
    }
    expect(parseMetricBatch({ points: [{ name: 'rocket \ud83d\ude80', text: '\u{1F680}' }] }, DEFAULT_LIMITS).points).toHaveLength(1)
  })

  it('counts rows and columns together against pointsPerBatch, and names the limit', () => {
    const limits = { ...DEFAULT_LIMITS, pointsPerBatch: 3 }
    expect(codeOf(() => parseMetricBatch({ points: [{ name: 'a', value: 1 }, { name: 'a', value: 1 }], series: [{ name: 'b', values: [1, 2] }] }, limits))).toBe(
      'LIMIT_EXCEEDED',
    )
    expect(codeOf(() => parseMetricBatch({ series: [{ name: 'b', values: [1, 2, 3] }] }, limits))).toBeUndefined()
    expect(codeOf(() => parseMetricBatch({ series: [{ name: 'b', texts: ['x'.repeat(5000)] }] }, DEFAULT_LIMITS))).toBe('LIMIT_EXCEEDED')
  })

  it('round-trips non-finite numbers through their wire form', () => {
    for (const n of [0, -1.5, NaN, Infinity, -Infinity]) expect(fromWireNumber(toWireNumber(n))).toBe(n)
    expect(toWireNumber(NaN)).toBe('NaN')
  })
})
