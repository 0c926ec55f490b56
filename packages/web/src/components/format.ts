/** A metric value as the API sends it: a number, a non-finite number as text ('NaN', 'Infinity', '-Infinity'), or a text. */
type MetricValue = number | string

/** A date-time as the reader's locale writes it, to the second; `—` for none. */
export function formatTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '—'
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })
}

/** A duration in milliseconds, short: `850 ms`, `42 s`, `3 min 05 s`, `2 h 07 min`, `3 d 4 h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—'
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h} h ${String(m % 60).padStart(2, '0')} min`
  return `${Math.floor(h / 24)} d ${h % 24} h`
}

/** How long a run took (or has taken so far, for one still going); `—` before it started. */
export function runDuration(run: { startedAt: string | null; endedAt: string | null }, now = Date.now()): string {
  if (run.startedAt === null) return '—'
  const end = run.endedAt === null ? now : Date.parse(run.endedAt)
  return formatDuration(end - Date.parse(run.startedAt))
}

/** A metric value for a table cell: numbers to 6 significant digits, texts as they are. */
export function formatValue(value: MetricValue | null | undefined): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string') return value
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value)
  const abs = Math.abs(value)
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e9)) return value.toExponential(4)
  return String(Number(value.toPrecision(6)))
}

/** A byte count: `512 B`, `1.5 KiB`, `3.2 MiB`, `1.1 GiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}
