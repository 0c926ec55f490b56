import { closeSync, fstatSync, fsync, fsyncSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs'
import path from 'node:path'
import { WharfError } from '@wharf/contract'
import { encodeSpoolLine, fsyncDirectory, type SpoolRecord } from './spool-file.js'
import { lockSpoolFile, unlockSpoolFile } from './spool-lock.js'

/**
 * The append side of one writer's spool file. Appends are synchronous so the lines land in the file
 * in the order the batches were made, even when the process exits right after; each append is then
 * fsynced in the background (coalesced), so a crash of the machine loses at most the last moment.
 */
export class SpoolWriter {
  readonly file: string
  #fd: number | undefined
  #written: number
  #syncing = false
  #dirty = false
  #closeWhenSynced = false
  #needsNewline = false
  #closed = false

  private constructor(file: string, fd: number) {
    this.file = file
    this.#fd = fd
    this.#written = fstatSync(fd).size
  }

  /** Creates (or reopens) the file under its lock; throws when another live process holds it. */
  static open(file: string): SpoolWriter {
    mkdirSync(path.dirname(file), { recursive: true })
    const lock = lockSpoolFile(file)
    if (!lock.locked) {
      throw new WharfError(
        'INTERNAL',
        `the spool file ${file} is ${lock.reason}; give every logger its own writerId (the default is unique)`,
      )
    }
    try {
      const writer = new SpoolWriter(file, openSync(file, 'a'))
      fsyncDirectory(path.dirname(file))
      return writer
    } catch (error) {
      unlockSpoolFile(file)
      throw error
    }
  }

  /** Bytes in the file, as far as this writer knows (everything before is complete lines). */
  get written(): number {
    return this.#written
  }

  /** Appends records, in order, as lines; throws the I/O error when the disk refuses. */
  append(records: readonly SpoolRecord[]): void {
    const fd = this.#fd
    if (fd === undefined || this.#closed) throw new WharfError('INTERNAL', `the spool file ${this.file} is already closed`)
    let text = this.#needsNewline ? '\n' : ''
    for (const record of records) text += encodeSpoolLine(record)
    const bytes = Buffer.from(text, 'utf8')
    try {
      let done = 0
      while (done < bytes.length) done += writeSync(fd, bytes, done)
      this.#needsNewline = false
      this.#written += bytes.length
    } catch (error) {
      // A partial line may be in the file: start the next append on a fresh line, and trust the size.
      this.#needsNewline = true
      try {
        this.#written = fstatSync(fd).size
      } catch {
        // Keep the old count; a torn line is skipped on replay.
      }
      throw error
    }
    this.#scheduleSync()
  }

  #scheduleSync(): void {
    if (this.#syncing) {
      this.#dirty = true
      return
    }
    const fd = this.#fd
    if (fd === undefined) return
    this.#syncing = true
    this.#dirty = false
    fsync(fd, () => {
      this.#syncing = false
      if (this.#closeWhenSynced) this.#closeFd()
      else if (this.#dirty) this.#scheduleSync()
    })
  }

  /** Fsyncs now, on this thread (for exit paths, where a background fsync would never finish). */
  syncNow(): void {
    if (this.#fd === undefined) return
    try {
      fsyncSync(this.#fd)
    } catch {
      // The data is in the page cache already; only a machine crash could lose it now.
    }
  }

  #closeFd(): void {
    if (this.#fd === undefined) return
    try {
      closeSync(this.#fd)
    } catch {
      // Nothing left to do with a descriptor that will not close.
    }
    this.#fd = undefined
  }

  /**
   * Stops appending and releases the lock; `remove` deletes the file (every line in it is stored),
   * otherwise it is fsynced and kept for a later replay. `atExit` closes at once, whatever is running.
   */
  close(options: { remove: boolean; atExit?: boolean }): void {
    if (this.#closed) return
    this.#closed = true
    if (options.remove) {
      try {
        unlinkSync(this.file)
      } catch {
        // Already gone.
      }
    } else {
      this.syncNow()
    }
    // A background fsync still holds the descriptor: close it when that returns, not under it.
    if (this.#syncing && options.atExit !== true) this.#closeWhenSynced = true
    else this.#closeFd()
    unlockSpoolFile(this.file)
  }
}
