import path from 'node:path'
import { WharfError, printable } from '@wharf/contract'
import { toKeyPrefix } from '../key.js'
import { stripLeading } from './local-path.js'

/** One local file and the datastore key it is uploaded to. */
export interface UploadItem {
  localPath: string
  /** Datastore key, `/`-separated. */
  key: string
  /**
   * The size already learned (from {@link listLocalFiles}), so planning does not stat the file again.
   * A file whose size changed since is still caught when it is sent.
   */
  size?: number
}

/** Options for {@link planUploadKeys}. */
export interface PlanUploadKeysOptions {
  /** The folder the keys are relative to; it must hold every file. Default: the files' common folder. */
  relativeRoot?: string
  /** The datastore folder the keys go under; default the datastore's root. */
  targetPath?: string
}

/**
 * The keys of `files` the way Azure ML's `upload_files` makes them: key = targetPath + the file's path
 * below relativeRoot (`/to/file.txt` with root `/path` becomes `to/file.txt`). Paths are resolved against
 * the working directory. Throws INVALID_ARGUMENT naming the first file outside relativeRoot, and
 * UNSAFE_PATH for a targetPath that is not a safe datastore path. Keys themselves are checked by the
 * upload, where an unsafe one fails only that file.
 */
export function planUploadKeys(files: readonly string[], options: PlanUploadKeysOptions = {}): UploadItem[] {
  const given: readonly unknown[] = Array.isArray(files) ? files : [undefined]
  if (given.some((file) => typeof file !== 'string' || file === '')) {
    throw new WharfError('INVALID_ARGUMENT', 'the files to upload must be a list of non-empty local paths')
  }
  if (files.length === 0) return []
  const resolved = files.map((file) => path.resolve(file))
  const root =
    options.relativeRoot === undefined || options.relativeRoot === ''
      ? commonFolder(resolved)
      : path.resolve(options.relativeRoot)
  const target = targetPrefixOf(options.targetPath ?? '')
  return resolved.map((localPath) => {
    const relative = path.relative(root, localPath)
    if (relative === '' || relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `the file "${printable(localPath, 400)}" is not inside the relative root "${printable(root, 400)}"; choose a relativeRoot that holds every file, or leave it out to use their common folder`,
        { details: { file: printable(localPath, 1024), relativeRoot: printable(root, 1024) } },
      )
    }
    return { localPath, key: target + relative.split(path.sep).join('/') }
  })
}

/** The deepest folder that holds all of the (absolute, resolved) files. */
function commonFolder(files: readonly string[]): string {
  const folders = files.map((file) => path.dirname(file))
  let common = folders[0] ?? path.resolve('.')
  for (const folder of folders) {
    while (common !== folder && !folder.startsWith(common.endsWith(path.sep) ? common : common + path.sep)) {
      const parent = path.dirname(common)
      if (parent === common) break
      common = parent
    }
  }
  return common
}

/** `targetPath` as a key prefix ending in `/` (or empty for the datastore's root); `./` and leading `/` are dropped. */
function targetPrefixOf(raw: string): string {
  if (typeof raw !== 'string') throw new WharfError('INVALID_ARGUMENT', 'the target path must be a string')
  const trimmed = stripLeading(raw.replaceAll('\\', '/')).replace(/\/+$/, '')
  if (trimmed === '' || trimmed === '.') return ''
  return `${toKeyPrefix(trimmed)}/`
}
