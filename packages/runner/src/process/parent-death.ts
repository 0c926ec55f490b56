import { accessSync, constants, existsSync } from 'node:fs'
import path from 'node:path'

/** util-linux's setpriv, which every Debian has; undefined where it is missing (then nothing is tied). */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((candidate) => existsSync(candidate))

/**
 * `argv` started so that the kernel sends it `signal` when the runner dies, SIGKILL included (Linux's
 * parent-death signal, set by setpriv before it execs the program): a killed runner leaves no script
 * running with the run's token and no rclone mount behind. As given where setpriv is missing.
 */
export function tiedToRunner(argv: readonly string[], signal: 'KILL' | 'TERM'): string[] {
  return SETPRIV === undefined ? [...argv] : [SETPRIV, `--pdeathsig=${signal}`, '--', ...argv]
}

/**
 * Whether `program` can be started with `env`'s PATH: a path is checked as it is, a name is looked up.
 * Asked before a program is wrapped by {@link tiedToRunner}, which would otherwise turn "not found"
 * into setpriv's exit code 127.
 */
export function canExecute(program: string, env: Readonly<Record<string, string | undefined>>, cwd: string): boolean {
  const candidates = program.includes('/')
    ? [path.resolve(cwd, program)]
    : (env.PATH ?? '')
        .split(path.delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => path.join(dir, program))
  return candidates.some((candidate) => {
    try {
      accessSync(candidate, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}
