import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { DatastoreDriver, GetOptions, PutOptions } from '../../driver.js'
import type { DatastoreKey } from '../../key.js'
import { generatedChunks } from '../../test-support/driver-contract.js'

/** A fresh temp folder and a way to remove it. */
export async function tempFolder(label: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `wharf-transfer-${label}-`))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** Writes `files` (relative `/` paths → content) below `dir`, creating folders; resolves with their absolute paths in the order given. */
export async function writeFiles(dir: string, files: Record<string, string | Buffer>): Promise<string[]> {
  const written: string[] = []
  for (const [relative, content] of Object.entries(files)) {
    const target = path.join(dir, ...relative.split('/'))
    await mkdir(path.dirname(target), { recursive: true })
    await writeFile(target, content)
    written.push(target)
  }
  return written
}

/** Writes `size` pseudo-random bytes from `seed` to `target`, streamed. */
export async function writeGenerated(target: string, options: { size: number; seed: number }): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true })
  await pipeline(Readable.from(generatedChunks(options.size, options.seed)), createWriteStream(target))
}

/** Hex SHA-256 of a local file, streamed. */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Every file below `dir` (relative `/` paths, sorted), temp files included. */
export async function filesBelow(dir: string): Promise<string[]> {
  const found: string[] = []
  const walk = async (folder: string, relative: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const rel = relative === '' ? entry.name : `${relative}/${entry.name}`
      if (entry.isDirectory()) await walk(path.join(folder, entry.name), rel)
      else found.push(rel)
    }
  }
  await walk(dir, '')
  return found.sort()
}

/** What a {@link recordingDriver} saw. */
export interface Recorded {
  puts: string[]
  gets: { key: string; range?: { start: number; end?: number } }[]
  stats: string[]
  lists: string[]
}

/**
 * The real `driver`, unchanged, with every call written down (and an optional hook after each put and
 * before each get), so a test can tell what the engine asked the storage for.
 */
export function recordingDriver(
  driver: DatastoreDriver,
  hooks: { afterPut?: (key: string) => void; beforeGet?: (key: string, options: GetOptions) => void } = {},
): { driver: DatastoreDriver; recorded: Recorded } {
  const recorded: Recorded = { puts: [], gets: [], stats: [], lists: [] }
  const recording: DatastoreDriver = {
    kind: driver.kind,
    async put(key: DatastoreKey, body: Readable, options?: PutOptions) {
      const result = await driver.put(key, body, options)
      recorded.puts.push(key)
      hooks.afterPut?.(key)
      return result
    },
    get(key, options = {}) {
      recorded.gets.push({ key, ...(options.range ? { range: options.range } : {}) })
      hooks.beforeGet?.(key, options)
      return driver.get(key, options)
    },
    stat(key, options) {
      recorded.stats.push(key)
      return driver.stat(key, options)
    },
    delete: (key, options) => driver.delete(key, options),
    list(options = {}) {
      recorded.lists.push(options.prefix ?? '')
      return driver.list(options)
    },
    validate: (options) => driver.validate(options),
  }
  return { driver: recording, recorded }
}
