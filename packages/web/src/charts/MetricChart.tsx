import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react'
import uPlot from 'uplot'
import type { MetricBuckets } from '@wharf/contract'
import type { WharfClient } from '@wharf/client'
import { useApiQuery, useReadAhead } from '../api/hooks.js'
import { useClient } from '../api/session.js'
import { formatValue } from '../components/format.js'
import { appendPoints, bucketQuery, columnsOfBuckets, type Axis, type SeriesColumns, type XRange } from './chart-data.js'
import { scheduleRead } from './fetch-queue.js'
import { CHART_MARKS, noteZoomStart, pendingZoomOf } from './marks.js'
import { seriesColour, translucent, useChartTheme, type ChartTheme } from './theme.js'
import './charts.css'

/** One run drawn in a chart. */
export interface ChartSource {
  runId: string
  /** What the legend calls it (the run's name on the compare page, the metric's on a run). */
  label: string
  /** Which of the palette's colours it gets (default: its place in `sources`), so a run keeps its colour across charts. */
  colour?: number
}

export interface MetricChartProps {
  metric: string
  sources: readonly ChartSource[]
  axis: Axis
  /** The zoomed range, or undefined for all of it. */
  range: XRange | undefined
  /** A drag-select asks for a range; a double-click for all (undefined). */
  onRange: (range: XRange | undefined) => void
  /** Place on the page (0 first): charts higher up are read first. */
  order: number
  /**
   * The last step each run has logged of this metric (from the polled summaries), live or not: points
   * newer than those drawn are read raw and appended, without reading the whole series again.
   */
  lastSteps?: ReadonlyMap<string, number> | undefined
  /** Whether every source has ended (its points are final): only then are bucket answers kept for good. */
  ended?: boolean | undefined
  /** The step the step axis ends at, shared by all sources (compare: the longest run), when not zoomed. */
  toStep?: number | undefined
}

const HEIGHT = 220
/** Bucket counts are rounded to this many pixels, so a resize by a few pixels does not read again. */
const BUCKET_QUANTUM = 50
/**
 * Bucket answers stay fresh: a live run's new points are appended to them, and re-bucketing asks again
 * itself. The key holds whether the runs have ended, so answers read while live are not kept past the end.
 */
const BUCKETS_STALE_MS = Number.POSITIVE_INFINITY
/** Appended raw points beyond this many times the bucket count are bucketed again. */
const REBUCKET_FACTOR = 2

function viewKeyOf(axis: Axis, range: XRange | undefined): string {
  return range === undefined ? `${axis}:all` : `${axis}:${range.from}-${range.to}`
}

/** The bucket count for a chart `width` pixels wide (about one bucket per pixel). */
function bucketsFor(width: number): number {
  return Math.max(BUCKET_QUANTUM, Math.round(width / BUCKET_QUANTUM) * BUCKET_QUANTUM)
}

/** Tick spacings of the step axis: whole steps only. */
const STEP_INCREMENTS = Array.from({ length: 15 }, (_, e) => [1, 2, 5].map((m) => m * 10 ** e)).flat()

/** A series with few points shows them as dots too (a single point draws no line). */
function isSparse(u: uPlot): boolean {
  return (u.data[0]?.length ?? 0) <= 40
}

/** The drawn table: x, then per source its line, max and min. */
function alignedData(columns: readonly SeriesColumns[]): uPlot.AlignedData {
  if (columns.length === 1) {
    const [c] = columns as [SeriesColumns]
    return [c.xs, c.line, c.hi, c.lo]
  }
  return uPlot.join(columns.map((c) => [c.xs, c.line, c.hi, c.lo] as uPlot.AlignedData))
}

function chartOptions(options: {
  width: number
  axis: Axis
  sources: readonly ChartSource[]
  theme: ChartTheme
  hooks: uPlot.Hooks.Arrays
  rangeOf: () => XRange | undefined
}): uPlot.Options {
  const { width, axis, sources, theme, hooks, rangeOf } = options
  const xAxis = axis === 'step' ? { incrs: STEP_INCREMENTS } : {}
  const axisStyle = { stroke: theme.text, grid: { stroke: theme.grid, width: 1 }, ticks: { stroke: theme.grid, width: 1 } }
  const series: uPlot.Series[] = [{ label: axis === 'time' ? 'time' : 'step' }]
  const bands: uPlot.Band[] = []
  sources.forEach((source, i) => {
    const colour = seriesColour(theme, source.colour ?? i)
    const edge = { stroke: translucent(colour, 0.45), width: 1, points: { show: false }, spanGaps: true }
    series.push(
      { label: source.label, stroke: colour, width: 1.5, points: { show: isSparse, size: 5, fill: colour }, spanGaps: true },
      { label: `${source.label} max`, ...edge },
      { label: `${source.label} min`, ...edge },
    )
    bands.push({ series: [2 + i * 3, 3 + i * 3], fill: translucent(colour, sources.length > 1 ? 0.15 : 0.25) })
  })
  return {
    width,
    height: HEIGHT,
    ms: 1,
    legend: { show: false },
    scales: {
      x: {
        time: axis === 'time',
        // A zoomed chart shows exactly the range asked, whatever buckets came back.
        range: (_u, min, max) => {
          const range = rangeOf()
          return range === undefined ? [min, max] : [range.from, range.to]
        },
      },
    },
    cursor: {
      drag: { x: true, y: false, setScale: false },
      // Double-click is ours (reset the zoom in the URL), not uPlot's own reset.
      bind: { dblclick: () => null },
    },
    series,
    bands,
    axes: [
      { ...axisStyle, ...xAxis },
      { ...axisStyle, size: 64 },
    ],
    hooks,
  }
}

/** Values of each source at the cursor (or the last drawn, with no cursor), for the legend. */
interface LegendRow {
  label: string
  colour: string
  value: number | null
  min: number | null
  max: number | null
}

function legendRows(options: {
  data: uPlot.AlignedData
  idx: number | null
  sources: readonly ChartSource[]
  theme: ChartTheme
}) {
  const { data, idx, sources, theme } = options
  const xs = data[0]
  return sources.map((source, i): LegendRow => {
    const line = data[1 + i * 3] ?? []
    const hi = data[2 + i * 3] ?? []
    const lo = data[3 + i * 3] ?? []
    let at = idx
    if (at === null) {
      // No cursor: the last point this source has.
      at = -1
      for (let k = xs.length - 1; k >= 0; k--) {
        if (line[k] !== null && line[k] !== undefined) {
          at = k
          break
        }
      }
    }
    const pick = (column: typeof line) => (at !== null && at >= 0 ? (column[at] ?? null) : null)
    return {
      label: source.label,
      colour: seriesColour(theme, source.colour ?? i),
      value: pick(line),
      min: pick(lo),
      max: pick(hi),
    }
  })
}

/**
 * A chart of one metric for one or more runs, from the per-bucket min/max endpoint: the band between
 * each bucket's min and max keeps spikes visible, the line runs through the mean of its first and
 * last value. About one bucket per pixel; a drag-select zooms (read again for that range), a
 * double-click shows everything again. While live, new points are appended as they are logged.
 */
export function MetricChart(props: MetricChartProps) {
  const { metric, sources, axis, range, onRange, order, lastSteps, ended = false, toStep } = props
  const client = useClient()
  const theme = useChartTheme()
  const boxRef = useRef<HTMLDivElement>(null)
  const plotRef = useRef<HTMLDivElement>(null)
  const uplotRef = useRef<uPlot | null>(null)
  const [width, setWidth] = useState(0)
  const [cursorIdx, setCursorIdx] = useState<number | null>(null)
  const [drawn, setDrawn] = useState<{ data: uPlot.AlignedData; nonFinite: number; points: number } | undefined>()
  const buckets = width > 0 ? bucketsFor(width) : 0
  const viewKey = viewKeyOf(axis, range)

  // The latest props the uPlot hooks read (the instance outlives renders).
  const latest = useRef({ range, onRange, axis, metric, sources, startRead: (_view: XRange | undefined): void => undefined })
  latest.current = { ...latest.current, range, onRange, axis, metric, sources }
  const zoomOrigin = useRef(false)
  /** The view (axis and range) of the buckets drawn; undefined while the previous view's stand in. */
  const drawnView = useRef<string | undefined>(undefined)

  useLayoutEffect(() => {
    const box = boxRef.current
    if (box === null) return
    setWidth(Math.floor(box.getBoundingClientRect().width))
    const observer = new ResizeObserver((entries) => {
      const entry = entries[0]
      if (entry !== undefined) setWidth(Math.floor(entry.contentRect.width))
    })
    observer.observe(box)
    return () => observer.disconnect()
  }, [])

  const runIds = sources.map((s) => s.runId)
  const runKey = runIds.join(',')
  // The key and the read of a view, shared by the query and the read a zoom starts at once.
  const bucketsKey = useCallback(
    (view: XRange | undefined) => [
      'metric-buckets',
      runKey,
      metric,
      axis,
      view?.from,
      view?.to,
      buckets,
      toStep,
      ended ? 'ended' : 'live',
    ],
    [runKey, metric, axis, buckets, toStep, ended],
  )
  // The summaries' last steps when each answer was asked for: a zoomed view is read again once they move.
  const lastStepsRef = useRef(lastSteps)
  lastStepsRef.current = lastSteps
  const seenAtRead = useRef(new WeakMap<MetricBuckets[], number[]>())
  const readBuckets = useCallback(
    (view: XRange | undefined) => (c: WharfClient, signal: AbortSignal) => {
      const top = boxRef.current?.getBoundingClientRect().top ?? 0
      const visible = top < window.innerHeight
      const priority = zoomOrigin.current ? -1 : visible ? order : 1000 + order
      const q = bucketQuery({ name: metric, axis, range: view, buckets, ...(toStep !== undefined ? { toStep } : {}) })
      const ids = runKey.split(',')
      const seen = ids.map((runId) => lastStepsRef.current?.get(runId) ?? -1)
      return scheduleRead({
        priority,
        signal,
        work: () => Promise.all(ids.map((runId) => c.getMetricBuckets(runId, q, { signal }))),
      }).then((answers) => {
        seenAtRead.current.set(answers, seen)
        return answers
      })
    },
    [runKey, metric, axis, buckets, toStep, order],
  )
  // A view's buckets do not change once read: a live run's new points are appended, not re-read.
  const query = useApiQuery(bucketsKey(range), readBuckets(range), {
    enabled: buckets > 0,
    keepPrevious: true,
    staleTime: BUCKETS_STALE_MS,
  })

  // What is drawn: the buckets read, copied, plus raw points appended live since.
  const columnsRef = useRef<
    { answers: MetricBuckets[]; columns: SeriesColumns[]; lastSteps: number[]; seen: number[]; appended: number } | undefined
  >(undefined)

  /** Makes the uPlot instance with its first data (one draw, not an empty one first); set by the effect below. */
  const makePlot = useRef<((data: uPlot.AlignedData) => uPlot) | undefined>(undefined)
  const draw = useCallback(() => {
    const current = columnsRef.current
    if (current === undefined) return
    const data = alignedData(current.columns)
    if (uplotRef.current !== null) uplotRef.current.setData(data)
    else if (makePlot.current !== undefined) uplotRef.current = makePlot.current(data)
    else return
    setDrawn({
      data,
      nonFinite: current.columns.reduce((n, c) => n + c.nonFinite, 0),
      points: current.columns.reduce((n, c) => n + c.points, 0),
    })
  }, [])

  // A new answer replaces what is drawn (and whatever was appended to the previous one).
  const adopt = useCallback(
    (answers: MetricBuckets[], view: string) => {
      if (columnsRef.current?.answers === answers && drawnView.current === view) return // drawn already (read ahead)
      columnsRef.current = {
        answers,
        columns: answers.map(columnsOfBuckets), // fresh arrays: appends never touch the cached answer
        lastSteps: answers.map((a) => a.toStep),
        seen: seenAtRead.current.get(answers) ?? answers.map((a) => a.toStep),
        appended: 0,
      }
      drawnView.current = view
      draw()
    },
    [draw],
  )
  const answers = query.data
  const answerView = query.isPlaceholderData ? undefined : viewKey
  useEffect(() => {
    // While the previous view's answer stands in, what is drawn stays as it is.
    if (answers !== undefined && answerView !== undefined) adopt(answers, answerView)
  }, [answers, answerView, adopt])

  const readAhead = useReadAhead()
  const startRead = useCallback(
    (view: XRange | undefined) => {
      const key = viewKeyOf(axis, view)
      // Drawn as soon as it is read, without waiting for the page's render of the new URL.
      void readAhead(bucketsKey(view), readBuckets(view), { staleTime: BUCKETS_STALE_MS }).then((answers) => {
        if (answers !== undefined && viewKeyOf(latest.current.axis, latest.current.range) === key) adopt(answers, key)
      })
    },
    [readAhead, bucketsKey, readBuckets, axis, adopt],
  )
  latest.current.startRead = startRead

  // The uPlot instance: made with the first data, and again when what its series are changes
  // (sources, axis, colours).
  const sourcesKey = sources.map((s) => `${s.runId}\u0000${s.label}\u0000${s.colour ?? ''}`).join('\u0001')
  const hasWidth = width > 0
  useEffect(() => {
    const target = plotRef.current
    if (target === null || !hasWidth) return
    let painted = false
    const hooks: uPlot.Hooks.Arrays = {
      draw: [
        () => {
          const view = drawnView.current
          if (view === undefined) return
          const { metric: name } = latest.current
          if (!painted) {
            painted = true
            performance.mark(CHART_MARKS.painted, { detail: { metric: name } })
            boxRef.current?.setAttribute('data-painted', 'true')
          }
          boxRef.current?.setAttribute('data-view', view)
          const zoom = pendingZoomOf(view)
          if (zoom !== undefined && boxRef.current?.getAttribute('data-measured') !== String(zoom.startedAt)) {
            boxRef.current?.setAttribute('data-measured', String(zoom.startedAt))
            performance.measure(CHART_MARKS.zoomRedraw, {
              start: zoom.startedAt,
              end: performance.now(),
              detail: { metric: name, origin: zoomOrigin.current },
            })
            zoomOrigin.current = false
          }
        },
      ],
      setSelect: [
        (u) => {
          const { left, width: selected } = u.select
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
          if (selected < 3) return
          const from = u.posToVal(left, 'x')
          const to = u.posToVal(left + selected, 'x')
          const { axis: currentAxis, onRange: ask, startRead: read } = latest.current
          const next =
            currentAxis === 'step'
              ? { from: Math.max(0, Math.floor(from)), to: Math.max(Math.ceil(to), Math.floor(from) + 1) }
              : { from: Math.floor(from), to: Math.ceil(to) }
          zoomOrigin.current = true
          noteZoomStart(viewKeyOf(currentAxis, next))
          latest.current.range = next // the x scale shows it even before the page renders the new URL
          read(next) // before that render, too
          ask(next)
        },
      ],
      setCursor: [(u) => setCursorIdx(u.cursor.idx ?? null)],
    }
    const onDoubleClick = () => {
      const { range: current, axis: currentAxis, onRange: ask, startRead: read } = latest.current
      if (current === undefined) return
      zoomOrigin.current = true
      noteZoomStart(viewKeyOf(currentAxis, undefined))
      latest.current.range = undefined
      read(undefined)
      ask(undefined)
    }
    makePlot.current = (data) => {
      const options = chartOptions({
        width: target.clientWidth,
        axis,
        sources: latest.current.sources,
        theme,
        hooks,
        rangeOf: () => latest.current.range,
      })
      const u = new uPlot(options, data, target)
      u.over.addEventListener('dblclick', onDoubleClick)
      return u
    }
    draw()
    return () => {
      makePlot.current = undefined
      const u = uplotRef.current
      if (u !== null) {
        u.over.removeEventListener('dblclick', onDoubleClick)
        u.destroy()
      }
      uplotRef.current = null
    }
  }, [axis, sourcesKey, theme, hasWidth, draw])

  useEffect(() => {
    const u = uplotRef.current
    if (u !== null && width > 0 && u.width !== width) u.setSize({ width, height: HEIGHT })
  }, [width])

  // Points logged after the buckets were read (live, or in the last moments before the run ended)
  // are fetched raw, from the step after the last one known, and appended; when they would outnumber
  // the buckets twice over, the view is bucketed again instead. A zoomed view is read again when the
  // summaries moved into its range. One fetch per chart at a time: a poll does not abort it, it is
  // checked again once the fetch lands; only leaving the view (or the page) aborts it.
  const { refetch } = query
  const fetching = useRef<AbortController | undefined>(undefined)
  const catchUp = useCallback(() => {
    const current = columnsRef.current
    const known = lastStepsRef.current
    if (fetching.current !== undefined || current === undefined || known === undefined) return
    const behind = latest.current.sources
      .map(({ runId }, i) => ({ runId, i, known: current.lastSteps[i] ?? -1, latest: known.get(runId) ?? -1 }))
      .filter((s) => s.latest > s.known)
    if (range !== undefined) {
      // Zoomed: read the range again if steps newer than those seen at its read fall in it.
      const covered = latest.current.sources.some(({ runId }, i) => {
        const seen = current.seen[i] ?? -1
        const now = known.get(runId) ?? -1
        if (now <= seen) return false
        // On the time axis new points come after the last one drawn.
        if (axis === 'time') return range.to > (current.columns[i]?.xs.at(-1) ?? range.from)
        return seen < range.to && now >= range.from
      })
      if (covered) void refetch({ cancelRefetch: false })
      return
    }
    if (behind.length === 0) return
    const missing = behind.reduce((n, s) => n + s.latest - s.known, 0)
    if (current.appended + missing > REBUCKET_FACTOR * buckets) {
      // Far behind (a long absence): bucket again rather than reading every raw point first.
      void refetch({ cancelRefetch: false })
      return
    }
    const controller = new AbortController()
    fetching.current = controller
    const started = performance.now()
    void (async () => {
      for (const source of behind) {
        let pageToken: string | undefined
        do {
          const page = await client.getMetricColumns(
            source.runId,
            { name: metric, fromStep: source.known + 1, ...(pageToken !== undefined ? { pageToken } : {}) },
            { signal: controller.signal },
          )
          // Another answer is drawn now: what was read belongs to it no more; check again for it.
          if (controller.signal.aborted || columnsRef.current !== current) return !controller.signal.aborted
          const column = current.columns[source.i]
          if (column !== undefined) current.appended += appendPoints(column, page, axis)
          const lastStep = page.steps[page.steps.length - 1]
          if (lastStep !== undefined) current.lastSteps[source.i] = Math.max(current.lastSteps[source.i] ?? -1, lastStep)
          pageToken = page.nextPageToken
        } while (pageToken !== undefined)
      }
      draw()
      performance.measure(CHART_MARKS.liveAppend, { start: started, end: performance.now(), detail: { metric } })
      return true
    })()
      .catch((error: unknown) => {
        // An aborted read (the view changed) is not a failure; others are tried again at the next poll.
        if (!controller.signal.aborted) console.warn(`update of ${metric} failed`, error)
        return false
      })
      .then((checkAgain) => {
        if (fetching.current !== controller) return
        fetching.current = undefined
        // The summaries may have moved on while this was read (a failed read waits for the next poll).
        if (checkAgain) catchUpRef.current()
      })
  }, [range, axis, metric, buckets, client, draw, refetch])
  const catchUpRef = useRef(catchUp)
  catchUpRef.current = catchUp
  // Leaving the view (or the page) aborts the fetch in flight.
  useEffect(
    () => () => {
      fetching.current?.abort()
      fetching.current = undefined
    },
    [viewKey, sourcesKey, metric, answers],
  )
  // Each poll (and each new answer) checks again.
  useEffect(() => catchUp(), [lastSteps, answers, catchUp])

  const rows = drawn === undefined ? [] : legendRows({ data: drawn.data, idx: cursorIdx, sources, theme })
  const cursorX = drawn !== undefined && cursorIdx !== null ? drawn.data[0][cursorIdx] : undefined
  return (
    <div className="metric-chart" ref={boxRef} data-metric={metric} data-points={drawn?.points ?? 0}>
      <div className="metric-chart-plot" ref={plotRef} aria-label={`Chart of ${metric}`} role="img" />
      {query.isPending && <p className="chart-note muted">Reading {metric}…</p>}
      {query.isError && (
        <p className="chart-note chart-error" role="alert">
          Could not read {metric}: {query.error instanceof Error ? query.error.message : String(query.error)}{' '}
          <button type="button" className="btn" onClick={() => void query.refetch()}>
            Retry
          </button>
        </p>
      )}
      <ul className="chart-legend" aria-label={`Values of ${metric}`}>
        {cursorX !== undefined && cursorX !== null && (
          <li className="muted">
            {axis === 'time' ? new Date(cursorX).toLocaleString() : `step ${formatValue(Math.round(cursorX))}`}
          </li>
        )}
        {rows.map((row, i) => (
          <li key={`${row.label}-${i}`}>
            <span className="swatch" style={{ background: row.colour }} aria-hidden="true" />
            <span className="legend-label">{row.label}</span>{' '}
            <span className="legend-value mono">{row.value === null ? '—' : formatValue(row.value)}</span>
            {row.min !== null && row.max !== null && row.min !== row.max && (
              <span className="muted mono">
                {' '}
                ({formatValue(row.min)} … {formatValue(row.max)})
              </span>
            )}
          </li>
        ))}
      </ul>
      {drawn !== undefined && (
        <p className="chart-note muted">
          <span className="chart-count">{drawn.points.toLocaleString()}</span> points in view
          {drawn.nonFinite > 0 && (
            <>
              {' · '}
              <span className="chart-nonfinite">{drawn.nonFinite.toLocaleString()} non-finite (NaN or ±Infinity), not drawn</span>
            </>
          )}
          {range !== undefined && ' · double-click the chart to show all'}
        </p>
      )}
    </div>
  )
}
