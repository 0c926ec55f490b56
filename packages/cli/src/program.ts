import { Command, CommanderError } from 'commander'
import { WharfError } from '@wharf/contract'
import { registerAssetCommands } from './commands/asset.js'
import { registerDatastoreCommands } from './commands/datastore.js'
import { registerExperimentCommands } from './commands/experiment.js'
import { registerHistoryCommands } from './commands/history.js'
import { registerRunCommands } from './commands/run.js'
import { registerServerCommand } from './commands/server.js'
import { registerSyncCommand } from './commands/sync.js'
import { registerWorkspaceCommands } from './commands/workspace.js'
import { reportError } from './errors.js'
import { VERSION } from './version.js'

/** Builds the `wharf` command tree. */
export function createProgram(): Command {
  const program = new Command('wharf')
    .description('Wharf: run history and datastores for ML work, self-hosted')
    .version(VERSION, '-V, --version', 'print the version')
    .option('--verbose', 'print error details and causes')
    .option('--token <token>', 'bearer token for a server that requires one (default: WHARF_AUTH_TOKEN or .wharf/config.json)')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
  // Global options are parsed by the program wherever they stand (`wharf history list --token …` too);
  // handing the token to the command that runs lets its flags carry it like --url and --workspace.
  program.hook('preAction', (root, action) => {
    const { token } = root.opts<{ token?: string }>()
    if (token === undefined) return
    if (action.name() === 'server') {
      throw new WharfError(
        'INVALID_ARGUMENT',
        '--token is the token a client sends; the server takes the one it requires with --auth-token (or WHARF_AUTH_TOKEN)',
        {
          details: { flag: '--token' },
        },
      )
    }
    action.setOptionValue('token', token)
  })
  registerServerCommand(program)
  registerWorkspaceCommands(program)
  registerHistoryCommands(program)
  registerRunCommands(program)
  registerAssetCommands(program)
  registerDatastoreCommands(program)
  registerExperimentCommands(program)
  registerSyncCommand(program)
  return program
}

/**
 * Rewrites the two-letter short flag `-ap` of `az ml history promote` (which commander cannot declare)
 * to `--artifact-path`; arguments after `--` are left alone.
 */
export function expandShortFlags(argv: readonly string[]): string[] {
  const end = argv.indexOf('--')
  return argv.map((arg, i) => {
    if (end >= 0 && i > end) return arg
    if (arg === '-ap') return '--artifact-path'
    if (arg.startsWith('-ap=')) return `--artifact-path=${arg.slice(4)}`
    return arg
  })
}

/** Runs the CLI with `argv` (node and script first) and resolves to the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const program = createProgram()
  try {
    await program.parseAsync(expandShortFlags(argv))
    return 0
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed the usage error or the help/version text.
      return error.exitCode === 0 ? 0 : 2
    }
    return reportError(error, { verbose: program.opts<{ verbose?: boolean }>().verbose === true })
  }
}
