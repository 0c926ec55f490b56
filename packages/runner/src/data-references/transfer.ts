import { stat } from 'node:fs/promises'
import path from 'node:path'
import { WharfError, printable } from '@wharf/contract'
import { Datastore, requireAllPlaced } from '@wharf/sdk'
import type { PlacedReference } from './paths.js'

type Connection = Datastore['workspace']

/** What a datastore holds at a path: a file, a folder (files below it), or nothing. */
export async function entryKindAt(
  datastore: Datastore,
  datastorePath: string,
  signal?: AbortSignal,
): Promise<'file' | 'folder' | 'none'> {
  const first = async (prefix: string): Promise<string | undefined> => {
    for await (const file of datastore.list({ ...(prefix ? { prefix } : {}), ...(signal ? { signal } : {}) })) return file.path
    return undefined
  }
  if (datastorePath === '') return (await first('')) === undefined ? 'none' : 'folder'
  // Listed in path order, a file at the path itself comes before anything else the prefix matches.
  if ((await first(datastorePath)) === datastorePath) return 'file'
  return (await first(`${datastorePath}/`)) === undefined ? 'none' : 'folder'
}

/** FILE_NOT_FOUND for a reference whose datastore holds nothing at its path. */
export function nothingAt(reference: PlacedReference): WharfError {
  const { config, datastorePath } = reference
  return new WharfError(
    'FILE_NOT_FOUND',
    `data reference "${config.name}": datastore "${printable(config.datastore)}" holds nothing at "${printable(datastorePath || '/')}"; check the path, or upload the data first`,
    { details: { reference: config.name, datastore: config.datastore, path: datastorePath } },
  )
}

/**
 * Downloads a reference's data into its folder before the script starts, through the SDK's verified
 * download: a folder's files below it, a file into it (the reference's path then names the file).
 * Local files with other content stay unless the reference says overwrite. Throws the first failed file.
 */
export async function downloadReference(
  workspace: Connection,
  reference: PlacedReference,
  options: { signal?: AbortSignal } = {},
): Promise<{ files: number; bytes: number }> {
  const { config, datastorePath } = reference
  const datastore = await Datastore.get(workspace, config.datastore, options)
  const kind = await entryKindAt(datastore, datastorePath, options.signal)
  if (kind === 'none') throw nothingAt(reference)
  const isFile = kind === 'file'
  const prefix = datastorePath === '' ? undefined : isFile ? datastorePath : `${datastorePath}/`
  const result = await datastore.downloadFiles({
    targetPath: reference.base,
    ...(prefix !== undefined ? { prefix, stripPrefix: true } : {}),
    overwrite: config.overwrite,
    showProgress: false,
    ...(options.signal ? { signal: options.signal } : {}),
  })
  // A file referenced by path: the script is told the file, not the folder it landed in.
  if (isFile) reference.path = path.join(reference.base, path.posix.basename(datastorePath))
  requireAllPlaced(
    { ...result, skipped: [] },
    { overwriteHint: 'set overwrite on the reference', localPathOf: (key) => path.join(reference.base, key) },
  )
  const files = result.downloaded.length + result.overwritten.length + result.unchanged.length
  return { files, bytes: result.bytes }
}

/**
 * Uploads a reference's file or folder (its path on this machine) to the datastore after the script
 * ended: a folder's tree below `pathOnDatastore` (the root when null), a file into it (or to it, when
 * the path ends with the file's name). Existing files with other content stay unless overwrite.
 * Returns undefined when the script left nothing at the path.
 */
export async function uploadReference(
  workspace: Connection,
  reference: PlacedReference,
  options: { signal?: AbortSignal } = {},
): Promise<{ files: number; bytes: number; skipped: string[] } | undefined> {
  const { config, datastorePath } = reference
  const info = await stat(reference.path).catch(() => undefined)
  if (info === undefined) return undefined
  const datastore = await Datastore.get(workspace, config.datastore, options)
  const common = { overwrite: config.overwrite, showProgress: false, ...(options.signal ? { signal: options.signal } : {}) }
  let result
  if (info.isDirectory()) {
    result = await datastore.upload({
      srcDir: reference.path,
      ...(datastorePath ? { targetPath: datastorePath } : {}),
      ...common,
    })
  } else {
    const name = path.basename(reference.path)
    const target =
      datastorePath === '' || datastorePath === name
        ? ''
        : datastorePath.endsWith(`/${name}`)
          ? path.posix.dirname(datastorePath)
          : datastorePath
    result = await datastore.uploadFiles({
      files: [reference.path],
      relativeRoot: path.dirname(reference.path),
      ...(target ? { targetPath: target } : {}),
      ...common,
    })
  }
  const [first] = result.failed
  if (first !== undefined) {
    throw new WharfError(first.code, `data reference "${config.name}": ${first.message}`, {
      details: { failed: result.failed.map((f) => f.key) },
    })
  }
  return {
    files: result.uploaded.length + result.overwritten.length + result.unchanged.length,
    bytes: result.bytes,
    skipped: result.skipped,
  }
}
