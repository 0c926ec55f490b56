import path from 'node:path'
import { downloadVerified, requireAllPlaced, serverFile } from '@wharf/sdk'

/** One file the server keeps with its sha256 (an artifact, an asset's file), and how to fetch it (or a range of it). */
export interface ServerFileItem {
  path: string
  size: number
  sha256: string
  fetch: Parameters<typeof serverFile>[0]['fetch']
}

/** What happened to one file. */
export interface DownloadOutcome {
  path: string
  file: string
  size: number
  sha256: string
  /** `downloaded`, or `unchanged` when an identical file (same sha256) was there already. */
  result: 'downloaded' | 'unchanged'
}

/**
 * Downloads `items` under `dir`, keeping their paths, through the SDK's one verified download, with its
 * progress bar when stderr is a terminal. Identical files are left alone; different ones are replaced
 * only with `overwrite`, else the command fails with FILE_EXISTS naming them (the rest are in place).
 */
export async function downloadAll(
  items: readonly ServerFileItem[],
  options: { dir: string; overwrite: boolean },
): Promise<DownloadOutcome[]> {
  const root = path.resolve(options.dir)
  const localPathOf = (key: string): string => path.join(root, ...key.split('/'))
  const unchanged = new Set(await download(items, { root, overwrite: options.overwrite, localPathOf }))
  return items.map((item) => ({
    path: item.path,
    file: localPathOf(item.path),
    size: item.size,
    sha256: item.sha256,
    result: unchanged.has(item.path) ? 'unchanged' : 'downloaded',
  }))
}

/** Downloads one file to `target` (any file name) by the same rule; resolves once it is there. */
export async function downloadOneTo(target: string, item: ServerFileItem, options: { overwrite: boolean }): Promise<void> {
  const name = path.basename(target)
  await download([{ ...item, relative: name }], {
    root: path.dirname(target),
    overwrite: options.overwrite,
    localPathOf: () => target,
  })
}

/** The SDK's verified download of `items` under `root`; resolves with the keys found unchanged. */
async function download(
  items: readonly (ServerFileItem & { relative?: string })[],
  options: { root: string; overwrite: boolean; localPathOf: (key: string) => string },
): Promise<string[]> {
  const result = await downloadVerified(
    {
      files: items.map((item) =>
        serverFile({
          key: item.path,
          size: item.size,
          sha256: item.sha256,
          fetch: item.fetch,
          ...(item.relative !== undefined ? { relative: item.relative } : {}),
        }),
      ),
    },
    {
      targetDir: options.root,
      overwrite: options.overwrite,
      ...(process.stderr.isTTY === true ? { progress: { title: 'Downloading', summary: false } } : {}),
    },
  )
  requireAllPlaced(result, { overwriteHint: 'pass --overwrite to replace them', localPathOf: options.localPathOf })
  return result.unchanged
}
