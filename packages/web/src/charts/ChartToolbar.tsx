import { useState, type FormEvent } from 'react'
import { AXES, type Axis, type XRange } from './chart-data.js'
import { noteZoomStart } from './marks.js'

/** An epoch-ms time as a `datetime-local` input value (the reader's local time, to the second). */
function toLocalInput(ms: number): string {
  const d = new Date(ms)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** Zoom from the keyboard: the range typed in, in steps or local times by the axis. */
function ZoomForm(props: { axis: Axis; range: XRange | undefined; onRange: (range: XRange) => void }) {
  const { axis, range, onRange } = props
  const show = (value: number | undefined) => (value === undefined ? '' : axis === 'time' ? toLocalInput(value) : String(value))
  const [from, setFrom] = useState(show(range?.from))
  const [to, setTo] = useState(show(range?.to))
  const parse = (text: string) => (axis === 'time' ? new Date(text).getTime() : Number(text))
  const submit = (event: FormEvent) => {
    event.preventDefault()
    const a = parse(from)
    const b = parse(to)
    if (Number.isFinite(a) && Number.isFinite(b) && from !== '' && to !== '')
      onRange({ from: Math.min(a, b), to: Math.max(a, b) })
  }
  const type = axis === 'time' ? 'datetime-local' : 'number'
  return (
    <form className="zoom-form" onSubmit={submit} aria-label="Zoom to a range">
      <label>
        <span className="muted">{axis === 'time' ? 'From' : 'From step'}</span>
        <input
          type={type}
          step={1}
          min={axis === 'step' ? 0 : undefined}
          value={from}
          onChange={(e) => setFrom(e.target.value)}
          name="from"
        />
      </label>
      <label>
        <span className="muted">to</span>
        <input
          type={type}
          step={1}
          min={axis === 'step' ? 0 : undefined}
          value={to}
          onChange={(e) => setTo(e.target.value)}
          name="to"
        />
      </label>
      <button type="submit" className="btn" disabled={from === '' || to === ''}>
        Zoom
      </button>
    </form>
  )
}

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
      <ZoomForm
        key={`${axis}:${range?.from}-${range?.to}`}
        axis={axis}
        range={range}
        onRange={(next) => {
          noteZoomStart(`${axis}:${next.from}-${next.to}`)
          onView({ axis, range: next })
        }}
      />
      {live && (
        <span className="live-note" role="status">
          <span className="live-dot" aria-hidden="true" /> Live: new points appear as they are logged
        </span>
      )}
    </div>
  )
}
