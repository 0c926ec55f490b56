import { createHash } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'

/** Hex SHA-256 of some bytes. */
export const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex')

/** Every file under `root`, as its `/`-separated relative path → the SHA-256 of its content. */
export async function treeOf(root: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const entry of await readdir(path.join(root, prefix), { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name
    if (entry.isDirectory()) Object.assign(out, await treeOf(root, relative))
    else out[relative] = sha256(await readFile(path.join(root, relative)))
  }
  return out
}
