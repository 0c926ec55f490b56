import type { Command } from 'commander'
import { WharfError } from '@wharf/contract'
import { replaySpool } from '@wharf/sdk'
import { connect, type ConnectionFlags } from '../connection.js'

interface SyncFlags extends ConnectionFlags {
  spoolDir?: string
}

/**
 * `wharf sync`: send what was spooled while the server could not be reached: runs started offline
 * (created first), metric batches, then each run's files and final status.
 */
export function registerSyncCommand(program: Command): void {
  program
    .command('sync')
    .description(
      'send runs, metrics, files and final statuses spooled while the server was unreachable (each is stored once, however often you sync)',
    )
    .option('--url <url>', 'server URL (default: WHARF_TRACKING_URI or .wharf/config.json)')
    .option('--workspace <name>', 'workspace (default: WHARF_WORKSPACE or .wharf/config.json)')
    .option('--spool-dir <dir>', 'spool folder (default: $WHARF_HOME/spool or ~/.wharf/spool)')
    .addHelpText('after', '\nExample:\n  wharf sync')
    .action(async (flags: SyncFlags) => {
      const workspace = await connect(flags)
      const result = await replaySpool({ client: workspace.client, spoolDir: flags.spoolDir ?? workspace.spoolDir })
      process.stdout.write(
        `sent ${result.batches} batch${result.batches === 1 ? '' : 'es'} (${result.points} points) from ${result.files} spool file${result.files === 1 ? '' : 's'}\n`,
      )
      const { created, artifacts, ended } = result.runs
      if (created + artifacts + ended > 0) {
        process.stdout.write(
          `created ${created} run${created === 1 ? '' : 's'}, uploaded ${artifacts} file${artifacts === 1 ? '' : 's'}, ended ${ended} run${ended === 1 ? '' : 's'}\n`,
        )
      }
      for (const skipped of result.skipped) {
        process.stderr.write(`wharf: skipped ${skipped.file}: ${skipped.reason}\n`)
      }
      for (const failure of result.failed) {
        process.stderr.write(`wharf: ${failure.file}: ${failure.error.message} (kept for the next sync)\n`)
      }
      if (result.failed.length > 0) {
        throw new WharfError(
          'SERVER_UNREACHABLE',
          `${result.failed.length} spool file(s) could not be sent; they are kept, run wharf sync again`,
        )
      }
    })
}
