"""The one error type of the SDK, with the stable codes of the server's error table."""

from __future__ import annotations

from typing import Any

#: Each code of the server's error table (packages/contract/src/errors.ts) with its HTTP status.
ERROR_STATUS: dict[str, int] = {
    "INVALID_ARGUMENT": 400,
    "MALFORMED_REQUEST": 400,
    "LIMIT_EXCEEDED": 400,
    "UNSAFE_PATH": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "ROUTE_NOT_FOUND": 404,
    "WORKSPACE_NOT_FOUND": 404,
    "EXPERIMENT_NOT_FOUND": 404,
    "RUN_NOT_FOUND": 404,
    "METRIC_NOT_FOUND": 404,
    "ARTIFACT_NOT_FOUND": 404,
    "DATASTORE_NOT_FOUND": 404,
    "FILE_NOT_FOUND": 404,
    "CONFIG_NOT_FOUND": 404,
    "ASSET_NOT_FOUND": 404,
    "ASSET_ALIAS_NOT_FOUND": 404,
    "SNAPSHOT_NOT_FOUND": 404,
    "MODEL_NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "WORKSPACE_EXISTS": 409,
    "RUN_EXISTS": 409,
    "EXPERIMENT_EXISTS": 409,
    "DATASTORE_EXISTS": 409,
    "FILE_EXISTS": 409,
    "INVALID_STATUS_TRANSITION": 409,
    "PROPERTY_IMMUTABLE": 409,
    "ARTIFACT_IMMUTABLE": 409,
    "RUN_FINISHED": 409,
    "DUPLICATE_BATCH_MISMATCH": 409,
    "WRITE_CONFLICT": 409,
    "SNAPSHOT_INCOMPLETE": 409,
    "RUN_FAILED": 409,
    "RUN_CANCELED": 409,
    "MOUNT_UNAVAILABLE": 400,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "RANGE_NOT_SATISFIABLE": 416,
    "ABORTED": 499,
    "INTERNAL": 500,
    "DATASTORE_UNAVAILABLE": 503,
    "SERVER_UNREACHABLE": 503,
}


class WharfError(Exception):
    """A known failure: a stable ``code`` from the server's table, a message that says what to do, and details."""

    def __init__(self, code: str, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code if code in ERROR_STATUS else "INTERNAL"
        self.message = message
        self.details: dict[str, Any] = details or {}

    @property
    def status(self) -> int:
        """The HTTP status the server answers this error with."""
        return ERROR_STATUS[self.code]

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def is_retryable(error: WharfError) -> bool:
    """True for failures that may pass: the server unreachable or too slow, or any 5xx answer."""
    return error.code == "SERVER_UNREACHABLE" or error.status >= 500
