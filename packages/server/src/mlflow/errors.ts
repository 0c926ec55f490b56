import { isWharfError, type ErrorCode, type WharfError } from '@wharf/contract'

/** MLflow's error codes this API answers, with the HTTP status MLflow gives each. */
export const MLFLOW_ERROR_STATUS = {
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  RESOURCE_CONFLICT: 409,
  INTERNAL_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
} as const satisfies Record<string, number>

/** One of MLflow's error codes. */
export type MlflowErrorCode = keyof typeof MLFLOW_ERROR_STATUS

/** An error to answer in MLflow's shape: `{error_code, message}` with MLflow's status for the code. */
export class MlflowError extends Error {
  readonly code: MlflowErrorCode
  constructor(code: MlflowErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'MlflowError'
    this.code = code
  }
}

/** How each Wharf error code reads in MLflow's table; anything not listed is INTERNAL_ERROR. */
const FROM_WHARF: Partial<Record<ErrorCode, MlflowErrorCode>> = {
  INVALID_ARGUMENT: 'INVALID_PARAMETER_VALUE',
  MALFORMED_REQUEST: 'BAD_REQUEST',
  LIMIT_EXCEEDED: 'INVALID_PARAMETER_VALUE',
  UNSAFE_PATH: 'INVALID_PARAMETER_VALUE',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'PERMISSION_DENIED',
  ROUTE_NOT_FOUND: 'ENDPOINT_NOT_FOUND',
  WORKSPACE_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  EXPERIMENT_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  RUN_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  METRIC_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  ARTIFACT_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  DATASTORE_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  FILE_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  ASSET_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  ASSET_ALIAS_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  MODEL_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  EXPERIMENT_EXISTS: 'RESOURCE_ALREADY_EXISTS',
  RUN_EXISTS: 'RESOURCE_ALREADY_EXISTS',
  FILE_EXISTS: 'RESOURCE_ALREADY_EXISTS',
  PROPERTY_IMMUTABLE: 'INVALID_PARAMETER_VALUE',
  INVALID_STATUS_TRANSITION: 'INVALID_PARAMETER_VALUE',
  RUN_FINISHED: 'INVALID_PARAMETER_VALUE',
  ARTIFACT_IMMUTABLE: 'INVALID_PARAMETER_VALUE',
  WRITE_CONFLICT: 'RESOURCE_CONFLICT',
  DUPLICATE_BATCH_MISMATCH: 'RESOURCE_CONFLICT',
  PAYLOAD_TOO_LARGE: 'INVALID_PARAMETER_VALUE',
  UNSUPPORTED_MEDIA_TYPE: 'BAD_REQUEST',
  RANGE_NOT_SATISFIABLE: 'INVALID_PARAMETER_VALUE',
  DATASTORE_UNAVAILABLE: 'TEMPORARILY_UNAVAILABLE',
}

/** MLflow's error body and status for anything thrown; `internal` is true for errors the server log must show. */
export function toMlflowError(error: unknown): {
  status: number
  body: { error_code: string; message: string }
  internal: boolean
} {
  if (error instanceof MlflowError) {
    return { status: MLFLOW_ERROR_STATUS[error.code], body: { error_code: error.code, message: error.message }, internal: false }
  }
  if (isWharfError(error)) {
    const code = FROM_WHARF[error.code] ?? 'INTERNAL_ERROR'
    const message =
      code === 'INTERNAL_ERROR' ? 'the server failed to handle this request; the server log has the details' : error.message
    return { status: MLFLOW_ERROR_STATUS[code], body: { error_code: code, message }, internal: code === 'INTERNAL_ERROR' }
  }
  return {
    status: 500,
    body: { error_code: 'INTERNAL_ERROR', message: 'the server failed to handle this request; the server log has the details' },
    internal: true,
  }
}

/** INVALID_PARAMETER_VALUE with `message`. */
export function invalidParameter(message: string): MlflowError {
  return new MlflowError('INVALID_PARAMETER_VALUE', message)
}

/** True for a WharfError of `code`. */
export function isWharf(error: unknown, code: ErrorCode): error is WharfError {
  return isWharfError(error, code)
}
