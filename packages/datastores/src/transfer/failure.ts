import { WharfError, isWharfError, printable, type ErrorCode } from '@wharf/contract'

/** One file that could not be transferred, and why; the rest of the transfer went on. */
export interface TransferFailure {
  /** The datastore key (as given, when it was not a valid key). */
  key: string
  localPath: string
  code: ErrorCode
  message: string
}

/** What the engine was doing with the local file when it failed. */
export type LocalAction = 'read' | 'write'

/**
 * The failure record for `error`: a WharfError keeps its code and message, anything else is INTERNAL.
 * Query strings of URLs are cut from every message, so a signed URL never reaches a report.
 */
export function failureOf(error: unknown, where: { key: string; localPath: string }): TransferFailure {
  const known = isWharfError(error)
    ? error
    : new WharfError('INTERNAL', `transferring "${printable(where.key)}" failed unexpectedly [${reasonOf(error)}]`, {
        cause: error,
      })
  return { key: where.key, localPath: where.localPath, code: known.code, message: withoutQueries(known.message) }
}

/**
 * A WharfError for an error of the storage side that the driver left untranslated (such as a connection
 * reset while a body streams): DATASTORE_UNAVAILABLE naming the key. WharfErrors stay as they are.
 */
export function remoteErrorOf(error: unknown, where: { key: string; action: 'read' | 'write' }): WharfError {
  if (isWharfError(error)) return error
  const verb = where.action === 'read' ? 'reading' : 'writing'
  return new WharfError(
    'DATASTORE_UNAVAILABLE',
    `${verb} "${printable(where.key)}" in the datastore broke off [${withoutQueries(reasonOf(error))}]; run the transfer again`,
    {
      details: { key: printable(where.key, 1024) },
      cause: error,
    },
  )
}

/** A WharfError for an error of the local file system (or, failing that, an INTERNAL one). */
export function localErrorOf(error: unknown, where: { localPath: string; action: LocalAction }): WharfError {
  if (isWharfError(error)) return error
  const file = `the local file "${printable(where.localPath, 400)}"`
  const code = systemCodeOf(error)
  const reading = where.action === 'read'
  switch (code ?? '') {
    case 'ENOENT':
      return reading
        ? new WharfError(
            'FILE_NOT_FOUND',
            `${file} does not exist (was it moved or deleted after it was listed?); check the path`,
            { cause: error },
          )
        : new WharfError(
            'FILE_NOT_FOUND',
            `a folder on the way to ${file} disappeared while it was written; run the download again`,
            { cause: error },
          )
    case 'EACCES':
    case 'EPERM':
      return new WharfError(
        'FORBIDDEN',
        `${file} cannot be ${reading ? 'read' : 'written'} (${code}: permission denied); change its permissions or skip it`,
        {
          cause: error,
        },
      )
    case 'EISDIR':
      return new WharfError('INVALID_ARGUMENT', `${file} is a folder, not a file; give the files inside it instead`, {
        cause: error,
      })
    case 'ENOTDIR':
    case 'EEXIST':
    case 'ENOTEMPTY':
      return new WharfError(
        'INVALID_ARGUMENT',
        `${file} cannot be written: a file and a folder of the same name are in the way of each other (${code}); move one of them`,
        {
          cause: error,
        },
      )
    case 'ENOSPC':
    case 'EDQUOT':
      return new WharfError(
        'INTERNAL',
        `${file} cannot be written: the local disk is full (${code}); free some space and run again`,
        { cause: error },
      )
    case 'ENAMETOOLONG':
      return new WharfError(
        'INVALID_ARGUMENT',
        `${file} cannot be ${reading ? 'read' : 'written'}: its path is too long for this file system`,
        { cause: error },
      )
    default:
      return new WharfError('INTERNAL', `${file} could not be ${reading ? 'read' : 'written'} [${reasonOf(error)}]`, {
        cause: error,
      })
  }
}

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  return `${systemCodeOf(error) ?? error.name}: ${error.message}`
}

/** The errno code (`ENOENT`, …) of a Node.js system error. */
export function systemCodeOf(error: unknown): string | undefined {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined
  return typeof code === 'string' ? code : undefined
}

/** The message with the query string of every URL in it removed (a SAS token is a query string). */
export function withoutQueries(message: string): string {
  return message.replace(/(\bhttps?:\/\/[^\s?#"'<>]*)\?[^\s"'<>]*/gi, '$1?…')
}
