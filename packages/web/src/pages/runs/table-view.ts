import { RUN_STATUSES, type RunStatus, type RunWithMetrics } from '@wharf/contract'

/** The fixed columns a runs table sorts by; a metric column is `metric:<name>`. */
export const FIXED_SORT_KEYS = ['status', 'name', 'start', 'duration', 'tags'] as const
export type FixedSortKey = (typeof FIXED_SORT_KEYS)[number]
export type SortKey = FixedSortKey | `metric:${string}`
export type SortOrder = 'asc' | 'desc'

/** Which runs the table lists: the roots (default), every run, or the children of one run. */
export type Lineage = { kind: 'roots' } | { kind: 'all' } | { kind: 'childrenOf'; parentId: string }

/** One tag filter as the server's `tag` query reads it: `key` (the tag is set) or `key=value` (it has that value). */
export interface TagFilter {
  key: string
  value?: string
}

/** Everything the runs table shows that a link should carry: read from, and written to, the URL's search params. */
export interface TableView {
  sort: SortKey
  order: SortOrder
  statuses: RunStatus[]
  tags: string[]
  text: string
  lineage: Lineage
  selected: string[]
}

/** The search-param names, in one place so the page and the tests agree. */
export const PARAM = {
  sort: 'sort',
  order: 'order',
  status: 'status',
  tag: 'tag',
  text: 'q',
  children: 'children',
  parent: 'parent',
  selected: 'select',
} as const

const DEFAULT_SORT: SortKey = 'start'
const DEFAULT_ORDER: SortOrder = 'desc'

function isSortKey(value: string | null): value is SortKey {
  if (value === null) return false
  return (FIXED_SORT_KEYS as readonly string[]).includes(value) || (value.startsWith('metric:') && value.length > 7)
}

function isRunStatus(value: string): value is RunStatus {
  return (RUN_STATUSES as readonly string[]).includes(value)
}

/** The view a URL asks for; anything it does not understand falls back to the default (newest first, root runs). */
export function readView(params: URLSearchParams): TableView {
  const sort = params.get(PARAM.sort)
  const order = params.get(PARAM.order)
  const parent = params.get(PARAM.parent)
  const lineage: Lineage =
    parent !== null && parent !== ''
      ? { kind: 'childrenOf', parentId: parent }
      : params.get(PARAM.children) === 'all'
        ? { kind: 'all' }
        : { kind: 'roots' }
  return {
    sort: isSortKey(sort) ? sort : DEFAULT_SORT,
    order: order === 'asc' || order === 'desc' ? order : DEFAULT_ORDER,
    statuses: params.getAll(PARAM.status).filter(isRunStatus),
    tags: params.getAll(PARAM.tag).filter((tag) => tag !== '' && !tag.startsWith('=')),
    text: params.get(PARAM.text) ?? '',
    lineage,
    selected: [...new Set(params.getAll(PARAM.selected).filter((id) => id !== ''))],
  }
}

/** The search params of a view: defaults are left out, so the plain page has a plain URL. */
export function writeView(view: TableView): URLSearchParams {
  const params = new URLSearchParams()
  if (view.sort !== DEFAULT_SORT || view.order !== DEFAULT_ORDER) {
    params.set(PARAM.sort, view.sort)
    params.set(PARAM.order, view.order)
  }
  for (const status of view.statuses) params.append(PARAM.status, status)
  for (const tag of view.tags) params.append(PARAM.tag, tag)
  if (view.text !== '') params.set(PARAM.text, view.text)
  if (view.lineage.kind === 'all') params.set(PARAM.children, 'all')
  if (view.lineage.kind === 'childrenOf') params.set(PARAM.parent, view.lineage.parentId)
  for (const id of view.selected) params.append(PARAM.selected, id)
  return params
}

/** A tag filter's parts, split at the first `=` as the server splits it. */
export function parseTagFilter(filter: string): TagFilter {
  const eq = filter.indexOf('=')
  return eq < 0 ? { key: filter } : { key: filter.slice(0, eq), value: filter.slice(eq + 1) }
}

/** Children per parent run id, among the runs loaded. */
export function countChildren(runs: Iterable<RunWithMetrics>): Map<string, number> {
  const counts = new Map<string, number>()
  for (const run of runs) {
    if (run.parentRunId !== null) counts.set(run.parentRunId, (counts.get(run.parentRunId) ?? 0) + 1)
  }
  return counts
}

/** Whether a run passes the view's filters: every one of them (statuses among themselves: any). */
function matches(run: RunWithMetrics, view: TableView, filters: { tags: TagFilter[]; text: string }): boolean {
  if (view.lineage.kind === 'roots' && run.parentRunId !== null) return false
  if (view.lineage.kind === 'childrenOf' && run.parentRunId !== view.lineage.parentId) return false
  if (view.statuses.length > 0 && !view.statuses.includes(run.status)) return false
  for (const tag of filters.tags) {
    const value = run.tags[tag.key]
    if (value === undefined || (tag.value !== undefined && value !== tag.value)) return false
  }
  if (filters.text !== '') {
    const haystack = [run.displayName, run.id, ...Object.entries(run.tags).map(([k, v]) => (v === '' ? k : `${k}=${v}`))]
    if (!haystack.some((item) => item.toLowerCase().includes(filters.text))) return false
  }
  return true
}

/** A metric's last value as a sort key: numbers by value, then texts; a run without the metric has none. */
type Comparable = { rank: 0; number: number } | { rank: 1; text: string } | undefined

function metricKey(value: number | string | null | undefined): Comparable {
  if (value === null || value === undefined) return undefined
  if (typeof value === 'number') return { rank: 0, number: value }
  if (value === 'Infinity') return { rank: 0, number: Infinity }
  if (value === '-Infinity') return { rank: 0, number: -Infinity }
  if (value === 'NaN') return undefined // not orderable: with the missing ones, last
  return { rank: 1, text: value }
}

function startOf(run: RunWithMetrics): number {
  return Date.parse(run.startedAt ?? run.createdAt)
}

function durationOf(run: RunWithMetrics, now: number): number | undefined {
  if (run.startedAt === null) return undefined
  return (run.endedAt === null ? now : Date.parse(run.endedAt)) - Date.parse(run.startedAt)
}

function tagText(run: RunWithMetrics): string {
  return Object.entries(run.tags)
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(' ')
}

function keyOf(run: RunWithMetrics, sort: SortKey, now: number): Comparable {
  switch (sort) {
    case 'status':
      return { rank: 0, number: RUN_STATUSES.indexOf(run.status) }
    case 'name':
      return { rank: 1, text: run.displayName }
    case 'start':
      return { rank: 0, number: startOf(run) }
    case 'duration': {
      const duration = durationOf(run, now)
      return duration === undefined ? undefined : { rank: 0, number: duration }
    }
    case 'tags': {
      const text = tagText(run)
      return text === '' ? undefined : { rank: 1, text }
    }
    default:
      return metricKey(run.metrics[sort.slice('metric:'.length)])
  }
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' })

function compareKeys(a: Comparable, b: Comparable): number {
  if (a === undefined || b === undefined) return 0
  if (a.rank !== b.rank) return a.rank - b.rank
  if (a.rank === 0 && b.rank === 0) return a.number - b.number
  if (a.rank === 1 && b.rank === 1) return collator.compare(a.text, b.text)
  return 0
}

/**
 * The runs the view shows, in its order. Runs without a value in the sorted column come last in either
 * order (as the server orders by a metric); ties keep the newest first, then the id, so the order is stable.
 */
export function visibleRuns(runs: Iterable<RunWithMetrics>, view: TableView, now = Date.now()): RunWithMetrics[] {
  const filters = { tags: view.tags.map(parseTagFilter), text: view.text.trim().toLowerCase() }
  const direction = view.order === 'asc' ? 1 : -1
  const keyed: { run: RunWithMetrics; key: Comparable; start: number }[] = []
  for (const run of runs) {
    if (matches(run, view, filters)) keyed.push({ run, key: keyOf(run, view.sort, now), start: startOf(run) })
  }
  keyed.sort((a, b) => {
    if (a.key === undefined || b.key === undefined) {
      if (a.key !== b.key) return a.key === undefined ? 1 : -1
    } else {
      const byKey = compareKeys(a.key, b.key)
      if (byKey !== 0) return byKey * direction
    }
    if (a.start !== b.start) return b.start - a.start
    return a.run.id < b.run.id ? 1 : a.run.id > b.run.id ? -1 : 0
  })
  return keyed.map((item) => item.run)
}

/** The metric names of the runs, for a column each: by name, numbers-aware (`loss_2` before `loss_10`). */
export function metricNames(runs: Iterable<RunWithMetrics>): string[] {
  const names = new Set<string>()
  for (const run of runs) for (const name of Object.keys(run.metrics)) names.add(name)
  return [...names].sort(collator.compare)
}
