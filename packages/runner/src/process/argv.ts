import path from 'node:path'
import type { RunDefinition } from '@wharf/contract'

/** What {@link buildArgv} needs beyond the definition: where Node and tsx's loader are. */
export interface ArgvOptions {
  definition: Pick<RunDefinition, 'script' | 'command' | 'python'>
  /** Each data reference's path on this machine, by reference name. */
  referencePaths: Readonly<Record<string, string>>
  /** The working folder the script runs in (an entry script of no known kind is run from there). */
  workingFolder: string
  /** The Node binary for `.js`/`.ts` scripts (the runner's own). */
  nodePath: string
  /** tsx's loader, as a file URL, for `.ts`/`.mts` scripts. */
  tsxLoader: string
}

/** The interpreter argv of an entry script, by its extension: Python, Node with tsx, Node, or the file itself. */
export function interpreterOf(
  script: string,
  options: Omit<ArgvOptions, 'definition' | 'referencePaths'> & { python: string | null },
): string[] {
  const extension = path.extname(script).toLowerCase()
  switch (extension) {
    case '.py':
      return [options.python ?? 'python3', script]
    case '.ts':
    case '.mts':
      return [options.nodePath, '--import', options.tsxLoader, script]
    case '.js':
    case '.mjs':
    case '.cjs':
      return [options.nodePath, script]
    default:
      return [path.resolve(options.workingFolder, script)]
  }
}

/**
 * The argv a run starts: for an entry script its interpreter, the script and the arguments; for a
 * command run the command as it is. `$WHARF_DATAREFERENCE_<name>` and `$AZUREML_DATAREFERENCE_<name>`
 * (also `${…}`) are replaced by the reference's path wherever they appear in an argument.
 */
export function buildArgv(options: ArgvOptions): string[] {
  const { definition, referencePaths } = options
  const command = definition.command.map((arg) => substituteReferences(arg, referencePaths))
  if (definition.script === null) return command
  // The stored command starts with the entry script, as the user would type it; the rest are its arguments.
  const args = command[0] === definition.script ? command.slice(1) : command
  return [...interpreterOf(definition.script, { ...options, python: definition.python }), ...args]
}

const TOKEN = /\$(\{)?(?:WHARF|AZUREML)_DATAREFERENCE_([A-Za-z0-9_]+)(\})?/g

/**
 * Replaces data-reference tokens in `text` by their paths. The longest reference name that starts the
 * token's name wins, so `$AZUREML_DATAREFERENCE_raw_v2` finds `raw_v2` before `raw`; unknown names stay.
 */
export function substituteReferences(text: string, referencePaths: Readonly<Record<string, string>>): string {
  if (!text.includes('_DATAREFERENCE_')) return text
  const names = Object.keys(referencePaths).sort((a, b) => b.length - a.length)
  return text.replace(TOKEN, (...match: string[]) => {
    const [whole = '', open, name = '', close] = match
    if (open !== undefined) {
      const value = close !== undefined ? referencePaths[name] : undefined
      return value ?? whole
    }
    const known = names.find((candidate) => name.startsWith(candidate))
    if (known === undefined) return whole
    return `${referencePaths[known]}${name.slice(known.length)}${close ?? ''}`
  })
}
