import { spawn, type ChildProcess } from 'node:child_process'
import { WharfError, printable } from '@wharf/contract'
import { canExecute, tiedToRunner } from './parent-death.js'

/** How a script process ended. */
export interface ScriptExit {
  /** The exit code, or null when a signal ended it. */
  code: number | null
  signal: NodeJS.Signals | null
}

/** Options for {@link startScript}. */
export interface StartScriptOptions {
  argv: readonly string[]
  cwd: string
  env: Record<string, string>
  /** Hears stdout and stderr in the order the bytes arrive. */
  onOutput: (chunk: Buffer, stream: 'stdout' | 'stderr') => void
}

/** A running script in its own process group; see {@link startScript}. */
export interface ScriptProcess {
  readonly pid: number
  /**
   * Resolves once the process ended and its output was read (for at most a moment), after every
   * process still left in its group was killed (SIGKILL).
   */
  readonly exited: Promise<ScriptExit>
  /**
   * Stops the script's whole process group: SIGTERM, then SIGKILL after `graceMs` for whatever is still
   * alive. Resolves once the script ended. Calling it again (or after the end) is harmless.
   */
  stop(options: { graceMs: number }): Promise<ScriptExit>
}

/** How long output is still read after the script exited (a child it left may hold the pipes). */
const DRAIN_MS = 2000

/**
 * Starts a script as the leader of a new process group (so a stop reaches every process it started),
 * with stdin closed and stdout/stderr piped to `onOutput`. Rejects with INVALID_ARGUMENT naming the
 * program when it cannot be started (not found, not executable).
 */
export async function startScript(options: StartScriptOptions): Promise<ScriptProcess> {
  const [program] = options.argv
  if (program === undefined) throw new WharfError('INVALID_ARGUMENT', 'the run has an empty command')
  if (!canExecute(program, options.env, options.cwd)) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `the run's program "${printable(program, 300)}" could not be started: it was not found or is not executable; check the script or command`,
    )
  }
  // The script dies with the runner, even a SIGKILLed one: it must not run on, holding the run's token.
  const [launcher, ...args] = tiedToRunner(options.argv, 'KILL') as [string, ...string[]]
  const child: ChildProcess = spawn(launcher, args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'ENOENT' ? 'it was not found' : error.code === 'EACCES' ? 'it is not executable' : error.message
      reject(
        new WharfError(
          'INVALID_ARGUMENT',
          `the run's program "${printable(program, 300)}" could not be started: ${why}; check the script or command`,
          {
            cause: error,
          },
        ),
      )
    })
  })
  const pid = child.pid as number
  child.stdout?.on('data', (chunk: Buffer) => options.onOutput(chunk, 'stdout'))
  child.stderr?.on('data', (chunk: Buffer) => options.onOutput(chunk, 'stderr'))
  const streamsClosed = Promise.all(
    [child.stdout, child.stderr].map((stream) =>
      stream ? new Promise<void>((resolve) => stream.once('close', () => resolve())) : Promise.resolve(),
    ),
  )
  const ended = new Promise<ScriptExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const exited = ended.then(async (exit) => {
    // A process the script left behind may keep the pipes open: read for a moment, then clear the group.
    let timer: NodeJS.Timeout | undefined
    const drained = await Promise.race([
      streamsClosed.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), DRAIN_MS))),
    ])
    clearTimeout(timer)
    // Always: a background process the script started (its output sent elsewhere or not) must not
    // outlive the run, which ends with its run token still in that process's environment.
    signalGroup(pid, 'SIGKILL')
    if (!drained) {
      child.stdout?.destroy()
      child.stderr?.destroy()
    }
    return exit
  })
  let stopping: Promise<ScriptExit> | undefined
  return {
    pid,
    exited,
    stop({ graceMs }) {
      stopping ??= (async () => {
        signalGroup(pid, 'SIGTERM')
        const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs)
        try {
          return await exited
        } finally {
          clearTimeout(timer)
        }
      })()
      return stopping
    },
  }
}

/** Sends `signal` to the process group led by `pid`; a group already gone is fine. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // ESRCH: every process of the group has ended.
  }
}
