import { memo, useEffect, useLayoutEffect, useRef, type ReactNode } from 'react'
import { Link } from 'react-router'
import { useVirtualizer } from '@tanstack/react-virtual'
import type { RunWithMetrics } from '@wharf/contract'
import { paths } from '../../app/paths.js'
import { formatTime, formatValue, runDuration } from '../../components/format.js'
import { StatusBadge } from '../../components/StatusBadge.js'
import type { SortKey, SortOrder } from './table-view.js'

/** Every row is this tall (px; the CSS keeps cells on one line), so the virtualiser needs no measuring. */
const ROW_HEIGHT = 36

/** Rows drawn beyond the visible ones on each side, so a fast scroll does not show blank rows. */
const OVERSCAN = 12

interface Column {
  key: SortKey | 'select'
  label: string
  /** Width in px: the table is laid out fixed, so columns do not jump while rows scroll in and out. */
  width: number
  numeric?: boolean
}

const FIXED_COLUMNS: Column[] = [
  { key: 'select', label: 'Select', width: 44 },
  { key: 'status', label: 'Status', width: 118 },
  { key: 'name', label: 'Name', width: 230 },
  { key: 'start', label: 'Start', width: 215 },
  { key: 'duration', label: 'Duration', width: 110, numeric: true },
  { key: 'tags', label: 'Tags', width: 220 },
]

const METRIC_WIDTH = 120

// Where each visit of the table was scrolled to (by history entry), so Back from a run returns to the same rows.
const scrollOffsets = new Map<string, number>()

/** What a row needs beyond its run; one object for all rows, so a row re-renders only when its own props change. */
interface RowContext {
  workspace: string
  metrics: string[]
  now: number
  childCounts: ReadonlyMap<string, number>
  onToggle: (runId: string) => void
  onShowChildren: (runId: string) => void
  onTagFilter: (filter: string) => void
}

function tagLabel(key: string, value: string): string {
  return value === '' ? key : `${key}=${value}`
}

const RunRow = memo(function RunRow(props: { run: RunWithMetrics; index: number; selected: boolean; context: RowContext }) {
  const { run, index, selected, context } = props
  const children = context.childCounts.get(run.id) ?? 0
  const tags = Object.entries(run.tags)
  return (
    <tr aria-rowindex={index + 2} aria-selected={selected} className={selected ? 'selected' : undefined} data-run-id={run.id}>
      <td className="select-cell">
        <input
          type="checkbox"
          checked={selected}
          onChange={() => context.onToggle(run.id)}
          aria-label={`Select ${run.displayName} to compare`}
        />
      </td>
      <td>
        <StatusBadge status={run.status} />
      </td>
      <td className="name-cell">
        {run.parentRunId !== null && (
          <span className="child-mark" title={`Child of run ${run.parentRunId}`} aria-label="child run">
            ↳{' '}
          </span>
        )}
        <Link to={paths.run(context.workspace, run.id)} title={`${run.displayName} (${run.id})`}>
          {run.displayName}
        </Link>
        {children > 0 && (
          <button
            type="button"
            className="children-button"
            onClick={() => context.onShowChildren(run.id)}
            aria-label={`Show the ${children === 1 ? 'child run' : `${children} child runs`} of ${run.displayName}`}
            title={`Show the ${children === 1 ? 'child run' : `${children} child runs`} of ${run.displayName}`}
          >
            +{children}
          </button>
        )}
      </td>
      <td title={run.startedAt === null ? `created ${formatTime(run.createdAt)}, not started` : undefined}>
        {formatTime(run.startedAt)}
      </td>
      <td className="num">{runDuration(run, context.now)}</td>
      <td className="tags-cell" title={tags.map(([k, v]) => tagLabel(k, v)).join('\n')}>
        {tags.map(([key, value]) => (
          <button
            type="button"
            key={key}
            className="tag-chip"
            onClick={() => context.onTagFilter(tagLabel(key, value))}
            aria-label={`Filter by tag ${tagLabel(key, value)}`}
          >
            {tagLabel(key, value)}
          </button>
        ))}
      </td>
      {context.metrics.map((name) => {
        const text = formatValue(run.metrics[name])
        return (
          <td key={name} className="num" title={text === '' ? undefined : `${name}: ${text}`}>
            {text}
          </td>
        )
      })}
    </tr>
  )
})

function HeaderCell(props: { column: Column; sort: SortKey; order: SortOrder; onSort: (key: SortKey) => void }) {
  const { column, sort, order } = props
  const key = column.key
  if (key === 'select') {
    return (
      <th scope="col" className="select-cell">
        <span className="visually-hidden">{column.label}</span>
      </th>
    )
  }
  const active = key === sort
  const ariaSort = active ? (order === 'asc' ? 'ascending' : 'descending') : 'none'
  return (
    <th scope="col" aria-sort={ariaSort} className={column.numeric === true ? 'num' : undefined}>
      <button type="button" className="sort-button" onClick={() => props.onSort(key)} title={`Sort by ${column.label}`}>
        <span className="sort-label">{column.label}</span>
        <span className="sort-mark" aria-hidden="true">
          {active ? (order === 'asc' ? '▲' : '▼') : '↕'}
        </span>
      </button>
    </th>
  )
}

/**
 * The runs as a table whose rows are virtualised: only those in view (and a few around) are in the DOM,
 * so 10,000 runs scroll like 50. Headers sort (aria-sort tells the order); the container scrolls both
 * ways, so a narrow screen scrolls the table, never the page.
 */
export function RunsTable(props: {
  runs: RunWithMetrics[]
  selected: ReadonlySet<string>
  sort: SortKey
  order: SortOrder
  onSort: (key: SortKey) => void
  context: RowContext
  caption: ReactNode
  /** The history entry: its scroll position is kept, and given back when Back returns to it. */
  historyKey: string
  /** The order and filters: when they change the table scrolls back to the top. */
  viewKey: string
}) {
  const { runs, selected, context, historyKey, viewKey } = props
  const scrollRef = useRef<HTMLDivElement>(null)
  const virtualizer = useVirtualizer({
    count: runs.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: OVERSCAN,
    getItemKey: (index) => runs[index]?.id ?? index,
  })
  const hasRuns = runs.length > 0
  const restored = useRef(false)
  useLayoutEffect(() => {
    if (restored.current || !hasRuns) return
    restored.current = true
    const offset = scrollOffsets.get(historyKey)
    if (offset !== undefined) virtualizer.scrollToOffset(offset)
  }, [hasRuns, historyKey, virtualizer])
  useEffect(() => {
    // A new entry for the same view (a replaced URL: the selection changed) starts where the table is.
    const element = scrollRef.current
    if (element !== null && restored.current) scrollOffsets.set(historyKey, element.scrollTop)
  }, [historyKey])
  const shownView = useRef(viewKey)
  useEffect(() => {
    if (shownView.current === viewKey) return
    shownView.current = viewKey
    virtualizer.scrollToOffset(0)
  }, [viewKey, virtualizer])
  const columns: Column[] = [
    ...FIXED_COLUMNS,
    ...context.metrics.map((name): Column => ({ key: `metric:${name}`, label: name, width: METRIC_WIDTH, numeric: true })),
  ]
  const width = columns.reduce((sum, column) => sum + column.width, 0)
  const items = virtualizer.getVirtualItems()
  const paddingTop = items[0]?.start ?? 0
  const paddingBottom = virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0)
  return (
    <div
      className="runs-table-scroll"
      ref={scrollRef}
      tabIndex={0}
      role="region"
      aria-label="Runs table (scrolls)"
      onScroll={(event) => scrollOffsets.set(historyKey, event.currentTarget.scrollTop)}
    >
      <table className="data runs-table" style={{ width, minWidth: '100%' }} aria-rowcount={runs.length + 1}>
        <caption className="visually-hidden">{props.caption}</caption>
        <colgroup>
          {columns.map((column) => (
            <col key={column.key} style={{ width: column.width }} />
          ))}
        </colgroup>
        <thead>
          <tr aria-rowindex={1}>
            {columns.map((column) => (
              <HeaderCell key={column.key} column={column} sort={props.sort} order={props.order} onSort={props.onSort} />
            ))}
          </tr>
        </thead>
        <tbody>
          {paddingTop > 0 && (
            <tr className="spacer" aria-hidden="true" style={{ height: paddingTop }}>
              <td colSpan={columns.length} />
            </tr>
          )}
          {items.map((item) => {
            const run = runs[item.index]
            if (run === undefined) return null
            return <RunRow key={run.id} run={run} index={item.index} selected={selected.has(run.id)} context={context} />
          })}
          {paddingBottom > 0 && (
            <tr className="spacer" aria-hidden="true" style={{ height: paddingBottom }}>
              <td colSpan={columns.length} />
            </tr>
          )}
        </tbody>
      </table>
    </div>
  )
}

export type { RowContext }
