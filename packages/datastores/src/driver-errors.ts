import { WharfError, printable } from '@wharf/contract'

/**
 * A copy of a storage SDK's error that keeps only its name, message, stack, `code` and `statusCode`, to
 * keep as the `cause` of our errors. The SDK's own error holds the request it failed on: for Azure, the
 * URL with the SAS token in it, in a property `util.inspect` hides but a logger that walks the object
 * would print. Anything that is not an Error is returned as it is.
 */
export function plainCause(error: unknown): unknown {
  if (!(error instanceof Error)) return error
  const copy = new Error(error.message)
  copy.name = error.name
  if (error.stack !== undefined) copy.stack = error.stack
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown }
  if (typeof code === 'string' || typeof code === 'number') Object.assign(copy, { code })
  if (typeof statusCode === 'number') Object.assign(copy, { statusCode })
  return copy
}

/** FILE_NOT_FOUND for a key the datastore does not hold, the same words for every kind of storage. */
export function fileNotFound(key: string, cause?: unknown): WharfError {
  return new WharfError(
    'FILE_NOT_FOUND',
    `the datastore has no file "${printable(key)}"; list the datastore to see the keys it holds`,
    {
      details: { key: printable(key, 1024) },
      ...(cause === undefined ? {} : { cause: plainCause(cause) }),
    },
  )
}

/** FILE_EXISTS for a put with `ifNotExists` that found a file at its key, the same words for every kind of storage. */
export function fileExists(key: string, cause?: unknown): WharfError {
  return new WharfError(
    'FILE_EXISTS',
    `the datastore already has a file "${printable(key)}"; store it with overwrite to replace it`,
    {
      details: { key: printable(key, 1024) },
      ...(cause === undefined ? {} : { cause: plainCause(cause) }),
    },
  )
}
