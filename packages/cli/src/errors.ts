import { WharfError, type ErrorCode } from '@wharf/contract'

/**
 * What the wharf command adds to errors whose message (written by the server or the SDK for every
 * client) names the environment or an SDK option but not the command's own flag.
 */
const CLI_HINTS: Partial<Record<ErrorCode, string>> = {
  UNAUTHENTICATED: 'the wharf command also takes --token <token>',
}

/** Prints an error as one line on stderr (its cause too with --verbose) and returns the exit code. */
export function reportError(error: unknown, options: { verbose: boolean; write?: (text: string) => void }): number {
  const write = options.write ?? ((text: string) => process.stderr.write(text))
  if (error instanceof WharfError) {
    const hint = CLI_HINTS[error.code]
    write(`wharf: error: ${error.message}${hint ? `; ${hint}` : ''} [${error.code}]\n`)
    if (options.verbose) {
      if (error.details) write(`details: ${JSON.stringify(error.details)}\n`)
      if (error.cause instanceof Error) write(`cause: ${error.cause.stack ?? error.cause.message}\n`)
    }
    return error.exitCode
  }
  const err = error as Error
  write(
    `wharf: internal error: ${err.message ?? String(error)}${options.verbose ? '' : ' (run again with --verbose for details)'}\n`,
  )
  if (options.verbose && err.stack) write(`${err.stack}\n`)
  return 1
}
