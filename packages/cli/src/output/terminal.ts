/** What the CLI knows about where its output goes: a terminal or not, how wide, colours or not. */
export interface Terminal {
  isTTY: boolean
  /** Columns to fit tables in; undefined means no limit (output piped and no COLUMNS set). */
  width: number | undefined
  color: boolean
}

/** Reads the terminal facts for `stream` once, at the edge: TTY, COLUMNS / stream width, NO_COLOR. */
export function describeTerminal(stream: NodeJS.WriteStream = process.stdout): Terminal {
  const isTTY = stream.isTTY === true
  const fromEnv = Number(process.env.COLUMNS)
  // A pseudo-terminal without a size (script, some CI runners) reports 0 columns: assume 80 there.
  const width = Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : isTTY ? stream.columns || 80 : undefined
  const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== ''
  return { isTTY, width, color: isTTY && !noColor }
}

const CODES = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] } as const

/** A colour name the output uses. */
export type Style = keyof typeof CODES

/** Wraps `text` in the ANSI codes of `style` when colours are on; returns it untouched otherwise. */
export function paint(text: string, options: { style: Style; color: boolean }): string {
  if (!options.color || text === '') return text
  const [open, close] = CODES[options.style]
  return `\u001b[${open}m${text}\u001b[${close}m`
}

/** The style a run status is shown in. */
export function statusStyle(status: string): Style | undefined {
  if (status === 'Completed') return 'green'
  if (status === 'Failed' || status === 'Canceled') return 'red'
  if (status === 'Running' || status === 'Finalizing' || status === 'Preparing' || status === 'Queued') return 'yellow'
  return undefined
}
