/** Bars of a sparkline, lowest to highest. */
const BARS = '▁▂▃▄▅▆▇█'

/** A sparkline of `values` (null for a gap); a flat series is drawn at mid height. */
export function sparkline(values: readonly (number | null)[]): string {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v))
  if (finite.length === 0) return ''
  const min = Math.min(...finite)
  const max = Math.max(...finite)
  return values
    .map((v) => {
      if (v === null || !Number.isFinite(v)) return ' '
      if (max === min) return BARS[3]
      return BARS[Math.min(BARS.length - 1, Math.floor(((v - min) / (max - min)) * BARS.length))]
    })
    .join('')
}

/** A metric value as a short string: five significant digits, text as it is. */
export function formatValue(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string') return value
  if (Number.isInteger(value)) return String(value)
  return String(Number(value.toPrecision(5)))
}

/** A duration the way `az ml history` shows it: `H:MM:SS.mmm`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms))
  const hours = Math.floor(total / 3_600_000)
  const minutes = Math.floor((total % 3_600_000) / 60_000)
  const seconds = Math.floor((total % 60_000) / 1000)
  const millis = total % 1000
  return `${hours}:${String(minutes).padStart(2, '0')}:${String(seconds).padStart(2, '0')}.${String(millis).padStart(3, '0')}`
}

/** An ISO time as `YYYY-MM-DD HH:MM:SS` UTC, for tables; empty for null. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return ''
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')
}
