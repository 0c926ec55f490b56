import { encodePath } from '@wharf/client'
import { ROUTES, routePath } from '@wharf/contract'

/** The server path that downloads one file of an asset version (for a DownloadLink). */
export function assetFileUrl(file: { workspace: string; asset: string; version: number; path: string }): string {
  const base = routePath(ROUTES.downloadAssetFile.path, {
    workspace: file.workspace,
    asset: file.asset,
    version: String(file.version),
  })
  return base.slice(0, -1) + encodePath(file.path)
}

/** The last part of a path, the name a downloaded file is saved under. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

/** Tags in key order, as the page lists them. */
export function sortedTags(tags: Record<string, string>): [string, string][] {
  return Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/** How a tag reads on its badge: `key=value`, or the key alone when the value is empty. */
export function tagLabel(key: string, value: string): string {
  return value === '' ? key : `${key}=${value}`
}

/**
 * A typed tag split at its first `=` (`key` alone is an empty value), both sides trimmed as the promote
 * form trims them; undefined for blank text. The key may come out empty (`=x`): the caller says so.
 */
export function parseTag(text: string): { key: string; value: string } | undefined {
  const trimmed = text.trim()
  if (trimmed === '') return undefined
  const eq = trimmed.indexOf('=')
  return eq < 0 ? { key: trimmed, value: '' } : { key: trimmed.slice(0, eq).trim(), value: trimmed.slice(eq + 1).trim() }
}
