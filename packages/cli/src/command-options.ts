import type { Command } from 'commander'
import { NAME_RULES, WharfError, printable } from '@wharf/contract'
import { OUTPUT_HELP, QUERY_HELP, formatResult, resolveFormat, type ResultView } from './output/format.js'
import { describeTerminal } from './output/terminal.js'

/** Flags of every command that prints a result. */
export interface OutputFlags {
  output?: string
  query?: string
}

/** Adds `--url` and `--workspace`, resolved like the SDK does (flags, then environment, then config file). */
export function withConnectionOptions(command: Command): Command {
  return command
    .option('--url <url>', 'server URL (default: WHARF_TRACKING_URI or .wharf/config.json)')
    .option('--workspace <name>', 'workspace (default: WHARF_WORKSPACE or .wharf/config.json)')
}

/** Adds `-o/--output` and `--query`. */
export function withOutputOptions(command: Command): Command {
  return command.option('-o, --output <format>', OUTPUT_HELP).option('--query <jmespath>', QUERY_HELP)
}

/** A command group (`wharf history`, `wharf datastore`…) with what it is for and example lines for its help. */
export function commandGroup(
  program: Command,
  group: { name: string; description: string; examples: readonly string[] },
): Command {
  const label = group.examples.length === 1 ? 'Example' : 'Examples'
  return program
    .command(group.name)
    .description(group.description)
    .addHelpText('after', `\n${label}:\n${group.examples.map((line) => `  ${line}`).join('\n')}`)
}

/** A command of a group that talks to the server and prints a result: the connection and output options added. */
export function serverCommand(group: Command, name: string): Command {
  return withOutputOptions(withConnectionOptions(group.command(name)))
}

/**
 * True when {@link printResult} will print the command's own table (table format, no --query): only
 * then is it worth fetching what the table alone shows.
 */
export function printsOwnTable(flags: OutputFlags): boolean {
  return (
    flags.query === undefined && resolveFormat({ flag: flags.output, terminal: describeTerminal(process.stdout) }) === 'table'
  )
}

/** Prints a command's result on stdout in the format asked for (or the default for where stdout goes). */
export function printResult(view: ResultView, flags: OutputFlags): void {
  const terminal = describeTerminal(process.stdout)
  const format = resolveFormat({ flag: flags.output, terminal })
  process.stdout.write(formatResult(view, { format, query: flags.query, terminal }))
}

/** Commander collector for a repeatable option. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** `k=v` pairs (a bare `k` means an empty value) as a record; INVALID_ARGUMENT for an empty key. */
export function parseTagPairs(pairs: readonly string[] | undefined): Record<string, string> {
  const tags: Record<string, string> = {}
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=')
    const key = (eq < 0 ? pair : pair.slice(0, eq)).trim()
    if (key === '')
      throw new WharfError('INVALID_ARGUMENT', `--tag "${pair}" has no key; write --tag key=value`, {
        details: { flag: '--tag' },
      })
    tags[key] = eq < 0 ? '' : pair.slice(eq + 1)
  }
  return tags
}

/** A positive whole number from a flag, or INVALID_ARGUMENT naming the flag. */
export function parseCount(raw: string, flag: string): number {
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) {
    throw new WharfError('INVALID_ARGUMENT', `${flag} "${raw}" is not a whole number (0 or more)`, { details: { flag } })
  }
  return value
}

/** The forms of an asset reference, for messages. */
const ASSET_REF_FORMS = '<name>, <name>:<version> (a version is 1, 2, …, or latest) or <name>@<alias>'

/** A version number as typed (`3`, also `03`), or undefined when `raw` is not a whole number from 1. */
export function parseVersionNumber(raw: string): number | undefined {
  const version = /^[0-9]{1,15}$/.test(raw) ? Number(raw) : 0
  return version >= 1 ? version : undefined
}

/** An asset and the version a command names: a number, `latest`, or an alias name (the alias rule keeps it from being either). */
export interface AssetRef {
  name: string
  version: number | string
}

/**
 * `name`, `name:3`, `name:latest` or `name@champion` as a name and version; INVALID_ARGUMENT naming the
 * three forms otherwise, and the alias rule when the alias breaks it.
 */
export function parseAssetRef(ref: string): AssetRef {
  const at = ref.indexOf('@')
  const colon = ref.indexOf(':')
  if (at < 0 && colon < 0) return { name: ref, version: 'latest' }
  const notARef = (why = ''): WharfError =>
    new WharfError('INVALID_ARGUMENT', `"${printable(ref)}" is not an asset reference${why}; write ${ASSET_REF_FORMS}`, {
      details: { value: printable(ref) },
    })
  const separator = at >= 0 ? at : colon
  const name = ref.slice(0, separator)
  const raw = ref.slice(separator + 1)
  if (name === '' || (at >= 0 && colon >= 0)) throw notARef()
  if (at >= 0) {
    const { assetAlias } = NAME_RULES
    if (!assetAlias.pattern.test(raw)) throw notARef(`: alias "${printable(raw)}" is not valid (${assetAlias.rule})`)
    return { name, version: raw }
  }
  if (raw === 'latest') return { name, version: 'latest' }
  const version = parseVersionNumber(raw)
  if (version !== undefined) return { name, version }
  // `name:champion` is what someone who knows aliases but not their spelling would type.
  throw notARef(NAME_RULES.assetAlias.pattern.test(raw) ? ` (an alias goes after @: ${printable(name)}@${printable(raw)})` : '')
}
