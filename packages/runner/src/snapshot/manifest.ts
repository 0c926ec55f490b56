import type { Dirent, Stats } from 'node:fs'
import { open, readdir, realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import { DEFAULT_LIMITS, WharfError, printable, type Limits, type SnapshotFile } from '@wharf/contract'
import { digestOfFile, runPool } from '@wharf/datastores'
import { formatBytes } from '@wharf/sdk'
import { IGNORE_FILE_NAMES, isLeftOut, readFolderRules, type FolderRules } from './ignore-rules.js'

/** One file of a snapshot, with where it lies on this machine. */
export interface ManifestFile extends SnapshotFile {
  localPath: string
}

/** What {@link buildSnapshotManifest} found in a source folder. */
export interface SnapshotManifest {
  /** The source folder (absolute). */
  root: string
  /** Files in path order (UTF-8 byte order), each with its sha256. */
  files: ManifestFile[]
  totalBytes: number
  /** The ignore file the root folder's rules came from, or undefined when it has none. */
  ignoreFile: string | undefined
}

/** Options for {@link buildSnapshotManifest}. */
export interface BuildManifestOptions {
  /** The limits checked before any file is hashed (the server's; DEFAULT_LIMITS when absent). */
  limits?: Pick<Limits, 'snapshotBytes' | 'snapshotFiles'>
  signal?: AbortSignal
}

/** Files hashed at the same time: small source files are bound by opens, not by the hash. */
const HASH_CONCURRENCY = 16
/** Largest files named by a limit error. */
const LARGEST_NAMED = 5

interface Found {
  localPath: string
  relativePath: string
  size: number
  executable: boolean
}

/**
 * The snapshot of `folder`: every file the ignore files leave in (`.git/` always out), with its size,
 * sha256 and executable bit. Checks the file-count and size limits before hashing anything and throws
 * LIMIT_EXCEEDED naming the largest files and the ignore file to write; FILE_NOT_FOUND for a missing folder.
 */
export async function buildSnapshotManifest(folder: string, options: BuildManifestOptions = {}): Promise<SnapshotManifest> {
  const root = path.resolve(folder)
  const limits = options.limits ?? DEFAULT_LIMITS
  let info: Stats
  try {
    info = await stat(root)
  } catch (cause) {
    throw new WharfError('FILE_NOT_FOUND', `the source folder "${printable(root, 400)}" does not exist; check the path`, {
      cause,
    })
  }
  if (!info.isDirectory()) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `the source "${printable(root, 400)}" is a file; give the folder that holds the script`,
    )
  }
  const found: Found[] = []
  const rootRules = await readFolderRules(root, '')
  await walk(
    { folder: root, relative: '', rules: rootRules ? [rootRules] : [], ancestors: new Set([await realpath(root)]) },
    found,
    options.signal,
  )
  const order = new Map(found.map((file) => [file, Buffer.from(file.relativePath)]))
  found.sort((a, b) => Buffer.compare(order.get(a) as Buffer, order.get(b) as Buffer))
  const totalBytes = found.reduce((sum, file) => sum + file.size, 0)
  checkLimits({ root, found, totalBytes, limits, ignoreFile: rootRules?.file })
  const files: ManifestFile[] = new Array<ManifestFile>(found.length)
  const indexes = found.map((_, i) => i)
  await runPool(indexes, { concurrency: HASH_CONCURRENCY, signal: options.signal }, async (i) => {
    const file = found[i] as Found
    const handle = await open(file.localPath, 'r')
    try {
      const sha256 = await digestOfFile(handle, { algorithm: 'sha256', signal: options.signal })
      files[i] = {
        path: file.relativePath,
        sha256,
        size: file.size,
        localPath: file.localPath,
        ...(file.executable ? { executable: true } : {}),
      }
    } finally {
      await handle.close()
    }
  })
  return { root, files, totalBytes, ignoreFile: rootRules?.file }
}

interface WalkAt {
  folder: string
  relative: string
  rules: FolderRules[]
  ancestors: ReadonlySet<string>
}

async function walk(at: WalkAt, found: Found[], signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted()
  const entries: Dirent[] = await readdir(at.folder, { withFileTypes: true })
  const folders: WalkAt[] = []
  await Promise.all(
    entries.map(async (entry) => {
      const localPath = path.join(at.folder, entry.name)
      const relativePath = at.relative === '' ? entry.name : `${at.relative}/${entry.name}`
      let isFolder = entry.isDirectory()
      let info: Stats | undefined
      if (entry.isSymbolicLink()) {
        info = await stat(localPath).catch(() => undefined) // a link that leads nowhere is not a file
        if (info === undefined) return
        isFolder = info.isDirectory()
      } else if (!isFolder && !entry.isFile()) {
        return // sockets, pipes, devices
      }
      if (isLeftOut(at.rules, relativePath, isFolder)) return
      if (isFolder) {
        const real = await realpath(localPath).catch(() => undefined)
        if (real === undefined || at.ancestors.has(real)) return // a link back up the tree
        const own = await readFolderRules(localPath, relativePath)
        folders.push({
          folder: localPath,
          relative: relativePath,
          rules: own ? [...at.rules, own] : at.rules,
          ancestors: new Set(at.ancestors).add(real),
        })
        return
      }
      info ??= await stat(localPath)
      found.push({ localPath, relativePath, size: info.size, executable: (info.mode & 0o111) !== 0 })
    }),
  )
  for (const folder of folders) await walk(folder, found, signal)
}

function checkLimits(options: {
  root: string
  found: Found[]
  totalBytes: number
  limits: Pick<Limits, 'snapshotBytes' | 'snapshotFiles'>
  ignoreFile: string | undefined
}): void {
  const { root, found, totalBytes, limits, ignoreFile } = options
  const overFiles = found.length > limits.snapshotFiles
  const overBytes = totalBytes > limits.snapshotBytes
  if (!overFiles && !overBytes) return
  const largest = [...found].sort((a, b) => b.size - a.size).slice(0, LARGEST_NAMED)
  const named = largest.map((file) => `${printable(file.relativePath, 200)} (${formatBytes(file.size)})`).join(', ')
  const what = overBytes
    ? `${formatBytes(totalBytes)} in ${found.length} files, over the snapshot limit of ${formatBytes(limits.snapshotBytes)} (server limit "snapshotBytes")`
    : `${found.length} files, over the snapshot limit of ${limits.snapshotFiles} files (server limit "snapshotFiles")`
  const where = ignoreFile ?? IGNORE_FILE_NAMES[0]
  const howTo =
    ignoreFile === undefined
      ? `write a ${where} file (gitignore syntax) in the source folder listing what the run does not need (data, checkpoints, environments)`
      : `list what the run does not need (data, checkpoints, environments) in its ${where} (gitignore syntax), the ignore file in use`
  throw new WharfError(
    'LIMIT_EXCEEDED',
    `the source folder "${printable(root, 300)}" holds ${what}. The largest files: ${named}. ${howTo[0]?.toUpperCase()}${howTo.slice(1)}; pass data to the run as a datastore reference instead`,
    {
      details: {
        limit: overBytes ? 'snapshotBytes' : 'snapshotFiles',
        max: overBytes ? limits.snapshotBytes : limits.snapshotFiles,
        actual: overBytes ? totalBytes : found.length,
        ignoreFile: where,
        largestFiles: largest.map((file) => ({ path: file.relativePath, size: file.size })),
      },
    },
  )
}
