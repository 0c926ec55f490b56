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
