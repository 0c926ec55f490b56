import path from 'node:path'
import type { DataReferenceConfig } from '@wharf/contract'

/** A data reference with its place on this machine worked out. */
export interface PlacedReference {
  config: DataReferenceConfig
  /** `pathOnDatastore` with `{runId}` replaced, without leading or trailing slashes ('' for the whole datastore). */
  datastorePath: string
  /** The folder the data is put in (download), mounted at (mount) or taken from (upload). */
  base: string
  /** What the script is told (WHARF_DATAREFERENCE_<name>): `base`, or the file in it for a one-file reference. */
  path: string
}

/**
 * Where a reference lives on this machine: `pathOnCompute` null is `<runFolder>/data/<name>`, relative
 * is relative to the working folder, absolute is taken as given. `{runId}` in `pathOnDatastore` becomes the run's id.
 */
export function placeReference(
  config: DataReferenceConfig,
  options: { runId: string; runFolder: string; workingFolder: string },
): PlacedReference {
  const datastorePath = (config.pathOnDatastore ?? '')
    .replaceAll('{runId}', options.runId)
    .replace(/^\/+|\/+$/g, '')
    .replace(/^\.$/, '')
  const base =
    config.pathOnCompute === null
      ? path.join(options.runFolder, 'data', config.name)
      : path.resolve(options.workingFolder, config.pathOnCompute)
  return { config, datastorePath, base, path: base }
}

/** One line of the inputs manifest (WHARF_INPUTS_MANIFEST). */
export interface InputsManifestEntry {
  name: string
  datastore: string
  pathOnDatastore: string | null
  mode: DataReferenceConfig['mode']
  path: string
}

/** The inputs manifest: every reference with its absolute path. */
export function inputsManifestOf(references: readonly PlacedReference[]): InputsManifestEntry[] {
  return references.map((reference) => ({
    name: reference.config.name,
    datastore: reference.config.datastore,
    pathOnDatastore: reference.datastorePath === '' ? null : reference.datastorePath,
    mode: reference.config.mode,
    path: reference.path,
  }))
}
