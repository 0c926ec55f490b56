import {
  DATA_REFERENCE_MODES,
  DATA_REFERENCE_NAME,
  NAME_RULES,
  WharfError,
  assertName,
  printable,
  type DataReferenceConfig,
  type DataReferenceMode,
} from '@wharf/contract'

/** The prefix of the environment variable a submitted run gets for each data reference. */
export const DATA_REFERENCE_ENV_PREFIX = 'WHARF_DATAREFERENCE_'

/** What a data reference is made from; only the datastore is required. */
export interface DataReferenceOptions {
  /** The datastore (a `Datastore` or its name). */
  datastore: string | { readonly name: string }
  /** The name the run sees it by (`$WHARF_DATAREFERENCE_<name>`); derived from the datastore and path when absent. */
  dataReferenceName?: string
  /** A path in the datastore; the whole datastore when absent or a root (`/`, `.`, `./`). `{runId}` is kept as is. */
  pathOnDatastore?: string | null
  /** `mount` (default), `download` (before the run) or `upload` (after it). */
  mode?: DataReferenceMode
  /** Where it is on the compute: a folder the runner picks when absent, relative to the run's working folder (where the script starts), or absolute. */
  pathOnCompute?: string | null
  /** Download: replace local files that differ. Upload: replace datastore files that differ. Default false. */
  overwrite?: boolean
}

/** Options of `asDownload` and `asUpload`. */
export interface DataReferenceBindOptions {
  pathOnCompute?: string
  overwrite?: boolean
}

/** A path as a datastore path: no leading `./` or `/`, no trailing `/`; a root is null. */
function normalizeDatastorePath(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null
  const trimmed = raw
    .replace(/\\/g, '/')
    .replace(/^(\.?\/)+/, '')
    .replace(/\/+$/, '')
  if (trimmed === '' || trimmed === '.') return null
  if (trimmed.split('/').some((segment) => segment === '..')) {
    throw new WharfError('UNSAFE_PATH', `datastore path "${printable(raw)}" has a ".." segment; give a path inside the datastore`)
  }
  return trimmed
}

/**
 * The name a reference gets when none is given: the datastore's name for the whole datastore, else
 * `<datastore>_<path>` with every character outside `[A-Za-z0-9_]` made `_` (repeats collapsed, ends
 * trimmed). Deterministic, so the variable a script reads is known before the run starts.
 */
export function defaultDataReferenceName(datastore: string, pathOnDatastore: string | null): string {
  const raw = pathOnDatastore === null ? datastore : `${datastore}_${pathOnDatastore}`
  return raw
    .replace(/[^A-Za-z0-9_]/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_+|_+$/g, '')
}

function assertDataReferenceName(name: string, derived: boolean): void {
  if (DATA_REFERENCE_NAME.test(name)) return
  const how = derived
    ? `the name derived from the datastore and path, "${printable(name)}", is not one`
    : `"${printable(name)}" is not one`
  throw new WharfError(
    'INVALID_ARGUMENT',
    `a data reference name becomes part of an environment variable, so it must start with a letter or "_" and hold only letters, digits and "_" (at most 128): ${how}; pass dataReferenceName`,
    { details: { field: 'dataReferenceName', value: printable(name) } },
  )
}

function assertComputePath(value: string | null): void {
  if (value === null) return
  if (value === '' || value.length > 1024) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      'pathOnCompute must be a path of 1 to 1024 characters (or absent for a folder the runner picks)',
      {
        details: { field: 'pathOnCompute' },
      },
    )
  }
}

/**
 * A piece of datastore data a submitted run reaches: mounted or downloaded before the script starts,
 * or uploaded after it ends. Passed in a run's arguments it stands for the local path
 * (`$WHARF_DATAREFERENCE_<name>`, which the runner replaces). Immutable: `path`, `asMount`,
 * `asDownload` and `asUpload` return new references. Throws INVALID_ARGUMENT for a bad name or mode.
 */
export class DataReference {
  /** The datastore's name. */
  readonly datastore: string
  readonly dataReferenceName: string
  /** The path in the datastore; null for the whole datastore. */
  readonly pathOnDatastore: string | null
  readonly mode: DataReferenceMode
  readonly pathOnCompute: string | null
  readonly overwrite: boolean

  constructor(options: DataReferenceOptions) {
    const datastore = typeof options.datastore === 'string' ? options.datastore : options.datastore.name
    assertName(datastore, NAME_RULES.datastore)
    const mode = options.mode ?? 'mount'
    if (!(DATA_REFERENCE_MODES as readonly string[]).includes(mode)) {
      throw new WharfError(
        'INVALID_ARGUMENT',
        `invalid data reference mode "${printable(String(mode))}"; use ${DATA_REFERENCE_MODES.join(', ')}`,
        { details: { field: 'mode' } },
      )
    }
    if (options.pathOnDatastore !== undefined && options.pathOnDatastore !== null && options.pathOnDatastore.length > 1024) {
      throw new WharfError('INVALID_ARGUMENT', 'pathOnDatastore is longer than 1024 characters', {
        details: { field: 'pathOnDatastore' },
      })
    }
    this.datastore = datastore
    this.pathOnDatastore = normalizeDatastorePath(options.pathOnDatastore)
    this.dataReferenceName = options.dataReferenceName ?? defaultDataReferenceName(datastore, this.pathOnDatastore)
    assertDataReferenceName(this.dataReferenceName, options.dataReferenceName === undefined)
    this.mode = mode
    this.pathOnCompute = options.pathOnCompute ?? null
    assertComputePath(this.pathOnCompute)
    this.overwrite = options.overwrite ?? false
  }

  /**
   * The reference to `p` in the same datastore; under a reference that already has a path, `p` is
   * joined to it. A root (`/`, `.`, `./`) gives this reference back. The name is derived from the new
   * path unless `dataReferenceName` is given.
   */
  path(p: string, options: { dataReferenceName?: string } = {}): DataReference {
    const child = normalizeDatastorePath(p)
    if (child === null && options.dataReferenceName === undefined) return this
    const joined =
      child === null ? this.pathOnDatastore : this.pathOnDatastore === null ? child : `${this.pathOnDatastore}/${child}`
    return this.#clone({ pathOnDatastore: joined, dataReferenceName: options.dataReferenceName })
  }

  /** A clone mounted for the run (read and write through the mount). */
  asMount(): DataReference {
    return this.#clone({ mode: 'mount' })
  }

  /** A clone downloaded before the run starts; `overwrite` replaces local files that differ. */
  asDownload(options: DataReferenceBindOptions = {}): DataReference {
    return this.#clone({ mode: 'download', ...options })
  }

  /** A clone uploaded after the run ends (to the datastore root unless `path` was used); `overwrite` replaces files that differ. */
  asUpload(options: DataReferenceBindOptions = {}): DataReference {
    return this.#clone({ mode: 'upload', ...options })
  }

  /** The environment variable the run resolves it through: `$WHARF_DATAREFERENCE_<name>`. */
  toString(): string {
    return `$${DATA_REFERENCE_ENV_PREFIX}${this.dataReferenceName}`
  }

  /** The configuration stored with the run. */
  toConfig(): DataReferenceConfig {
    return {
      name: this.dataReferenceName,
      datastore: this.datastore,
      pathOnDatastore: this.pathOnDatastore,
      mode: this.mode,
      pathOnCompute: this.pathOnCompute,
      overwrite: this.overwrite,
    }
  }

  #clone(change: {
    mode?: DataReferenceMode
    pathOnCompute?: string | undefined
    overwrite?: boolean | undefined
    pathOnDatastore?: string | null
    dataReferenceName?: string | undefined
  }): DataReference {
    const pathChanged = 'pathOnDatastore' in change
    const name = change.dataReferenceName ?? (pathChanged ? undefined : this.dataReferenceName)
    return new DataReference({
      datastore: this.datastore,
      pathOnDatastore: pathChanged ? (change.pathOnDatastore ?? null) : this.pathOnDatastore,
      mode: change.mode ?? this.mode,
      pathOnCompute: change.pathOnCompute ?? this.pathOnCompute,
      overwrite: change.overwrite ?? this.overwrite,
      ...(name !== undefined ? { dataReferenceName: name } : {}),
    })
  }
}

/** True for a {@link DataReference}. */
export function isDataReference(value: unknown): value is DataReference {
  return value instanceof DataReference
}
