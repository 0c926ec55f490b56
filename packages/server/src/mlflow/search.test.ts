import { describe, expect, it } from 'vitest'
import {
  EXPERIMENT_SEARCH,
  RUN_SEARCH,
  likeMatcher,
  matches,
  parseFilter,
  parseOrderBy,
  sortItems,
  type Searchable,
} from './search.js'

const run = (overrides: Partial<Searchable> = {}): Searchable => ({
  attributes: { run_id: 'r1', run_name: 'alpha', status: 'FINISHED', start_time: 10, end_time: null },
  metrics: { rmse: 0.5, 'model class': 2 },
  params: { lr: '0.1' },
  tags: { 'user-name': 'Ana', 'mlflow.runName': 'alpha' },
  ...overrides,
})

describe('MLflow search grammar', () => {
  it('parses clauses with prefixes, quoted keys, lists and numbers', () => {
    expect(parseFilter("metrics.rmse < 1e0 and params.lr = '0.1' AND tags.`user-name` LIKE 'A%'", RUN_SEARCH)).toEqual([
      { kind: 'metric', key: 'rmse', comparator: '<', value: 1 },
      { kind: 'param', key: 'lr', comparator: '=', value: '0.1' },
      { kind: 'tag', key: 'user-name', comparator: 'LIKE', value: 'A%' },
    ])
    expect(
      parseFilter(`metrics."model class" >= -2 and run_id NOT IN ('a', "b") and tags.mlflow.runName != 'x'`, RUN_SEARCH),
    ).toEqual([
      { kind: 'metric', key: 'model class', comparator: '>=', value: -2 },
      { kind: 'attribute', key: 'run_id', comparator: 'NOT IN', value: ['a', 'b'] },
      { kind: 'tag', key: 'mlflow.runName', comparator: '!=', value: 'x' },
    ])
    expect(parseFilter('attributes.created > 5', RUN_SEARCH)).toEqual([
      { kind: 'attribute', key: 'start_time', comparator: '>', value: 5 },
    ])
    expect(parseFilter('  ', RUN_SEARCH)).toEqual([])
  })

  it('refuses what MLflow refuses', () => {
    for (const filter of [
      "metrics.rmse = 'x'",
      'params.lr = 0.1',
      'metrics.rmse LIKE 1',
      "tags.a = 'x' OR tags.b = 'y'",
      "tags.a = 'x",
      'metrics.rmse',
      "foo.bar = 'x'",
      "attributes.colour = 'red'",
      "tags.a IN ('x')",
      "datasets.size = 'x'",
    ]) {
      expect(() => parseFilter(filter, RUN_SEARCH), filter).toThrow(expect.objectContaining({ code: 'INVALID_PARAMETER_VALUE' }))
    }
    expect(() => parseFilter('metrics.x > 1', EXPERIMENT_SEARCH)).toThrow(
      expect.objectContaining({ code: 'INVALID_PARAMETER_VALUE' }),
    )
  })

  it('matches runs: a missing key never matches, LIKE is case-sensitive and ILIKE is not', () => {
    const match = (filter: string, item = run()) => matches(item, parseFilter(filter, RUN_SEARCH), RUN_SEARCH)
    expect(match('metrics.rmse < 1')).toBe(true)
    expect(match('metrics.rmse > 1')).toBe(false)
    expect(match('metrics.missing != 1')).toBe(false)
    expect(match("params.lr = '0.1'")).toBe(true)
    expect(match("tags.`user-name` LIKE 'a%'")).toBe(false)
    expect(match("tags.`user-name` ILIKE 'a_a'")).toBe(true)
    expect(match("status IN ('FINISHED', 'FAILED')")).toBe(true)
    expect(match('end_time > 0')).toBe(false)
    expect(match("run_name LIKE 'al.ha'")).toBe(false)
  })

  it('matches LIKE patterns in linear time, without catastrophic backtracking', () => {
    const value = 'a'.repeat(200)
    const item = run({ tags: { note: value } })
    const started = performance.now()
    const hit = matches(item, parseFilter("tags.note LIKE '%a%a%a%a%a%a%b'", RUN_SEARCH), RUN_SEARCH)
    expect(hit).toBe(false)
    expect(performance.now() - started).toBeLessThan(200)
    const like = (pattern: string, actual: string, ci = false) => likeMatcher(pattern, ci)(actual)
    expect(like('%a%b', 'xxaxxb')).toBe(true)
    expect(like('%a%b', 'xxaxxbx')).toBe(false)
    expect(like('a_c%', 'abcdef')).toBe(true)
    expect(like('a_c', 'ac')).toBe(false)
    expect(like('%', '')).toBe(true)
    expect(like('', '')).toBe(true)
    expect(like('_', '')).toBe(false)
    expect(like('%%x%', 'abxcd')).toBe(true)
    expect(like('AB%', 'abz', true)).toBe(true)
    expect(like('AB%', 'abz')).toBe(false)
    expect(like('a.c', 'abc')).toBe(false)
    expect(like('line%end', 'line\nend')).toBe(true)
  })

  it('orders with missing keys last in either direction, then by the tiebreak', () => {
    const items = [run({ metrics: {} }), run({ metrics: { rmse: 3 } }), run({ metrics: { rmse: 1 } })].map((item, i) => ({
      item,
      i,
    }))
    const sorted = (terms: string[]) =>
      sortItems(items, { order: parseOrderBy(terms, RUN_SEARCH), of: (x) => x.item, tiebreak: (a, b) => a.i - b.i }).map(
        (x) => x.i,
      )
    expect(sorted(['metrics.rmse'])).toEqual([2, 1, 0])
    expect(sorted(['metrics.rmse DESC'])).toEqual([1, 2, 0])
    expect(sorted(['params.lr desc'])).toEqual([0, 1, 2])
  })
})
