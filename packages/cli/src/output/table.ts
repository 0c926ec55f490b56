import { paint, type Style } from './terminal.js'

/** One cell: its text, and a style to paint it in on a colour terminal. */
export interface Cell {
  text: string
  style?: Style | undefined
}

/** A table to print: headers, and rows of cells (strings or styled cells). */
export interface TableSpec {
  headers: string[]
  rows: (string | Cell)[][]
  /** Columns cut only when cutting every other one was not enough (ids, statuses). */
  keep?: number[]
  /**
   * Columns by importance, most important first; the rest follow in display order. When the table
   * does not fit, the least important columns are left out (and named under the table).
   */
  priority?: number[]
}

const GAP = '  '
const MIN_WIDTH = 4
/** What a cut column may shrink to before a less important column is left out to make room. */
const COMFORT_WIDTH = 24

function toCell(value: string | Cell | undefined): Cell {
  if (value === undefined) return { text: '' }
  return typeof value === 'string' ? { text: value } : value
}

/** Character width of `text` as a terminal shows it (code points; no East Asian wide handling). */
function widthOf(text: string): number {
  return [...text].length
}

/** Cuts `text` to `width` characters, ending in … when it was longer. */
export function truncate(text: string, width: number): string {
  const chars = [...text.replace(/[\r\n\t]+/g, ' ')]
  if (chars.length <= width) return chars.join('')
  if (width <= 1) return '…'.slice(0, width)
  return chars.slice(0, width - 1).join('') + '…'
}

/**
 * Column widths that fit `maxWidth`: the widest column gives up characters first, down to a few, so
 * short columns (status, ids) stay whole while long ones (scripts, descriptions) are cut with ….
 */
function fitWidths(natural: number[], options: { maxWidth: number | undefined; keep: readonly number[] }): number[] {
  const widths = [...natural]
  if (options.maxWidth === undefined) return widths
  const total = (): number => widths.reduce((a, b) => a + b, 0) + GAP.length * Math.max(0, widths.length - 1)
  for (const spareKept of [true, false]) {
    while (total() > options.maxWidth) {
      let widest = -1
      for (let i = 0; i < widths.length; i++) {
        if (spareKept && options.keep.includes(i)) continue
        if ((widths[i] ?? 0) > MIN_WIDTH && (widest < 0 || (widths[i] ?? 0) > (widths[widest] ?? 0))) widest = i
      }
      if (widest < 0) break // these columns are at their minimum
      widths[widest] = (widths[widest] ?? 0) - 1
    }
  }
  return widths // still too wide only when every column is at its minimum: the terminal wraps
}

/**
 * The columns shown at `maxWidth`, in display order: the least important ones are left out until the
 * rest fit with long cells cut to {@link COMFORT_WIDTH} (columns in `keep` whole); at least one stays.
 */
function chooseColumns(
  natural: readonly number[],
  options: { maxWidth: number | undefined; priority: readonly number[]; keep: readonly number[] },
): number[] {
  const all = natural.map((_, i) => i)
  if (options.maxWidth === undefined) return all
  const ranked = [...new Set([...options.priority.filter((i) => i >= 0 && i < natural.length), ...all])]
  const need = (columns: readonly number[]): number =>
    columns.reduce(
      (sum, i) => sum + (options.keep.includes(i) ? (natural[i] ?? 0) : Math.min(natural[i] ?? 0, COMFORT_WIDTH)),
      0,
    ) +
    GAP.length * Math.max(0, columns.length - 1)
  while (ranked.length > 1 && need(ranked) > options.maxWidth) ranked.pop()
  return all.filter((i) => ranked.includes(i))
}

/**
 * Renders a table with a dashed rule under the headers, fitted to `width`: the least important
 * columns are left out (and named in a last line), then long cells are cut with ….
 */
export function renderTable(spec: TableSpec, options: { width: number | undefined; color: boolean }): string {
  const allRows = spec.rows.map((row) => spec.headers.map((_, i) => toCell(row[i])))
  const allNatural = spec.headers.map((header, i) =>
    Math.max(widthOf(header), ...allRows.map((row) => widthOf(row[i]?.text ?? ''))),
  )
  const shown = chooseColumns(allNatural, { maxWidth: options.width, priority: spec.priority ?? [], keep: spec.keep ?? [] })
  const headers = shown.map((i) => spec.headers[i] ?? '')
  const rows = allRows.map((row) => shown.map((i) => row[i] ?? { text: '' }))
  const natural = shown.map((i) => allNatural[i] ?? 0)
  const keep = shown.flatMap((column, position) => ((spec.keep ?? []).includes(column) ? [position] : []))
  const widths = fitWidths(natural, { maxWidth: options.width, keep })
  const line = (cells: Cell[]): string =>
    cells
      .map((cell, i) => {
        const width = widths[i] ?? 0
        const text = truncate(cell.text, width)
        const padded = i === cells.length - 1 ? text : text + ' '.repeat(Math.max(0, width - widthOf(text)))
        return cell.style ? paint(padded, { style: cell.style, color: options.color }) : padded
      })
      .join(GAP)
      .trimEnd()
  const header = line(headers.map((text) => ({ text, style: 'bold' as const })))
  const rule = widths.map((w) => '-'.repeat(w)).join(GAP)
  const hidden = spec.headers.filter((_, i) => !shown.includes(i))
  const note =
    hidden.length === 0
      ? []
      : [
          paint(
            truncate(`(hidden at this width: ${hidden.join(', ')}; -o json has all)`, options.width ?? Number.POSITIVE_INFINITY),
            { style: 'dim', color: options.color },
          ),
        ]
  return [header, rule, ...rows.map(line), ...note].join('\n') + '\n'
}

/** Renders key/value pairs as two aligned columns, values cut to fit `width`. */
export function renderPairs(pairs: [string, string | Cell][], options: { width: number | undefined; color: boolean }): string {
  if (pairs.length === 0) return ''
  const keyWidth = Math.max(...pairs.map(([key]) => widthOf(key)))
  return (
    pairs
      .map(([key, value]) => {
        const cell = toCell(value)
        const room =
          options.width === undefined ? Number.POSITIVE_INFINITY : Math.max(MIN_WIDTH, options.width - keyWidth - GAP.length)
        const text = truncate(cell.text, room)
        const label = paint(key.padEnd(keyWidth), { style: 'dim', color: options.color })
        return `${label}${GAP}${cell.style ? paint(text, { style: cell.style, color: options.color }) : text}`.trimEnd()
      })
      .join('\n') + '\n'
  )
}
