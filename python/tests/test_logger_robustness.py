"""
The metric logger under trouble that is not an outage: a slow disk under the spool, an error the
sending thread has no answer for, a fork of the process that logs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from wharf_sdk import MetricLogger, RetryPolicy, WharfError
from wharf_sdk.client import WharfClient
from wharf_sdk.wire import count_points, parse_spool_line

FAST_RETRY = RetryPolicy(attempts=2, initial_delay=0.01, max_delay=0.05)


def spooled_values(file: str) -> list[float | str]:
    """The values of every point in a spool file, in file order."""
    values: list[float | str] = []
    for line in Path(file).read_text().splitlines():
        record = parse_spool_line(line)
        assert record is not None, line
        for one in record["series"]:
            values.extend(one["values"])
        assert count_points(record["series"]) > 0
    return values


def test_log_does_not_wait_for_a_slow_spool_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        time.sleep(0.5)  # a disk that takes half a second to sync
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    logger = MetricLogger(
        client=WharfClient("http://127.0.0.1:9"),
        run_id="slow-disk",
        spool_dir=str(tmp_path / "spool"),
        offline=True,
        max_batch_points=10,
        flush_interval=0.01,
    )
    worst = 0.0
    logged = 0
    until = time.monotonic() + 2.0  # several fsyncs happen meanwhile
    while time.monotonic() < until:
        began = time.perf_counter()
        logger.log("loss", logged)
        worst = max(worst, time.perf_counter() - began)
        logged += 1
        time.sleep(0.001)
    logger.close()
    assert worst < 0.2, f"log() waited {worst:.3f} s for the spool's fsync"
    assert spooled_values(logger.spool_file) == list(range(logged))


class _UndecodableAnswers(BaseHTTPRequestHandler):
    """A server (a broken proxy, say) whose answers claim gzip but are not: httpx raises DecodingError."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        body = b"this is not gzip"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-encoding", "gzip")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def undecodable_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _UndecodableAnswers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_unexpected_error_in_the_sending_thread_fails_waits_and_keeps_the_points(
    undecodable_server: str, tmp_path: Path
) -> None:
    errors: list[WharfError] = []
    logger = MetricLogger(
        client=WharfClient(undecodable_server),
        run_id="undecodable",
        spool_dir=str(tmp_path / "spool"),
        on_error=errors.append,
        retry=FAST_RETRY,
    )
    pending = logger.log("loss", 0.5)
    with pytest.raises(WharfError) as failed:
        pending.wait(timeout=20)  # before the fix: the thread died and this timed out
    assert failed.value.code == "INTERNAL"
    assert "DecodingError" in failed.value.message
    assert logger.spool_file in failed.value.message
    with pytest.raises(WharfError) as unbounded:
        logger.flush()  # no timeout: must not hang
    assert unbounded.value.code == "INTERNAL"
    with pytest.raises(WharfError) as refused:
        logger.log("loss", 0.25)  # nothing more piles up in memory
    assert refused.value.code == "INTERNAL"
    assert [e.code for e in errors] == ["INTERNAL"]  # reported once
    assert spooled_values(logger.spool_file) == [0.5]  # kept for `wharf sync`
    logger.close()  # stopped already, its failure raised and reported: nothing more to do
