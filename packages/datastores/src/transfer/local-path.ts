import path from 'node:path'
import { WharfError, printable } from '@wharf/contract'
import { toDatastoreKey, toKeyPrefix } from '../key.js'

/** Drops leading `./` and `/` (the user means a path inside the datastore, not an absolute one); `.` is the root. */
export function stripLeading(raw: string): string {
  let text = raw
  for (;;) {
    const next = text.replace(/^\/+/, '').replace(/^\.\/+/, '')
    if (next === text) return text === '.' ? '' : text
    text = next
  }
}

/**
 * A download prefix as a listing prefix: `\` becomes `/`, leading `./` and `/` are dropped (`./data`,
 * `/data` and `data` are the same prefix). Throws UNSAFE_PATH for `..` and the like.
 */
export function downloadPrefixOf(raw: string | undefined): string {
  if (raw === undefined) return ''
  if (typeof raw !== 'string') throw new WharfError('INVALID_ARGUMENT', 'the download prefix must be a string')
  return toKeyPrefix(stripLeading(raw.replaceAll('\\', '/')))
}

/**
 * Where a listed key goes below the target folder, `/`-separated: the whole key, or with `stripPrefix`
 * the key without the prefix's folders. For prefix `a/b`: `a/b/c.txt` → `c.txt`, `a/bc.txt` (a sibling
 * the string prefix also matches) → `bc.txt`, and a file `a/b` itself → `b`.
 */
export function localRelativeOf(key: string, options: { prefix: string; stripPrefix: boolean }): string {
  const { prefix, stripPrefix } = options
  if (!stripPrefix || prefix === '') return key
  const folder = prefix.endsWith('/') ? prefix : `${prefix}/`
  if (key.startsWith(folder)) return key.slice(folder.length)
  return key.slice(prefix.lastIndexOf('/') + 1)
}

/**
 * The local path of a listed key below `targetDir` (at `relative` when given, else as {@link localRelativeOf}
 * places it). Throws UNSAFE_PATH when the key is not a valid, normalised key (a storage behind a proxy
 * might send anything) or its path would leave `targetDir`.
 */
export function localPathOf(
  key: string,
  options: { targetDir: string; prefix: string; stripPrefix: boolean; relative?: string | undefined },
): { relative: string; localPath: string } {
  let valid: string | undefined
  try {
    valid = toDatastoreKey(key)
  } catch {
    valid = undefined
  }
  if (valid !== key) {
    throw new WharfError(
      'UNSAFE_PATH',
      `the storage listed "${printable(key)}", which is not a safe, normalised key; it was not downloaded`,
      {
        details: { key: printable(key, 1024) },
      },
    )
  }
  const relative = options.relative ?? localRelativeOf(key, options)
  const localPath = path.join(options.targetDir, ...relative.split('/'))
  const inside = path.relative(options.targetDir, localPath)
  if (relative === '' || inside === '' || inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
    throw new WharfError('UNSAFE_PATH', `"${printable(key)}" would be written outside the target folder; it was not downloaded`, {
      details: { key: printable(key, 1024) },
    })
  }
  return { relative, localPath }
}
