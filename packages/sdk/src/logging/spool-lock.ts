import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'

// Who owns a spool file: its writer while it appends, or one replay at a time. The owner is the
// process whose id is in `<file>.lock`; a lock left by a process that is gone is taken over.

/** Spool files this process has locked (a live logger's own file, or one being replayed). */
const heldLocks = new Set<string>()

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readLockPid(lockFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockFile, 'utf8'), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * Takes the lock of a spool file (`<file>.lock` holding this process's id), so that no one replays a
 * file its writer still appends to, and two replays do not work on one file. A lock left by a process
 * that no longer exists is taken over. Returns why not when the file is in use.
 */
export function lockSpoolFile(file: string): { locked: true } | { locked: false; reason: string } {
  if (heldLocks.has(file)) return { locked: false, reason: 'in use in this process' }
  const lockFile = `${file}.lock`
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx')
      try {
        writeSync(fd, `${process.pid}\n`)
      } finally {
        closeSync(fd)
      }
      heldLocks.add(file)
      return { locked: true }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const pid = readLockPid(lockFile)
    if (pid !== undefined && pid !== process.pid && isProcessAlive(pid)) {
      return { locked: false, reason: `in use by process ${pid}` }
    }
    // The lock's owner is gone (a crash or a kill): the file is orphaned and ours to take.
    try {
      unlinkSync(lockFile)
    } catch {
      // Someone else took it over first; the next attempt finds out.
    }
  }
  return { locked: false, reason: 'its lock changed hands while taking it' }
}

/** Releases a lock taken with {@link lockSpoolFile}. */
export function unlockSpoolFile(file: string): void {
  if (!heldLocks.delete(file)) return
  try {
    unlinkSync(`${file}.lock`)
  } catch {
    // Already gone: nothing to release.
  }
}
