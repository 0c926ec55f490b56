import type { Dirent, Stats } from 'node:fs'
import { readdir, realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import { WharfError, printable } from '@wharf/contract'
import { RESERVED_SEGMENT_PREFIX } from '../key.js'
import { systemCodeOf } from './failure.js'

/** One file found by {@link listLocalFiles}. */
export interface LocalFile {
  /** Absolute path of the file. */
  localPath: string
  /** Path below the listed folder, `/`-separated. */
  relativePath: string
  size: number
}

/** Files stat'ed at the same time while walking a folder. */
const STAT_CONCURRENCY = 64

/**
 * Every file under `srcDir`, recursively, sorted by relative path (in UTF-8 byte order, the order
 * datastores list keys in). Symbolic links are followed (a link back up the tree is not); files left by
 * an interrupted download (`.wharf-tmp-…`) are left out. Rejects with FILE_NOT_FOUND for a missing
 * folder, INVALID_ARGUMENT when it is a file, FORBIDDEN when it (or a folder inside) cannot be read.
 */
export async function listLocalFiles(srcDir: string, options: { signal?: AbortSignal } = {}): Promise<LocalFile[]> {
  if (typeof srcDir !== 'string' || srcDir === '') {
    throw new WharfError('INVALID_ARGUMENT', 'listing local files needs the path of a folder')
  }
  const { signal } = options
  const root = path.resolve(srcDir)
  let real: string
  let info: Stats
  try {
    real = await realpath(root)
    info = await stat(real)
  } catch (error) {
    throw folderError(error, root)
  }
  if (!info.isDirectory()) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `"${printable(root, 400)}" is a file, not a folder; give the folder that holds the files to upload`,
      {
        details: { path: printable(root, 1024) },
      },
    )
  }
  const files: LocalFile[] = []
  await walk({ folder: root, real, relative: '', ancestors: new Set([real]), files, signal })
  const order = new Map(files.map((file) => [file, Buffer.from(file.relativePath)]))
  files.sort((a, b) => Buffer.compare(order.get(a) ?? Buffer.alloc(0), order.get(b) ?? Buffer.alloc(0)))
  return files
}

interface Walk {
  folder: string
  real: string
  relative: string
  ancestors: ReadonlySet<string>
  files: LocalFile[]
  signal: AbortSignal | undefined
}

async function walk(at: Walk): Promise<void> {
  at.signal?.throwIfAborted()
  let entries: Dirent[]
  try {
    entries = await readdir(at.folder, { withFileTypes: true })
  } catch (error) {
    // A folder removed while the walk was on its way holds no files any more.
    if (at.relative !== '' && systemCodeOf(error) === 'ENOENT') return
    throw folderError(error, at.folder)
  }
  const folders: Walk[] = []
  const candidates = entries.filter((entry) => !entry.name.startsWith(RESERVED_SEGMENT_PREFIX))
  for (let i = 0; i < candidates.length; i += STAT_CONCURRENCY) {
    const batch = candidates.slice(i, i + STAT_CONCURRENCY)
    const found = await Promise.all(batch.map((entry) => entryOf(entry, at)))
    for (const item of found) {
      if (item?.kind === 'file') at.files.push(item.file)
      if (item?.kind === 'folder') folders.push(item.walk)
    }
  }
  for (const folder of folders) await walk(folder)
}

type Found = { kind: 'file'; file: LocalFile } | { kind: 'folder'; walk: Walk } | undefined

async function entryOf(entry: Dirent, at: Walk): Promise<Found> {
  const localPath = path.join(at.folder, entry.name)
  const relativePath = at.relative === '' ? entry.name : `${at.relative}/${entry.name}`
  const folderWalk = (real: string): Walk => ({
    ...at,
    folder: localPath,
    real,
    relative: relativePath,
    ancestors: new Set(at.ancestors).add(real),
  })
  if (entry.isDirectory()) return { kind: 'folder', walk: folderWalk(path.join(at.real, entry.name)) }
  if (!entry.isFile() && !entry.isSymbolicLink()) return undefined // sockets, pipes, devices: not files to upload
  let info: Stats
  try {
    info = await stat(localPath)
  } catch {
    return undefined // gone since the folder was read, or a link that leads nowhere
  }
  if (info.isFile()) return { kind: 'file', file: { localPath, relativePath, size: info.size } }
  if (!info.isDirectory()) return undefined
  const real = await realpath(localPath).catch(() => undefined)
  // A link to a folder above it would make the walk endless.
  if (real === undefined || at.ancestors.has(real)) return undefined
  return { kind: 'folder', walk: folderWalk(real) }
}

function folderError(error: unknown, folder: string): WharfError {
  const code = systemCodeOf(error)
  const named = `the folder "${printable(folder, 400)}"`
  const details = { path: printable(folder, 1024) }
  if (code === 'ENOENT')
    return new WharfError('FILE_NOT_FOUND', `${named} does not exist; check the path`, { details, cause: error })
  if (code === 'ENOTDIR')
    return new WharfError('INVALID_ARGUMENT', `${named} is not a folder; check the path`, { details, cause: error })
  if (code === 'EACCES' || code === 'EPERM') {
    return new WharfError('FORBIDDEN', `${named} cannot be read (${code}: permission denied); give read access to it`, {
      details,
      cause: error,
    })
  }
  const reason = error instanceof Error ? error.message : String(error)
  return new WharfError('INTERNAL', `${named} could not be read [${code ?? 'error'}: ${reason}]`, { details, cause: error })
}
