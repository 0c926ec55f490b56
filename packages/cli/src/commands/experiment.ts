import type { Command } from 'commander'
import { printResult, withConnectionOptions, withOutputOptions, type OutputFlags } from '../command-options.js'
import { connect, type ConnectionFlags } from '../connection.js'
import { formatTime } from '../output/values.js'

/** `wharf experiment list`: the experiments of the workspace. */
export function registerExperimentCommands(program: Command): void {
  const experiment = program
    .command('experiment')
    .description('experiments: named groups of runs')
    .addHelpText('after', '\nExample:\n  wharf experiment list')
  withOutputOptions(withConnectionOptions(experiment.command('list')))
    .description('the experiments of the workspace, by name')
    .addHelpText('after', '\nExamples:\n  wharf experiment list\n  wharf experiment list -o tsv --query "[].name"')
    .action(async (flags: ConnectionFlags & OutputFlags) => {
      const { client } = await connect(flags)
      const experiments = await client.listExperiments().toArray()
      printResult(
        {
          json: experiments,
          table: {
            headers: ['Name', 'Id', 'Created (UTC)'],
            rows: experiments.map((e) => [e.name, String(e.id), formatTime(e.createdAt)]),
          },
        },
        flags,
      )
    })
}
