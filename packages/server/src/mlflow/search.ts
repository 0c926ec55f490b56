import { invalidParameter } from './errors.js'

/** What a filter clause or an order term looks at. */
export const ENTITY_KINDS = ['metric', 'param', 'tag', 'attribute', 'dataset'] as const
export type EntityKind = (typeof ENTITY_KINDS)[number]

const KIND_ALIASES: Record<string, EntityKind> = {
  metric: 'metric',
  metrics: 'metric',
  param: 'param',
  params: 'param',
  parameter: 'param',
  parameters: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
  run: 'attribute',
  dataset: 'dataset',
  datasets: 'dataset',
}

export const COMPARATORS = ['=', '!=', '>', '>=', '<', '<=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'] as const
export type Comparator = (typeof COMPARATORS)[number]

/** One clause of a filter: `<kind>.<key> <comparator> <value>`. */
export interface Clause {
  kind: EntityKind
  key: string
  comparator: Comparator
  value: string | number | string[]
}

/** One term of an order_by list. */
export interface OrderTerm {
  kind: EntityKind
  key: string
  ascending: boolean
}

/** What the search of one entity type allows: its attributes, which of them are numbers, the kinds it has. */
export interface SearchSchema {
  what: string
  kinds: readonly EntityKind[]
  stringAttributes: readonly string[]
  numberAttributes: readonly string[]
  /** Other spellings of attributes (`created` for `start_time`). */
  aliases?: Readonly<Record<string, string>>
  /**
   * Whether an item lacking a key meets `!=` on it: MLflow's registry reads `tag.x != 'true'` so
   * (clients filter prompts out that way), while its run search does not.
   */
  missingMeetsNotEqual?: boolean
}

/** MLflow's run search: metrics, params, tags, attributes and datasets. */
export const RUN_SEARCH: SearchSchema = {
  what: 'run',
  kinds: ENTITY_KINDS,
  stringAttributes: ['run_id', 'run_name', 'status', 'user_id', 'artifact_uri', 'lifecycle_stage'],
  numberAttributes: ['start_time', 'end_time'],
  aliases: { created: 'start_time', Created: 'start_time', 'run name': 'run_name', run_uuid: 'run_id' },
}

/** MLflow's experiment search: names, times and tags. */
export const EXPERIMENT_SEARCH: SearchSchema = {
  what: 'experiment',
  kinds: ['tag', 'attribute'],
  stringAttributes: ['name', 'experiment_id'],
  numberAttributes: ['creation_time', 'last_update_time'],
}

/** The logged model search: names, ids, status, source run, times, params, tags and metrics. */
export const LOGGED_MODEL_SEARCH: SearchSchema = {
  what: 'logged model',
  kinds: ['metric', 'param', 'tag', 'attribute'],
  stringAttributes: ['name', 'model_id', 'model_type', 'status', 'source_run_id', 'experiment_id'],
  numberAttributes: ['creation_timestamp', 'creation_time', 'last_updated_timestamp'],
}

type Token =
  | { type: 'word'; text: string }
  | { type: 'quoted'; text: string; quote: string }
  | { type: 'number'; value: number }
  | { type: 'op'; text: string }
  | { type: 'paren'; text: '(' | ')' | ',' }

function tokenize(filter: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < filter.length) {
    const ch = filter[i]!
    if (/\s/.test(ch)) {
      i++
    } else if (ch === "'" || ch === '"' || ch === '`') {
      const end = filter.indexOf(ch, i + 1)
      if (end < 0) throw badFilter(filter, `an unclosed ${ch} quote`)
      tokens.push({ type: 'quoted', text: filter.slice(i + 1, end), quote: ch })
      i = end + 1
    } else if (ch === '(' || ch === ')' || ch === ',') {
      tokens.push({ type: 'paren', text: ch })
      i++
    } else if ('=!<>'.includes(ch)) {
      const two = filter.slice(i, i + 2)
      const op = ['!=', '>=', '<='].includes(two) ? two : ch
      if (op === '!') throw badFilter(filter, 'a lone "!"')
      tokens.push({ type: 'op', text: op })
      i += op.length
    } else {
      const match = /^[^\s=!<>(),'"`]+/.exec(filter.slice(i))
      const text = match?.[0] ?? ch
      // A word may run into a quoted key: tags.`a b`, metrics."x y".
      const quote = filter[i + text.length]
      if (text.endsWith('.') && (quote === '`' || quote === '"')) {
        const end = filter.indexOf(quote, i + text.length + 1)
        if (end < 0) throw badFilter(filter, `an unclosed ${quote} quote`)
        tokens.push({ type: 'word', text: text + filter.slice(i + text.length + 1, end) })
        i = end + 1
        continue
      }
      if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) tokens.push({ type: 'number', value: Number(text) })
      else tokens.push({ type: 'word', text })
      i += text.length
    }
  }
  return tokens
}

function badFilter(filter: string, why: string): Error {
  return invalidParameter(
    `Invalid filter '${filter}': ${why}. Filters take clauses such as "metrics.rmse < 1 and params.lr = '0.1'"`,
  )
}

function resolveIdentifier(raw: string, schema: SearchSchema, context: string): { kind: EntityKind; key: string } {
  const dot = raw.indexOf('.')
  const prefix = dot < 0 ? undefined : KIND_ALIASES[raw.slice(0, dot).toLowerCase()]
  const kind: EntityKind = prefix ?? 'attribute'
  let key = prefix === undefined ? raw : raw.slice(dot + 1)
  if (key.length >= 2 && (key.startsWith('`') || key.startsWith('"')) && key.endsWith(key[0]!)) key = key.slice(1, -1)
  if (!schema.kinds.includes(kind)) throw invalidParameter(`Invalid ${context} '${raw}': a ${schema.what} search has no ${kind}s`)
  if (kind === 'attribute') {
    key = schema.aliases?.[key] ?? key
    if (!schema.stringAttributes.includes(key) && !schema.numberAttributes.includes(key)) {
      throw invalidParameter(
        `Invalid attribute key '${key}' specified. Valid keys are '${[...schema.stringAttributes, ...schema.numberAttributes].join("', '")}'`,
      )
    }
  }
  if (kind === 'dataset' && !['name', 'digest', 'context'].includes(key)) {
    throw invalidParameter(`Invalid dataset key '${key}' specified. Valid keys are 'name', 'digest', 'context'`)
  }
  if (key === '') throw invalidParameter(`Invalid ${context} '${raw}': the key is empty`)
  return { kind, key }
}

/** Parses an MLflow filter string (clauses joined by AND) against what `schema` allows. */
export function parseFilter(filter: string | undefined, schema: SearchSchema): Clause[] {
  if (filter === undefined || filter.trim() === '') return []
  const tokens = tokenize(filter)
  const clauses: Clause[] = []
  let i = 0
  const next = (): Token | undefined => tokens[i++]
  while (i < tokens.length) {
    const identifier = next()
    if (identifier?.type !== 'word' && identifier?.type !== 'quoted') throw badFilter(filter, 'expected an identifier')
    const { kind, key } = resolveIdentifier(identifier.text, schema, 'filter')
    let operator = next()
    let comparator: Comparator
    if (operator?.type === 'op') {
      comparator = operator.text as Comparator
    } else if (operator?.type === 'word' && ['LIKE', 'ILIKE', 'IN'].includes(operator.text.toUpperCase())) {
      comparator = operator.text.toUpperCase() as Comparator
    } else if (operator?.type === 'word' && operator.text.toUpperCase() === 'NOT') {
      operator = next()
      if (operator?.type !== 'word' || operator.text.toUpperCase() !== 'IN') throw badFilter(filter, 'expected IN after NOT')
      comparator = 'NOT IN'
    } else {
      throw badFilter(filter, `expected a comparator after '${identifier.text}'`)
    }
    let value: Clause['value']
    if (comparator === 'IN' || comparator === 'NOT IN') {
      if (next()?.type !== 'paren') throw badFilter(filter, 'expected "(" after IN')
      const items: string[] = []
      for (;;) {
        const item = next()
        if (item?.type === 'quoted') items.push(item.text)
        else if (item?.type === 'number') items.push(String(item.value))
        else throw badFilter(filter, 'expected a quoted value in the IN list')
        const sep = next()
        if (sep?.type === 'paren' && sep.text === ')') break
        if (sep?.type !== 'paren' || sep.text !== ',') throw badFilter(filter, 'expected "," or ")" in the IN list')
      }
      value = items
    } else {
      const token = next()
      if (token?.type === 'number') value = token.value
      else if (token?.type === 'quoted' && token.quote !== '`') value = token.text
      else throw badFilter(filter, `expected a value after '${identifier.text} ${comparator}'`)
    }
    checkClause({ kind, key, comparator, value }, schema)
    clauses.push({ kind, key, comparator, value })
    const joiner = next()
    if (joiner === undefined) break
    if (joiner.type !== 'word' || joiner.text.toUpperCase() !== 'AND') {
      throw badFilter(filter, 'clauses are joined with AND (OR and parentheses are not supported)')
    }
  }
  return clauses
}

const NUMBER_COMPARATORS: readonly Comparator[] = ['=', '!=', '>', '>=', '<', '<=']
const STRING_COMPARATORS: readonly Comparator[] = ['=', '!=', 'LIKE', 'ILIKE']

function isNumberKey(clause: Pick<Clause, 'kind' | 'key'>, schema: SearchSchema): boolean {
  return clause.kind === 'metric' || (clause.kind === 'attribute' && schema.numberAttributes.includes(clause.key))
}

function checkClause(clause: Clause, schema: SearchSchema): void {
  const numeric = isNumberKey(clause, schema)
  const allowed = numeric
    ? NUMBER_COMPARATORS
    : clause.kind === 'attribute' || clause.kind === 'dataset'
      ? [...STRING_COMPARATORS, 'IN', 'NOT IN']
      : STRING_COMPARATORS
  if (!allowed.includes(clause.comparator)) {
    throw invalidParameter(
      `Invalid comparator '${clause.comparator}' not one of '${allowed.join("', '")}' for ${clause.kind} '${clause.key}'`,
    )
  }
  if (numeric && typeof clause.value !== 'number') {
    throw invalidParameter(`Expected numeric value type for ${clause.kind} '${clause.key}'. Found '${String(clause.value)}'`)
  }
  if (!numeric && typeof clause.value === 'number') {
    throw invalidParameter(`Value for ${clause.kind} '${clause.key}' must be a quoted string. Found ${clause.value}`)
  }
}

/** Parses an order_by list: `"<identifier> [ASC|DESC]"` each. */
export function parseOrderBy(terms: readonly string[], schema: SearchSchema): OrderTerm[] {
  return terms.map((term) => {
    const match = /^(.*?)(?:\s+(ASC|DESC))?\s*$/i.exec(term.trim())
    const identifier = match?.[1]?.trim() ?? ''
    if (identifier === '') throw invalidParameter(`Invalid order_by clause '${term}'`)
    const { kind, key } = resolveIdentifier(identifier, schema, 'order_by clause')
    return { kind, key, ascending: (match?.[2] ?? 'ASC').toUpperCase() === 'ASC' }
  })
}

/** What a filter and an order look at in one item (a run, an experiment, a logged model). */
export interface Searchable {
  attributes: Record<string, string | number | null>
  metrics?: Record<string, number>
  params?: Record<string, string>
  tags: Record<string, string>
  datasets?: { name: string; digest: string; context: string }[]
}

/** A compiled LIKE pattern: `%` any run of characters, `_` one character, the rest literal. */
type LikeMatcher = (actual: string) => boolean

/**
 * Compiles a LIKE pattern into a linear-time matcher: a two-pointer glob walk that, on a mismatch,
 * backtracks only to the last `%` seen (a regex with `.*` backtracks catastrophically on `%a%a%a%b`).
 * Characters are compared by code point, case-folded for ILIKE.
 */
export function likeMatcher(pattern: string, caseInsensitive: boolean): LikeMatcher {
  const fold = (text: string): string[] => [...(caseInsensitive ? text.toLowerCase() : text)]
  const p = fold(pattern)
  return (actual) => {
    const a = fold(actual)
    let i = 0
    let j = 0
    let starAt = -1
    let resumeAt = 0
    while (i < a.length) {
      const ch = p[j]
      if (ch === '%') {
        starAt = j
        resumeAt = i
        j++
      } else if (ch !== undefined && (ch === '_' || ch === a[i])) {
        i++
        j++
      } else if (starAt >= 0) {
        // The last % swallows one more character; everything before it stays matched.
        j = starAt + 1
        resumeAt++
        i = resumeAt
      } else {
        return false
      }
    }
    while (p[j] === '%') j++
    return j === p.length
  }
}

const likeCache = new WeakMap<Clause, LikeMatcher>()

/** The clause's LIKE/ILIKE matcher, compiled on first use and kept with the clause. */
function likeOf(clause: Clause): LikeMatcher {
  let matcher = likeCache.get(clause)
  if (matcher === undefined) {
    matcher = likeMatcher(String(clause.value), clause.comparator === 'ILIKE')
    likeCache.set(clause, matcher)
  }
  return matcher
}

function compareString(actual: string, clause: Clause): boolean {
  const { comparator, value } = clause
  switch (comparator) {
    case '=':
      return actual === value
    case '!=':
      return actual !== value
    case 'LIKE':
    case 'ILIKE':
      return likeOf(clause)(actual)
    case 'IN':
      return (value as string[]).includes(actual)
    case 'NOT IN':
      return !(value as string[]).includes(actual)
    case '>':
    case '>=':
    case '<':
    case '<=':
      return false
  }
}

function compareNumber(actual: number, clause: Clause): boolean {
  const value = clause.value as number
  switch (clause.comparator) {
    case '=':
      return actual === value
    case '!=':
      return actual !== value
    case '>':
      return actual > value
    case '>=':
      return actual >= value
    case '<':
      return actual < value
    case '<=':
      return actual <= value
    case 'LIKE':
    case 'ILIKE':
    case 'IN':
    case 'NOT IN':
      return false
  }
}

/** The value an item has for a key, or undefined when it lacks it. */
function valueOf(item: Searchable, term: Pick<Clause, 'kind' | 'key'>): string | number | undefined {
  switch (term.kind) {
    case 'metric':
      return item.metrics?.[term.key]
    case 'param':
      return item.params?.[term.key]
    case 'tag':
      return item.tags[term.key]
    case 'attribute':
      return item.attributes[term.key] ?? undefined
    case 'dataset':
      return undefined
  }
}

/** True when `item` meets every clause; an item lacking a clause's key does not meet it. */
export function matches(item: Searchable, clauses: readonly Clause[], schema: SearchSchema): boolean {
  return clauses.every((clause) => {
    if (clause.kind === 'dataset') {
      return (item.datasets ?? []).some((d) => compareString(d[clause.key as 'name' | 'digest' | 'context'], clause))
    }
    const actual = valueOf(item, clause)
    if (actual === undefined) return schema.missingMeetsNotEqual === true && clause.comparator === '!='
    if (isNumberKey(clause, schema)) return typeof actual === 'number' && compareNumber(actual, clause)
    return compareString(String(actual), clause)
  })
}

/**
 * Sorts by the order terms, items lacking a key last whatever the direction, then by `tiebreak`. NaN
 * sorts above every number, as in MLflow's SQL store.
 */
export function sortItems<T>(
  items: T[],
  options: { order: readonly OrderTerm[]; of: (item: T) => Searchable; tiebreak: (a: T, b: T) => number },
): T[] {
  const { order, of, tiebreak } = options
  return [...items].sort((a, b) => {
    for (const term of order) {
      const x = valueOf(of(a), term)
      const y = valueOf(of(b), term)
      if (x === undefined || y === undefined) {
        if (x === undefined && y === undefined) continue
        return x === undefined ? 1 : -1
      }
      let cmp: number
      if (typeof x === 'number' && typeof y === 'number') {
        cmp = Number.isNaN(x) || Number.isNaN(y) ? (Number.isNaN(x) ? 1 : 0) - (Number.isNaN(y) ? 1 : 0) : x - y
      } else {
        cmp = String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0
      }
      if (cmp !== 0) return term.ascending ? cmp : -cmp
    }
    return tiebreak(a, b)
  })
}
