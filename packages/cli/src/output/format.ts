import { search, type JSONValue } from '@jmespath-community/jmespath'
import { WharfError } from '@wharf/contract'
import { renderPairs, renderTable, type TableSpec } from './table.js'
import type { Terminal } from './terminal.js'

/** The output formats every listing command accepts. */
export const OUTPUT_FORMATS = ['table', 'json', 'tsv'] as const
/** One output format. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number]

/** True when `value` names an output format. */
export function isOutputFormat(value: string): value is OutputFormat {
  return (OUTPUT_FORMATS as readonly string[]).includes(value)
}

/** The help text of `-o`, shared by every command. */
export const OUTPUT_HELP = 'output format: table, json or tsv (default: table on a terminal, json when piped)'
/** The help text of `--query`. */
export const QUERY_HELP = 'JMESPath query applied to the JSON form before formatting, e.g. "[].runId"'

/** `-o` as given, or the default for where stdout goes: table on a terminal, JSON otherwise. */
export function resolveFormat(options: { flag: string | undefined; terminal: Terminal }): OutputFormat {
  if (options.flag === undefined) return options.terminal.isTTY ? 'table' : 'json'
  if (isOutputFormat(options.flag)) return options.flag
  throw new WharfError('INVALID_ARGUMENT', `unknown output format "${options.flag}"; use -o table, -o json or -o tsv`, {
    details: { flag: '-o' },
  })
}

/** Applies a JMESPath expression; a bad expression is INVALID_ARGUMENT saying what the parser said. */
export function applyQuery(data: JSONValue, expression: string): JSONValue {
  try {
    return search(data, expression)
  } catch (cause) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `--query "${expression}" is not a JMESPath expression this data accepts: ${(cause as Error).message}; see https://jmespath.site`,
      {
        cause,
      },
    )
  }
}

/** Turns a value into JSON the query and the formats work on (drops undefined, Dates as ISO strings). */
export function toJson(value: unknown): JSONValue {
  return JSON.parse(JSON.stringify(value ?? null)) as JSONValue
}

function scalarText(value: JSONValue): string {
  if (value === null) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return JSON.stringify(value)
}

type JsonObject = { [key: string]: JSONValue }

function isObject(value: JSONValue | undefined): value is JsonObject {
  return value !== null && value !== undefined && typeof value === 'object' && !Array.isArray(value)
}

/**
 * The columns of a list of objects: one per leaf, nested objects spread into dotted names
 * (`metrics.loss`, `tags.team`) in the order first seen, so every metric and tag gets a column; a key
 * that is an object in any row is spread in all of them.
 */
function leafPaths(rows: readonly JsonObject[]): string[][] {
  const paths: string[][] = []
  const walk = (values: readonly JsonObject[], prefix: string[]): void => {
    const keys = [...new Set(values.flatMap((value) => Object.keys(value)))]
    for (const key of keys) {
      const children = values.map((value) => value[key])
      const objects = children.filter(isObject)
      if (objects.length > 0) walk(objects, [...prefix, key])
      else paths.push([...prefix, key])
    }
  }
  walk(rows, [])
  return paths
}

function cellAt(row: JsonObject, keys: readonly string[]): string {
  let value: JSONValue | undefined = row
  for (const key of keys) value = isObject(value) ? value[key] : undefined
  return value === undefined || isObject(value) ? '' : tsvCell(value)
}

function tsvCell(value: JSONValue): string {
  return scalarText(value).replace(/[\t\r\n]+/g, ' ')
}

/**
 * TSV for scripts and spreadsheets. Objects (a list of them, or one) get a header row and a column per
 * leaf, nested objects spread into dotted names (`metrics.loss`); lists inside a value are compact
 * JSON. Plain values (what `--query "[].runId"` leaves) are one per line with no header, and lists of
 * lists one row each, as the Azure CLI prints them.
 */
export function renderTsv(value: JSONValue): string {
  if (value === null) return ''
  const items = Array.isArray(value) ? value : [value]
  if (items.length === 0) return ''
  if (items.every(isObject)) {
    const columns = leafPaths(items)
    const lines = [
      columns.map((keys) => keys.join('.')).join('\t'),
      ...items.map((row) => columns.map((keys) => cellAt(row, keys)).join('\t')),
    ]
    return lines.join('\n') + '\n'
  }
  return items.map((item) => (Array.isArray(item) ? item.map(tsvCell).join('\t') : tsvCell(item))).join('\n') + '\n'
}

/** A table for any JSON value: arrays of objects become rows, an object key/value pairs. */
export function renderGenericTable(value: JSONValue, terminal: Terminal): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return ''
    if (value.every((item) => item !== null && typeof item === 'object' && !Array.isArray(item))) {
      const objects = value as Record<string, JSONValue>[]
      const headers = [...new Set(objects.flatMap((item) => Object.keys(item)))]
      return renderTable({ headers, rows: objects.map((item) => headers.map((key) => scalarText(item[key] ?? null))) }, terminal)
    }
    return renderTable({ headers: ['Result'], rows: value.map((item) => [scalarText(item)]) }, terminal)
  }
  if (value !== null && typeof value === 'object') {
    return renderPairs(
      Object.entries(value).map(([key, v]) => [key, scalarText(v)]),
      terminal,
    )
  }
  return value === null ? '' : scalarText(value) + '\n'
}

/** What a command hands to {@link printResult}: its JSON form and, optionally, a better table. */
export interface ResultView {
  /** The JSON form: what `-o json` prints and `--query` works on. */
  json: unknown
  /** The table form of the unqueried result; without it the JSON is tabulated generically. */
  table?: ((terminal: Terminal) => string) | TableSpec
}

/** Prints a result in the chosen format, after the query; the table form is used only without --query. */
export function formatResult(
  view: ResultView,
  options: { format: OutputFormat; query: string | undefined; terminal: Terminal },
): string {
  const json = toJson(view.json)
  const data = options.query === undefined ? json : applyQuery(json, options.query)
  switch (options.format) {
    case 'json':
      return JSON.stringify(data, null, 2) + '\n'
    case 'tsv':
      return renderTsv(data)
    case 'table':
      if (options.query === undefined && view.table !== undefined) {
        return typeof view.table === 'function' ? view.table(options.terminal) : renderTable(view.table, options.terminal)
      }
      return renderGenericTable(data, options.terminal)
  }
}
