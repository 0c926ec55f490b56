"""The checks a logged point passes at the call, against the server's default limits (packages/contract)."""

from __future__ import annotations

import math
import re
from typing import Any

from .errors import WharfError

METRIC_NAME_LENGTH = 255
METRIC_TEXT_LENGTH = 4096
MAX_STEP = 2**53 - 1
_CONTROL = re.compile("[\u0000-\u001f\u007f-\u009f]")


def _printable(value: str, most: int = 80) -> str:
    text = value.encode("unicode_escape", errors="backslashreplace").decode("ascii")
    return text if len(text) <= most else text[:most] + "…"


def _utf16_length(text: str) -> int:
    # The server counts JavaScript string length: characters beyond the BMP count twice.
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _well_formed(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# packages/contract/src/names.ts NAME_RULES.assetAlias: never "latest", a number or v<number>, which name versions.
_ASSET_ALIAS = re.compile(r"(?![Ll][Aa][Tt][Ee][Ss][Tt]\Z)(?![Vv]?[0-9]+\Z)[A-Za-z0-9_-]{1,255}\Z")


def check_asset_alias(alias: object) -> str:
    """Returns the alias, or raises INVALID_ARGUMENT with the rule an alias follows."""
    if not isinstance(alias, str) or not _ASSET_ALIAS.match(alias):
        shown = _printable(alias) if isinstance(alias, str) else repr(alias)
        raise WharfError(
            "INVALID_ARGUMENT",
            f'alias "{shown}" is not valid: use letters, digits, "_" or "-" (at most 255), and not "latest", '
            "a number or v<number>, which name versions",
            details={"field": "alias", "value": shown},
        )
    return alias


def check_metric_name(name: object) -> str:
    """Returns the name, or raises INVALID_ARGUMENT / LIMIT_EXCEEDED saying what a name may be."""
    if not isinstance(name, str) or name == "":
        raise WharfError("INVALID_ARGUMENT", "a metric name must be a non-empty string", details={"field": "name"})
    length = _utf16_length(name)
    if length > METRIC_NAME_LENGTH:
        raise WharfError(
            "LIMIT_EXCEEDED",
            f'metric name "{_printable(name)}" is {length} characters; the limit is {METRIC_NAME_LENGTH} '
            '(server limit "metricNameLength")',
            details={"limit": "metricNameLength", "max": METRIC_NAME_LENGTH, "actual": length},
        )
    if _CONTROL.search(name):
        raise WharfError(
            "INVALID_ARGUMENT",
            f'metric name "{_printable(name)}" contains a control character; use printable text',
            details={"field": "name"},
        )
    if not _well_formed(name):
        raise WharfError(
            "INVALID_ARGUMENT", f'metric name "{_printable(name)}" holds a lone surrogate; send well-formed text'
        )
    return name


def check_value(name: str, value: Any) -> float | str:
    """A loggable value: a number (bools and numpy/torch scalars too) as a float, or a string within the limit."""
    if isinstance(value, str):
        length = _utf16_length(value)
        if length > METRIC_TEXT_LENGTH:
            raise WharfError(
                "LIMIT_EXCEEDED",
                f'metric "{_printable(name)}": text is {length} characters; the limit is {METRIC_TEXT_LENGTH} '
                '(server limit "metricTextLength")',
                details={"limit": "metricTextLength", "max": METRIC_TEXT_LENGTH, "actual": length},
            )
        if not _well_formed(value):
            raise WharfError("INVALID_ARGUMENT", f'metric "{_printable(name)}": text holds a lone surrogate')
        return value
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if not isinstance(value, (bytes, list, tuple, dict, set)) and hasattr(value, "__float__"):
        # numpy and torch scalars (a 0-d tensor) know their float.
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    raise WharfError(
        "INVALID_ARGUMENT",
        f'metric "{_printable(name)}": a value must be a number or a string, got {type(value).__name__}',
        details={"field": "value"},
    )


def check_step(name: str, step: object) -> int:
    """A step: a whole number from 0 to 2**53-1, else INVALID_ARGUMENT saying what to pass."""
    if isinstance(step, int) and not isinstance(step, bool) and 0 <= step <= MAX_STEP:
        return step
    raise WharfError(
        "INVALID_ARGUMENT",
        f'metric "{_printable(name)}": step must be a whole number from 0 to {MAX_STEP}, got {step!r}; '
        "pass step=<whole number>, or leave step out to log at the metric's next step",
        details={"field": "step"},
    )
