import type { Command } from 'commander'
import { commandGroup, printResult, serverCommand, type OutputFlags } from '../command-options.js'
import { connect, type ConnectionFlags } from '../connection.js'
import { formatTime } from '../output/values.js'

/** `wharf experiment list`: the experiments of the workspace. */
export function registerExperimentCommands(program: Command): void {
  const experiment = commandGroup(program, {
    name: 'experiment',
    description: 'experiments: named groups of runs',
    examples: ['wharf experiment list'],
  })
  serverCommand(experiment, 'list')
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
