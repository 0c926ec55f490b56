import { Command, CommanderError } from 'commander'
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
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
  registerServerCommand(program)
  registerWorkspaceCommands(program)
  registerSyncCommand(program)
  return program
}

/** Runs the CLI with `argv` (node and script first) and resolves to the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const program = createProgram()
  try {
    await program.parseAsync(argv)
    return 0
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed the usage error or the help/version text.
      return error.exitCode === 0 ? 0 : 2
    }
    return reportError(error, { verbose: program.opts<{ verbose?: boolean }>().verbose === true })
  }
}
