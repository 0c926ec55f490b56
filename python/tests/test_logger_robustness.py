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
from conftest import WharfServer, series

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


def test_a_child_forked_while_another_thread_holds_the_loggers_lock_logs_through_its_own(
    server: WharfServer, tmp_path: Path
) -> None:
    client = WharfClient(server.url)
    run_id = str(client.create_run({"experiment": "fork-held-lock", "status": "Running"})["id"])
    logger = MetricLogger(client=client, run_id=run_id, spool_dir=str(tmp_path / "spool"))
    logger.log("parent", 1).wait()
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with logger._cond:  # as log() does, at the worst moment
            holding.set()
            release.wait()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    holding.wait()
    pid = os.fork()
    if pid == 0:  # the child: a deadlock here would hang it, a lost point would fail the check below
        code = 1
        try:
            for step in range(50):
                logger.log("child", step)
            logger.close(timeout=30)
            code = 0
        finally:
            os._exit(code)
    release.set()
    holder.join()
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung on the logger's lock")
    assert os.waitstatus_to_exitcode(status) == 0
    logger.log("parent", 2)
    logger.close()
    assert [p["value"] for p in series(server, run_id, "child")] == list(range(50))
    assert [p["value"] for p in series(server, run_id, "parent")] == [1, 2]
