import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { WharfError } from '@wharf/contract'
import { runnerBinArgs } from '../process/node-paths.js'
import type { ComputeTarget, LaunchOptions } from './compute-target.js'

/** Options for {@link localComputeTarget}. */
export interface LocalComputeTargetOptions {
  /** Wharf's folder on this machine; runs go under `<wharfHome>/runs/<runId>/`. */
  wharfHome: string
  /** The environment the runner starts from (PATH, HOME…); this process's when absent. WHARF_* and AZUREML_* are never passed on. */
  env?: Readonly<Record<string, string | undefined>>
  /** Keep each run's working folder after it ends (to look at what the script left); removed by default. */
  keepWorkingFolder?: boolean
}

/**
 * The `local` compute target: the runner as a detached Node process on this machine, outliving the
 * submitting process, its output in `<wharfHome>/runs/<runId>/runner.log`.
 */
export function localComputeTarget(options: LocalComputeTargetOptions): ComputeTarget {
  return {
    name: 'local',
    async launch(launch: LaunchOptions): Promise<void> {
      launch.signal?.throwIfAborted()
      const runFolder = path.join(options.wharfHome, 'runs', launch.runId)
      await mkdir(runFolder, { recursive: true })
      const env: Record<string, string> = {}
      for (const [key, value] of Object.entries(options.env ?? process.env)) {
        // The submitter's own credentials and run settings stay with it: the runner acts with the run token only.
        if (value === undefined || key.startsWith('WHARF_') || key.startsWith('AZUREML_')) continue
        env[key] = value
      }
      Object.assign(env, launch.env, { WHARF_HOME: options.wharfHome })
      if (options.keepWorkingFolder === true) env.WHARF_KEEP_WORKING_FOLDER = '1'
      // Same machine: the runner may copy unchanged files from the source folder (hash-checked).
      if (launch.sourceDirectory !== undefined) env.WHARF_LOCAL_SOURCE = launch.sourceDirectory
      const log = openSync(path.join(runFolder, 'runner.log'), 'a')
      try {
        const child = spawn(process.execPath, runnerBinArgs(), {
          cwd: runFolder,
          env,
          detached: true,
          stdio: ['ignore', log, log],
        })
        await new Promise<void>((resolve, reject) => {
          child.once('spawn', resolve)
          child.once('error', (cause) =>
            reject(
              new WharfError('INTERNAL', `the runner of run ${launch.runId} could not be started: ${cause.message}`, { cause }),
            ),
          )
        })
        child.unref()
      } finally {
        closeSync(log)
      }
    },
  }
}
