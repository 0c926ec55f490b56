import { describe, expect, it } from 'vitest'
import { isWharfError } from './errors.js'
import { DEFAULT_LIMITS } from './limits.js'
import { checkMetricPoint, fromWireNumber, parseMetricBatch, parseMetricPoint, toWireNumber } from './metric-validation.js'
import { MetricBatchSchema, MetricPointInSchema } from './schemas.js'
import { thrownCodeOf } from './test-support/index.js'

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
    for (const input of bad)
      expect(
        thrownCodeOf(() => parseMetricBatch(input, DEFAULT_LIMITS)),
        JSON.stringify(input),
      ).toBe('INVALID_ARGUMENT')
  })

  it('refuses lone UTF-16 surrogates in names and texts, and keeps well-formed pairs', () => {
    for (const batch of [
      { points: [{ name: 'loss\ud800', value: 1 }] },
      { points: [{ name: 'note', text: '\udfff' }] },
      { series: [{ name: 'x\udc00', values: [1] }] },
      { series: [{ name: 'notes', texts: ['ok', 'half \ud83d'] }] },
    ]) {
      expect(
        thrownCodeOf(() => parseMetricBatch(batch, DEFAULT_LIMITS)),
        JSON.stringify(batch),
      ).toBe('INVALID_ARGUMENT')
    }
    expect(
      parseMetricBatch({ points: [{ name: 'rocket \ud83d\ude80', text: '\u{1F680}' }] }, DEFAULT_LIMITS).points,
    ).toHaveLength(1)
  })

  it('counts rows and columns together against pointsPerBatch, and names the limit', () => {
    const limits = { ...DEFAULT_LIMITS, pointsPerBatch: 3 }
    expect(
      thrownCodeOf(() =>
        parseMetricBatch(
          {
            points: [
              { name: 'a', value: 1 },
              { name: 'a', value: 1 },
            ],
            series: [{ name: 'b', values: [1, 2] }],
          },
          limits,
        ),
      ),
    ).toBe('LIMIT_EXCEEDED')
    expect(thrownCodeOf(() => parseMetricBatch({ series: [{ name: 'b', values: [1, 2, 3] }] }, limits))).toBeUndefined()
    expect(thrownCodeOf(() => parseMetricBatch({ series: [{ name: 'b', texts: ['x'.repeat(5000)] }] }, DEFAULT_LIMITS))).toBe(
      'LIMIT_EXCEEDED',
    )
  })

  it('round-trips non-finite numbers through their wire form', () => {
    for (const n of [0, -1.5, NaN, Infinity, -Infinity]) expect(fromWireNumber(toWireNumber(n))).toBe(n)
    expect(toWireNumber(NaN)).toBe('NaN')
  })
})

const MAX = Number.MAX_SAFE_INTEGER
const long = 'n'.repeat(DEFAULT_LIMITS.metricNameLength)

/** Points as a row of `points`, each with whether the contract accepts it. */
const POINT_CASES: [string, unknown, boolean][] = [
  ['a plain value', { name: 'loss', value: 0.3 }, true],
  ['a text', { name: 'note', text: 'hi' }, true],
  ['-0', { name: 'loss', value: -0 }, true],
  ['step -0', { name: 'loss', value: 1, step: -0 }, true],
  ['NaN as its string', { name: 'loss', value: 'NaN' }, true],
  ['Infinity as its string', { name: 'loss', value: 'Infinity' }, true],
  ['-Infinity as its string', { name: 'loss', value: '-Infinity' }, true],
  ['NaN as a number', { name: 'loss', value: NaN }, false],
  ['Infinity as a number', { name: 'loss', value: Infinity }, false],
  ['nan spelled otherwise', { name: 'loss', value: 'nan' }, false],
  ['-inf', { name: 'loss', value: '-inf' }, false],
  ['step 0', { name: 'loss', value: 1, step: 0 }, true],
  ['step at the limit', { name: 'loss', value: 1, step: MAX }, true],
  ['step over the limit', { name: 'loss', value: 1, step: MAX + 1 }, false],
  ['step huge', { name: 'loss', value: 1, step: 1e300 }, false],
  ['step negative', { name: 'loss', value: 1, step: -1 }, false],
  ['step fractional', { name: 'loss', value: 1, step: 1.5 }, false],
  ['step as a string', { name: 'loss', value: 1, step: '1' }, false],
  ['step null', { name: 'loss', value: 1, step: null }, false],
  ['time', { name: 'loss', value: 1, time: 1_700_000_000_000 }, true],
  ['time negative', { name: 'loss', value: 1, time: -5 }, true],
  ['time infinite', { name: 'loss', value: 1, time: Infinity }, false],
  ['time as a string', { name: 'loss', value: 1, time: 'now' }, false],
  ['value as a string', { name: 'loss', value: '0.3' }, false],
  ['value as a boolean', { name: 'loss', value: true }, false],
  ['value null', { name: 'loss', value: null }, false],
  ['text as a number', { name: 'note', text: 5 }, false],
  ['text null', { name: 'note', text: null }, false],
  ['both value and text', { name: 'x', value: 1, text: 'a' }, false],
  ['neither value nor text', { name: 'x' }, false],
  ['missing name', { value: 1 }, false],
  ['empty name', { name: '', value: 1 }, false],
  ['name as a number', { name: 5, value: 1 }, false],
  ['name at the length limit', { name: long, value: 1 }, true],
  ['name over the length limit', { name: `${long}n`, value: 1 }, false],
  ['name with a control char', { name: 'lo\u0007ss', value: 1 }, false],
  ['name with a newline', { name: 'lo\nss', value: 1 }, false],
  ['name with a lone surrogate', { name: 'loss\ud800', value: 1 }, false],
  ['name with an emoji', { name: 'rocket \ud83d\ude80', value: 1 }, true],
  ['text at the length limit', { name: 'note', text: 't'.repeat(DEFAULT_LIMITS.metricTextLength) }, true],
  ['text over the length limit', { name: 'note', text: 't'.repeat(DEFAULT_LIMITS.metricTextLength + 1) }, false],
  ['text with a lone surrogate', { name: 'note', text: '\udfff' }, false],
  ['an extra field', { name: 'loss', value: 1, colour: 'red' }, false],
  ['not an object', 5, false],
  ['an array', [], false],
  ['null', null, false],
]

/** Whole batches, each with whether the contract accepts it. */
const BATCH_CASES: [string, unknown, boolean][] = [
  ...POINT_CASES.map(([what, point, ok]): [string, unknown, boolean] => [`points: ${what}`, { points: [point] }, ok]),
  ['no points and no series', {}, false],
  ['empty points', { points: [] }, true],
  ['writer and sequence', { writerId: 'w', sequence: 0, points: [] }, true],
  ['sequence at the limit', { writerId: 'w', sequence: MAX, points: [] }, true],
  ['sequence over the limit', { writerId: 'w', sequence: MAX + 1, points: [] }, false],
  ['sequence huge', { writerId: 'w', sequence: 1e20, points: [] }, false],
  ['sequence negative', { writerId: 'w', sequence: -1, points: [] }, false],
  ['sequence -0', { writerId: 'w', sequence: -0, points: [] }, true],
  ['sequence as a string', { writerId: 'w', sequence: '1', points: [] }, false],
  ['writer without sequence', { writerId: 'w', points: [] }, false],
  ['sequence without writer', { sequence: 1, points: [] }, false],
  ['empty writer', { writerId: '', sequence: 1, points: [] }, false],
  ['writer at 128 characters', { writerId: 'w'.repeat(128), sequence: 1, points: [] }, true],
  ['writer over 128 characters', { writerId: 'w'.repeat(129), sequence: 1, points: [] }, false],
  ['an extra batch field', { points: [], run: 'x' }, false],
  ['points not an array', { points: {} }, false],
  ['series not an array', { series: {} }, false],
  [
    'points at the batch limit',
    { points: Array.from({ length: DEFAULT_LIMITS.pointsPerBatch }, () => ({ name: 'a', value: 1 })) },
    true,
  ],
  [
    'points over the batch limit',
    { points: Array.from({ length: DEFAULT_LIMITS.pointsPerBatch + 1 }, () => ({ name: 'a', value: 1 })) },
    false,
  ],
  [
    'rows and columns over the batch limit together',
    {
      points: [{ name: 'a', value: 1 }],
      series: [{ name: 'b', values: Array.from({ length: DEFAULT_LIMITS.pointsPerBatch }, () => 1) }],
    },
    false,
  ],
  [
    'a series',
    { series: [{ name: 'b', values: [1, 'NaN', null], texts: [null, null, 'x'], steps: [5, 6, 7], times: [1, 2, 3] }] },
    true,
  ],
  ['series -0', { series: [{ name: 'b', values: [-0], steps: [-0] }] }, true],
  ['series step at the limit', { series: [{ name: 'b', values: [1], steps: [MAX] }] }, true],
  ['series step over the limit', { series: [{ name: 'b', values: [1], steps: [MAX + 1] }] }, false],
  ['series step negative', { series: [{ name: 'b', values: [1], steps: [-1] }] }, false],
  ['series step null', { series: [{ name: 'b', values: [1], steps: [null] }] }, false],
  ['series time infinite', { series: [{ name: 'b', values: [1], times: [Infinity] }] }, false],
  ['series value NaN as a number', { series: [{ name: 'b', values: [NaN] }] }, false],
  ['series value as a string', { series: [{ name: 'b', values: ['high'] }] }, false],
  ['series entry with neither', { series: [{ name: 'b', values: [null] }] }, false],
  ['series entry with both', { series: [{ name: 'b', values: [1], texts: ['x'] }] }, false],
  ['series columns of other lengths', { series: [{ name: 'b', values: [1, 2], steps: [1] }] }, false],
  ['series without values or texts', { series: [{ name: 'b' }] }, false],
  ['series with an extra field', { series: [{ name: 'b', values: [1], colour: [] }] }, false],
  ['series empty name', { series: [{ name: '', values: [1] }] }, false],
  ['series long name', { series: [{ name: `${long}n`, values: [1] }] }, false],
  ['series name with a control char', { series: [{ name: 'b\u001b', values: [1] }] }, false],
  ['series text over the limit', { series: [{ name: 'b', texts: ['t'.repeat(DEFAULT_LIMITS.metricTextLength + 1)] }] }, false],
  ['series not an object', { series: [5] }, false],
  ['series values not an array', { series: [{ name: 'b', values: 1 }] }, false],
]

function accepts(check: () => unknown): boolean {
  try {
    check()
    return true
  } catch (error) {
    if (!isWharfError(error)) throw error
    return false
  }
}

describe('one metric point check', () => {
  it.each(POINT_CASES)('a point, %s: the zod schema and the fast parser agree', (_what, point, ok) => {
    expect(accepts(() => parseMetricPoint(point, DEFAULT_LIMITS))).toBe(ok)
    expect(MetricPointInSchema.safeParse(point).success).toBe(ok)
  })

  it.each(BATCH_CASES)('a batch, %s: the zod schema and the fast parser agree', (_what, batch, ok) => {
    expect(accepts(() => parseMetricBatch(batch, DEFAULT_LIMITS))).toBe(ok)
    expect(MetricBatchSchema.safeParse(batch).success).toBe(ok)
  })

  it('follows the limits it is given, and names the place of the point', () => {
    const limits = { ...DEFAULT_LIMITS, metricTextLength: 2 }
    expect(thrownCodeOf(() => checkMetricPoint({ name: 'n', text: 'abc' }, { limits, place: { call: 'n' } }))).toBe(
      'LIMIT_EXCEEDED',
    )
    expect(thrownCodeOf(() => checkMetricPoint({ name: 'n', text: 'ab' }, { limits, place: { call: 'n' } }))).toBeUndefined()
    expect(() => checkMetricPoint({ name: 'n', value: 1, step: -1 }, { limits, place: { series: 2, entry: 7 } })).toThrow(
      'series[2].steps[7]',
    )
    expect(() => checkMetricPoint({ name: 'n', value: 1, step: -1 }, { limits, place: { row: 4 } })).toThrow('points[4].step')
  })
})
