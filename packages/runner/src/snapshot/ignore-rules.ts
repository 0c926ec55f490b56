import { readFile } from 'node:fs/promises'
import path from 'node:path'
import ignore, { type Ignore } from 'ignore'

/** The ignore files a snapshot honours, first found wins in each folder: Wharf's, Azure ML's, git's. */
export const IGNORE_FILE_NAMES = ['.wharfignore', '.amlignore', '.gitignore'] as const

/**
 * Folders never part of a snapshot, at any depth, whatever the ignore files say (a `!` rule cannot bring
 * them back): `.git`, and `.wharf`, whose `config.json` (written by `wharf workspace init --token`) holds
 * the server's auth token and must never reach a snapshot, a working folder or `run show --snapshot`.
 */
const ALWAYS_LEFT_OUT = new Set(['.git', '.wharf'])

/** The rules of one folder's ignore file; patterns are relative to that folder, as git reads them. */
export interface FolderRules {
  /** The folder, relative to the snapshot root (`/`-separated, '' for the root). */
  readonly base: string
  /** The ignore file the rules came from (its name). */
  readonly file: (typeof IGNORE_FILE_NAMES)[number]
  readonly matcher: Ignore
}

/**
 * The rules of the first ignore file found in `folder` (`.wharfignore`, else `.amlignore`, else
 * `.gitignore`), or undefined when it has none.
 */
export async function readFolderRules(folder: string, base: string): Promise<FolderRules | undefined> {
  for (const file of IGNORE_FILE_NAMES) {
    let text: string
    try {
      text = await readFile(path.join(folder, file), 'utf8')
    } catch {
      continue
    }
    return { base, file, matcher: ignore({ allowRelativePaths: true }).add(text) }
  }
  return undefined
}

/**
 * Whether the entry at `relativePath` (from the snapshot root) is left out: a `.git` or `.wharf` folder always; otherwise
 * the deepest ignore file with a rule on it decides (so a nested file can re-include with `!`), as in git.
 */
export function isLeftOut(rules: readonly FolderRules[], relativePath: string, isFolder: boolean): boolean {
  const name = relativePath.slice(relativePath.lastIndexOf('/') + 1)
  if (isFolder && ALWAYS_LEFT_OUT.has(name)) return true
  let ignored = false
  for (const rule of rules) {
    const inside = rule.base === '' ? relativePath : relativePath.slice(rule.base.length + 1)
    const result = rule.matcher.test(isFolder ? `${inside}/` : inside)
    if (result.ignored) ignored = true
    else if (result.unignored) ignored = false
  }
  return ignored
}
