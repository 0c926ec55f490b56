/**
 * Performance marks the charts leave for the studio benchmark (bench/studio.ts) and for anyone
 * profiling: when each chart first painted its data, and how long a zoom took to redraw.
 */
export const CHART_MARKS = {
  /** A mark per chart when it first draws its data; `detail.metric` names it. */
  painted: 'wharf:chart-painted',
  /** A measure per chart from a zoom's selection to the redraw with the new range's buckets. */
  zoomRedraw: 'wharf:zoom-redraw',
  /** A measure per live append: from asking for the new points to drawing them. */
  liveAppend: 'wharf:live-append',
} as const

let pendingZoom: { key: string; startedAt: number } | undefined

/** Notes that a zoom to the view `key` was asked now (by a drag-select or a double-click). */
export function noteZoomStart(key: string): void {
  pendingZoom = { key, startedAt: performance.now() }
}

/** The zoom being waited for, if its view is `key`. */
export function pendingZoomOf(key: string): { key: string; startedAt: number } | undefined {
  return pendingZoom?.key === key ? pendingZoom : undefined
}
