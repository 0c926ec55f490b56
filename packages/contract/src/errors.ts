/**
 * The one table of Wharf error codes. Each code maps to an HTTP status (server edge) and a process exit
 * code (CLI edge). Codes are never renamed or removed, only added.
 */
export const ERROR_CODES = {
  INVALID_ARGUMENT: { status: 400, exit: 2 },
  MALFORMED_REQUEST: { status: 400, exit: 2 },
  LIMIT_EXCEEDED: { status: 400, exit: 2 },
  UNSAFE_PATH: { status: 400, exit: 2 },
  UNAUTHENTICATED: { status: 401, exit: 4 },
  FORBIDDEN: { status: 403, exit: 4 },
  ROUTE_NOT_FOUND: { status: 404, exit: 3 },
  WORKSPACE_NOT_FOUND: { status: 404, exit: 3 },
  EXPERIMENT_NOT_FOUND: { status: 404, exit: 3 },
  RUN_NOT_FOUND: { status: 404, exit: 3 },
  METRIC_NOT_FOUND: { status: 404, exit: 3 },
  ARTIFACT_NOT_FOUND: { status: 404, exit: 3 },
  DATASTORE_NOT_FOUND: { status: 404, exit: 3 },
  FILE_NOT_FOUND: { status: 404, exit: 3 },
  CONFIG_NOT_FOUND: { status: 404, exit: 3 },
  ASSET_NOT_FOUND: { status: 404, exit: 3 },
  ASSET_ALIAS_NOT_FOUND: { status: 404, exit: 3 },
  SNAPSHOT_NOT_FOUND: { status: 404, exit: 3 },
  MODEL_NOT_FOUND: { status: 404, exit: 3 },
  METHOD_NOT_ALLOWED: { status: 405, exit: 2 },
  WORKSPACE_EXISTS: { status: 409, exit: 5 },
  RUN_EXISTS: { status: 409, exit: 5 },
  EXPERIMENT_EXISTS: { status: 409, exit: 5 },
  DATASTORE_EXISTS: { status: 409, exit: 5 },
  FILE_EXISTS: { status: 409, exit: 5 },
  INVALID_STATUS_TRANSITION: { status: 409, exit: 5 },
  PROPERTY_IMMUTABLE: { status: 409, exit: 5 },
  ARTIFACT_IMMUTABLE: { status: 409, exit: 5 },
  RUN_FINISHED: { status: 409, exit: 5 },
  DUPLICATE_BATCH_MISMATCH: { status: 409, exit: 5 },
  WRITE_CONFLICT: { status: 409, exit: 5 },
  SNAPSHOT_INCOMPLETE: { status: 409, exit: 5 },
  // A run's script ended with a non-zero exit code, or its runner stopped: what waitForCompletion and
  // `wharf run submit|wait` report for a run that ended Failed (or Canceled).
  RUN_FAILED: { status: 409, exit: 7 },
  RUN_CANCELED: { status: 409, exit: 8 },
  // A mount was asked for where it cannot be made (no FUSE, no rclone, a datastore kind rclone cannot reach).
  MOUNT_UNAVAILABLE: { status: 400, exit: 2 },
  PAYLOAD_TOO_LARGE: { status: 413, exit: 2 },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, exit: 2 },
  RANGE_NOT_SATISFIABLE: { status: 416, exit: 2 },
  // The caller gave up (its AbortSignal fired): 499 is nginx's "client closed request", which no peer
  // ever reads but which keeps a server log from counting the caller's choice as a 4xx/5xx fault; 130
  // is the shell's exit code for SIGINT (128 + 2), what a user who pressed Ctrl-C expects to see.
  ABORTED: { status: 499, exit: 130 },
  INTERNAL: { status: 500, exit: 1 },
  DATASTORE_UNAVAILABLE: { status: 503, exit: 6 },
  SERVER_UNREACHABLE: { status: 503, exit: 6 },
} as const satisfies Record<string, { status: number; exit: number }>

/** A stable, machine-readable error code. */
export type ErrorCode = keyof typeof ERROR_CODES

/** Every error code, in table order. */
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[]

/** Options for a {@link WharfError}. */
export interface WharfErrorOptions {
  details?: Record<string, unknown>
  cause?: unknown
}

/**
 * The error every Wharf package throws for a known failure: a stable code, a message that names the
 * thing and the way out, and optional structured details. Unknown failures become `INTERNAL`.
 */
export class WharfError extends Error {
  readonly code: ErrorCode
  readonly details: Record<string, unknown> | undefined

  constructor(code: ErrorCode, message: string, options: WharfErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'WharfError'
    this.code = code
    this.details = options.details
  }

  /** The HTTP status this error is answered with. */
  get status(): number {
    return ERROR_CODES[this.code].status
  }

  /** The process exit code the CLI ends with for this error. */
  get exitCode(): number {
    return ERROR_CODES[this.code].exit
  }
}

/** True when `value` is a {@link WharfError}, optionally with the given code. */
export function isWharfError(value: unknown, code?: ErrorCode): value is WharfError {
  return value instanceof WharfError && (code === undefined || value.code === code)
}

/** True when `code` is one of the codes in {@link ERROR_CODES}. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)
}
