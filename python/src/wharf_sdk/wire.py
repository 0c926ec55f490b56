"""
A metric batch in the columnar wire form (decision 0029): one series per metric name in logging
order, written as MessagePack with number columns as ``bin`` float64 little-endian bytes for the
server, or as the JSON line a spool file holds (decision 0006), the same bytes the TypeScript SDK writes.
"""

from __future__ import annotations

import json
import math
import sys
from array import array
from typing import Any

import msgpack

Number = float | int
#: One series in the wire form: ``name``, ``times``, and ``steps`` / ``values`` / ``texts`` as present.
Series = dict[str, Any]

_NON_FINITE = {"NaN", "Infinity", "-Infinity"}


class ColumnBatch:
    """
    A batch being filled. A name gets a second series when its points switch between given and
    server-assigned steps, since a ``steps`` column is all-or-nothing; the server reads series in order.
    """

    __slots__ = ("_last_by_name", "points", "sequence", "series")

    def __init__(self, sequence: int) -> None:
        self.sequence = sequence
        self.series: list[Series] = []
        self.points = 0
        self._last_by_name: dict[str, Series] = {}

    def add(self, name: str, value: float | str, step: int | None, time_ms: int) -> None:
        """Appends one validated point; ``step`` None lets the server give the writer's next step."""
        series = self._last_by_name.get(name)
        if series is None or ("steps" in series) != (step is not None):
            series = {"name": name, "times": []}
            if step is not None:
                series["steps"] = []
            self.series.append(series)
            self._last_by_name[name] = series
        times: list[int] = series["times"]
        count = len(times)
        if isinstance(value, str):
            if "texts" not in series:
                series["texts"] = [None] * count
            series["texts"].append(value)
            if "values" in series:
                series["values"].append(None)
        else:
            if "values" not in series:
                series["values"] = [None] * count
            series["values"].append(value)
            if "texts" in series:
                series["texts"].append(None)
        if step is not None:
            series["steps"].append(step)
        times.append(time_ms)
        self.points += 1


def count_points(series: list[Series]) -> int:
    """How many points a list of series holds."""
    total = 0
    for one in series:
        column = one.get("values", one.get("texts"))
        total += len(column) if column is not None else 0
    return total


def _wire_number(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _float64_bytes(column: list[Any]) -> bytes | None:
    """The column as little-endian float64 bytes, or None when an entry is not a number (a null)."""
    doubles = array("d")
    try:
        doubles.extend(column)
    except TypeError:
        return None
    if sys.byteorder != "little":
        doubles.byteswap()
    return doubles.tobytes()


def _binary_series(series: Series) -> Series:
    out: Series = {"name": series["name"]}
    for key in ("values", "texts", "steps", "times"):
        column = series.get(key)
        if column is None:
            continue
        if key == "texts":
            out[key] = column
            continue
        packed = _float64_bytes(column)
        # A values column that also holds nulls stays a list: NaN and ±Infinity as their strings.
        out[key] = packed if packed is not None else [None if v is None else _wire_number(float(v)) for v in column]
    return out


def encode_msgpack_batch(*, writer_id: str, sequence: int, series: list[Series]) -> bytes:
    """The MessagePack body of ``POST …/runs/:runId/metrics``."""
    body = {"writerId": writer_id, "sequence": sequence, "series": [_binary_series(s) for s in series]}
    return bytes(msgpack.packb(body, use_bin_type=True))


def _json_series(series: Series) -> Series:
    out: Series = {"name": series["name"], "times": series["times"]}
    if "steps" in series:
        out["steps"] = series["steps"]
    if "values" in series:
        out["values"] = [
            None if v is None else _wire_number(float(v)) if isinstance(v, float) else v for v in series["values"]
        ]
    if "texts" in series:
        out["texts"] = series["texts"]
    return out


def encode_spool_line(*, run_id: str, workspace: str, writer_id: str, sequence: int, series: list[Series]) -> str:
    """One spool line (with its newline), as the TypeScript SDK writes it and ``wharf sync`` reads it."""
    record = {
        "v": 1,
        "runId": run_id,
        "workspace": workspace,
        "writerId": writer_id,
        "sequence": sequence,
        "series": [_json_series(s) for s in series],
    }
    return json.dumps(record, separators=(",", ":"), allow_nan=False, ensure_ascii=False) + "\n"


def parse_spool_line(text: str) -> dict[str, Any] | None:
    """The record a spool line holds, or None for a line that is none (torn by a crash, say)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    if not isinstance(value.get("runId"), str) or not isinstance(value.get("writerId"), str):
        return None
    if not isinstance(value.get("sequence"), int) or not isinstance(value.get("series"), list):
        return None
    for series in value["series"]:
        # Back from JSON: the non-finite strings are numbers again.
        if isinstance(series, dict) and isinstance(series.get("values"), list):
            series["values"] = [float(v) if isinstance(v, str) and v in _NON_FINITE else v for v in series["values"]]
    return value
