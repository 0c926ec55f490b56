import { AXES, type Axis, type XRange } from './chart-data.js'
import { noteZoomStart } from './marks.js'

/** Axis switch (step or time) and the zoom, for every chart of a page at once. */
export function ChartToolbar(props: {
  axis: Axis
  range: XRange | undefined
  onView: (view: { axis: Axis; range: XRange | undefined }) => void
  live?: boolean
}) {
  const { axis, range, onView, live = false } = props
  const describe = (r: XRange) =>
    axis === 'time'
      ? `${new Date(r.from).toLocaleString()} – ${new Date(r.to).toLocaleString()}`
      : `steps ${r.from.toLocaleString()} – ${r.to.toLocaleString()}`
  return (
    <div className="toolbar chart-toolbar">
      <div role="group" aria-label="X axis" className="segmented">
        {AXES.map((a) => (
          <button
            key={a}
            type="button"
            className={a === axis ? 'btn active' : 'btn'}
            aria-pressed={a === axis}
            // A range in steps means nothing in time (and back): switching shows everything.
            onClick={() => onView({ axis: a, range: undefined })}
          >
            {a === 'step' ? 'Step' : 'Time'}
          </button>
        ))}
      </div>
      {range !== undefined ? (
        <>
          <span className="zoom-range">Zoomed to {describe(range)}</span>
          <button
            type="button"
            className="btn"
            onClick={() => {
              noteZoomStart(`${axis}:all`)
              onView({ axis, range: undefined })
            }}
          >
            Show all
          </button>
        </>
      ) : (
        <span className="muted">Drag across a chart to zoom; double-click to show all.</span>
      )}
      {live && (
        <span className="live-note" role="status">
          <span className="live-dot" aria-hidden="true" /> Live: new points appear as they are logged
        </span>
      )}
    </div>
  )
}
