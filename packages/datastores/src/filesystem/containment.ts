import { lstat, mkdir, realpath } from 'node:fs/promises'
import path from 'node:path'
import { WharfError, printable } from '@wharf/contract'

/** True when the path `real` is `root` or lies below it (both already resolved). */
export function isInside(real: string, root: string): boolean {
  return real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep)
}

/**
 * Where `folder` really is: its real path when it exists, else the real path of its deepest existing
 * ancestor joined with the rest. A link anywhere on the way is followed, so a folder that does not exist
 * yet is judged by where `mkdir -p` would put it.
 */
export async function realPathAhead(folder: string): Promise<string> {
  const missing: string[] = []
  let current = path.resolve(folder)
  for (;;) {
    try {
      return path.join(await realpath(current), ...missing.reverse())
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const parent = path.dirname(current)
      if (code !== 'ENOENT' || parent === current) throw error
      // A link to nowhere: `mkdir -p` would create its target, wherever that is.
      if (
        await lstat(current).then(
          () => true,
          () => false,
        )
      )
        throw brokenLink(current, error)
      missing.push(path.basename(current))
      current = parent
    }
  }
}

function brokenLink(where: string, cause: unknown): WharfError {
  return new WharfError('FORBIDDEN', `"${printable(where, 200)}" is a link to nothing; a folder must not be created through it`, {
    cause,
    details: { field: 'path' },
  })
}

/** The real paths of the allowed roots; a root that does not exist keeps its own resolved path. */
async function realRoots(roots: readonly string[]): Promise<string[]> {
  return Promise.all(roots.map((root) => realPathAhead(root).catch(() => path.resolve(root))))
}

/**
 * Throws FORBIDDEN unless `folder`, links resolved (or, when it does not exist yet, the place `mkdir -p`
 * would create it), lies inside one of `roots`; resolves to that real path. Checked on every access, not
 * only at registration: a folder replaced by a link after registering must not lead outside.
 */
export async function assertFolderWithin(folder: string, roots: readonly string[]): Promise<string> {
  const real = await realPathAhead(folder)
  const allowed = await realRoots(roots)
  if (!allowed.some((root) => isInside(real, root))) {
    const where = real === path.resolve(folder) ? '' : ` (it leads to "${printable(real, 200)}")`
    throw new WharfError(
      'FORBIDDEN',
      `the folder "${printable(folder, 200)}"${where} is outside the folders this server serves (${roots.join(', ')}); ` +
        'set WHARF_FILESYSTEM_ROOTS on the server to allow another folder',
      { details: { field: 'path' } },
    )
  }
  return real
}

/**
 * `mkdir -p` that never follows a link out of `roots`: the deepest existing ancestor is resolved and
 * checked first, and the missing folders are created below its real path. Resolves to the real path.
 */
export async function makeFolderWithin(folder: string, roots: readonly string[]): Promise<string> {
  const real = await assertFolderWithin(folder, roots)
  await mkdir(real, { recursive: true })
  // A link swapped in between the check and the mkdir would show here.
  return assertFolderWithin(folder, roots)
}
