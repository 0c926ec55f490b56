"""
MetricLogger: ``log()`` appends to an in-memory batch and returns at once; one background thread per
logger seals batches (by size, or after ``flush_interval``), sends them in order as MessagePack with
(writer id, sequence) so a retry is never stored twice, and when the retries run out writes them to
the spool file in the TypeScript SDK's format, replaying it once the server answers again.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .client import WharfClient
from .errors import WharfError, is_retryable
from .retry import RetryPolicy, backoff_delay, retry_request
from .spool import (
    SpoolWriter,
    is_valid_writer_id,
    keep_only,
    lock_spool_file,
    read_spool_lines,
    spool_file_path,
    spool_files_of_run,
    unlock_spool_file,
)
from .validation import check_metric_name, check_step, check_value
from .wire import ColumnBatch, Series, count_points, encode_msgpack_batch, encode_spool_line, parse_spool_line

_KNOWN_NAMES_CACHE = 10_000
#: Long enough for a server restart or a short network cut (as the TypeScript SDK).
DEFAULT_WAIT_TIMEOUT = 120.0


def _warn(error: WharfError) -> None:
    sys.stderr.write(f"wharf: warning: {error.message}\n")


@dataclass
class _Sealed:
    sequence: int
    series: list[Series]
    points: int
    spooled: bool = field(default=False)


class PendingLog:
    """What ``log()`` returns: ``wait()`` blocks until the point (and every one before it) is durably stored."""

    __slots__ = ("_logger", "sequence")

    def __init__(self, logger: MetricLogger, sequence: int) -> None:
        self._logger = logger
        self.sequence = sequence

    def wait(self, timeout: float | None = None) -> None:
        """
        Returns once the point is stored on the server (for a run logged offline: fsynced in the spool).
        Raises the server's refusal, SERVER_UNREACHABLE naming the spool file when an outage outlasts the
        logger's wait timeout (the points stay there for ``wharf sync``), or after ``timeout`` seconds.
        """
        self._logger._wait_for(self.sequence, timeout)

    def done(self) -> bool:
        """True once the point is stored (never raises)."""
        return self._logger._is_stored(self.sequence)


class MetricLogger:
    """Logs metric points of one run without blocking; see the module's doc. Thread-safe."""

    def __init__(
        self,
        *,
        client: WharfClient,
        run_id: str,
        spool_dir: str,
        writer_id: str | None = None,
        max_batch_points: int = 1000,
        flush_interval: float = 0.2,
        max_buffered_points: int = 100_000,
        retry: RetryPolicy | None = None,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
        offline: bool = False,
        on_error: Callable[[WharfError], None] | None = None,
        start: Callable[[], bool] | None = None,
    ) -> None:
        """
        ``start``, when given, runs on the sending thread before anything is sent and returns True when
        the run exists only in the spool (it was started while the server was unreachable): every batch
        then goes to the spool file. INVALID_ARGUMENT for a bad option.
        """
        writer_id = writer_id or str(uuid.uuid4())
        if not is_valid_writer_id(writer_id):
            raise WharfError(
                "INVALID_ARGUMENT", f'writer_id "{writer_id}" must be 1 to 128 letters, digits, "_" or "-"'
            )
        if not 1 <= max_batch_points <= 10_000:
            raise WharfError("INVALID_ARGUMENT", f"max_batch_points must be from 1 to 10000, got {max_batch_points}")
        self.run_id = run_id
        self.writer_id = writer_id
        self.spool_file = spool_file_path(spool_dir, run_id, writer_id)
        self._client = client
        self._workspace = client.workspace
        self._max_batch_points = max_batch_points
        self._flush_interval = flush_interval
        self._max_buffered = max(max_buffered_points, max_batch_points)
        self._policy = retry or RetryPolicy()
        self._wait_timeout = wait_timeout
        self._offline = offline
        self._on_error = on_error or _warn
        self._start = start
        self._started = start is None
        self._cond = threading.Condition()
        self._open: ColumnBatch | None = None
        self._open_at = 0.0
        self._next_sequence = 0
        self._queue: deque[_Sealed] = deque()
        self._queued_points = 0
        self._inflight: _Sealed | None = None
        self._mode = "spool" if offline else "direct"
        self._spool: SpoolWriter | None = None
        # True while one thread writes batches to the spool outside the lock (one writer at a time, in order).
        self._spool_writing = False
        self._spool_read = 0
        self._probe_failures = 0
        self._next_probe = 0.0
        self._settled_through = -1
        self._spooled_through = -1
        self._lost: dict[int, WharfError] = {}
        self._outage_since: float | None = None
        self._give_up_at_once = False
        self._spooled_points = 0
        self._closed = False
        self._stopped = False
        self._handle: PendingLog | None = None
        self._failure: WharfError | None = None
        self._died: WharfError | None = None
        self._known_names: set[str] = set()
        self._thread: threading.Thread | None = None
        self._start_thread()
        _live_loggers.add(self)

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"wharf-logger-{self.run_id}", daemon=True)
        self._thread.start()

    def _after_fork_in_child(self) -> None:
        """
        In a process forked from the one that made this logger: the parent's sending thread is not here,
        and what was buffered belongs to the parent, which sends it. The child's logger starts afresh, with
        a writer id (and spool file) of its own; its thread starts on its first ``log()``.
        """
        self._cond = threading.Condition()
        spool, self._spool = self._spool, None
        if spool is not None:
            spool.forget_in_child()
        self.writer_id = str(uuid.uuid4())
        self.spool_file = spool_file_path(os.path.dirname(self.spool_file), self.run_id, self.writer_id)
        self._start = None
        self._started = True  # the parent created the run
        self._open = None
        self._next_sequence = 0
        self._queue = deque()
        self._queued_points = 0
        self._inflight = None
        self._mode = "spool" if self._offline else "direct"
        self._spool_writing = False
        self._spool_read = 0
        self._probe_failures = 0
        self._next_probe = 0.0
        self._settled_through = -1
        self._spooled_through = -1
        self._lost = {}
        self._outage_since = None
        self._give_up_at_once = False
        self._spooled_points = 0
        self._handle = None
        self._thread = None

    # ------------------------------------------------------------------ logging

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called: ``log()`` raises from then on."""
        return self._closed

    @property
    def spooled_points(self) -> int:
        """Points this logger wrote to its spool file."""
        return self._spooled_points

    def log(self, name: str, value: Any, *, step: int | None = None, time_ms: int | None = None) -> PendingLog:
        """
        Buffers one point and returns at once. INVALID_ARGUMENT (or LIMIT_EXCEEDED) here for a bad name,
        value or step, and after ``close()``; INTERNAL once the sending thread stopped on an unexpected
        error (reported, its points spooled); never for a server problem.
        """
        # The hot path: a name is checked once; a plain float or int needs no more than a conversion.
        if name not in self._known_names:
            self._check_name(name)
        kind = type(value)
        checked = float(value) if kind is float or kind is int else check_value(name, value)
        if step is not None:
            check_step(name, step)
        at = int(time.time() * 1000) if time_ms is None else time_ms
        with self._cond:
            return self._handle_for(self._add_locked(name, checked, step, at))

    def log_list(
        self, name: str, values: Sequence[Any], *, step: int | None = None, time_ms: int | None = None
    ) -> PendingLog:
        """Logs a list as consecutive points of one metric (a chart); checks every value before buffering any."""
        if name not in self._known_names:
            self._check_name(name)
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise WharfError(
                "INVALID_ARGUMENT", f'metric "{name}": log a number, a string, or a non-empty list of them'
            )
        checked = [check_value(name, value) for value in values]
        if step is not None:
            check_step(name, step)
            check_step(name, step + len(checked) - 1)
        at = int(time.time() * 1000) if time_ms is None else time_ms
        with self._cond:
            sequence = -1
            for i, value in enumerate(checked):
                sequence = self._add_locked(name, value, None if step is None else step + i, at)
            return self._handle_for(sequence)

    def _check_name(self, name: str) -> None:
        check_metric_name(name)
        if len(self._known_names) < _KNOWN_NAMES_CACHE:
            self._known_names.add(name)

    def _handle_for(self, sequence: int) -> PendingLog:
        """The handle of batch ``sequence``: one object for all the points of a batch."""
        handle = self._handle
        if handle is None or handle.sequence != sequence:
            handle = self._handle = PendingLog(self, sequence)
        return handle

    def _add_locked(self, name: str, value: float | str, step: int | None, at: int) -> int:
        if self._died is not None:
            raise self._died  # the sending thread is gone: nothing logged now could be stored
        if self._closed:
            raise WharfError(
                "INVALID_ARGUMENT",
                f'the metric logger of run "{self.run_id}" is closed; create a new one to log more',
            )
        if self._thread is None:  # the first point of a forked child
            _flush_at_child_exit()
            self._start_thread()
        batch = self._open
        if batch is None:
            batch = self._open = ColumnBatch(self._next_sequence)
            self._next_sequence += 1
            self._open_at = time.monotonic()
            self._cond.notify_all()
        batch.add(name, value, step, at)
        if batch.points >= self._max_batch_points:
            self._seal_locked()
        return batch.sequence

    def _seal_locked(self) -> None:
        batch = self._open
        if batch is None:
            return
        self._open = None
        self._queue.append(_Sealed(batch.sequence, batch.series, batch.points))
        self._queued_points += batch.points
        self._cond.notify_all()

    # ------------------------------------------------------------------ waiting

    def _first_lost_through(self, sequence: int) -> WharfError | None:
        """The error of the first batch up to ``sequence`` that will never be stored (a wait covers all before it)."""
        if not self._lost:
            return None
        first = min(self._lost)
        return self._lost[first] if first <= sequence else None

    def _is_stored(self, sequence: int) -> bool:
        with self._cond:
            if self._first_lost_through(sequence) is not None:
                return False
            return sequence <= self._settled_through or (self._offline and sequence <= self._spooled_through)

    def _wait_for(self, sequence: int, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if self._open is not None and self._open.sequence <= sequence:
                self._seal_locked()
            while True:
                lost = self._first_lost_through(sequence)
                if lost is not None:
                    raise lost
                if sequence <= self._settled_through:
                    return
                if self._offline and sequence <= self._spooled_through:
                    return
                if self._stopped:
                    raise self._failure or self._stopped_error()
                now = time.monotonic()
                if sequence <= self._spooled_through and self._outage_since is not None:
                    patience = 0.0 if self._give_up_at_once else self._wait_timeout
                    if now - self._outage_since >= patience:
                        raise WharfError(
                            "SERVER_UNREACHABLE",
                            f'the Wharf server at {self._client.url} could not be reached; the metrics of run "{self.run_id}" '
                            f"wait in the spool file {self.spool_file}, and `wharf sync` sends them",
                            details={"spoolFile": self.spool_file, "runId": self.run_id},
                        )
                if deadline is not None and now >= deadline:
                    raise WharfError(
                        "SERVER_UNREACHABLE",
                        f'the metrics of run "{self.run_id}" were not all stored within {timeout} s; sending goes on',
                    )
                wake = 1.0 if deadline is None else max(0.0, min(1.0, deadline - now))
                self._cond.wait(wake)

    def flush(self, timeout: float | None = None) -> None:
        """Sends everything logged so far and returns once all of it is stored; raises the first failure."""
        with self._cond:
            last = self._next_sequence - 1
        if last >= 0:
            self._wait_for(last, timeout)

    def close(self, *, timeout: float | None = None, wait_for_server: bool = False) -> None:
        """
        Refuses further ``log()`` calls, then flushes. Whatever is still unsent when the flush ends (an
        outage, or the timeout) stays in the spool file for ``wharf sync`` and SERVER_UNREACHABLE says so.
        Without ``wait_for_server`` an outage is not waited out. Idempotent.
        """
        with self._cond:
            if self._stopped:
                return
            self._closed = True
            if not wait_for_server:
                self._give_up_at_once = True
            self._cond.notify_all()
        failure: WharfError | None = None
        try:
            self.flush(timeout)
        except WharfError as error:
            failure = error
        unsent = self.spool_points_in_memory()
        self._stop()
        if failure is None:
            return
        if unsent == 0 and not is_retryable(failure):
            raise failure
        raise WharfError(
            "SERVER_UNREACHABLE",
            f'metric points of run "{self.run_id}" could not all be sent ({failure.message}); they are saved in '
            f"{self.spool_file}, and `wharf sync` sends them",
            details={"spoolFile": self.spool_file, "runId": self.run_id},
        )

    def _stop(self) -> None:
        with self._cond:
            while self._spool_writing:
                self._cond.wait()
            if self._stopped:
                return
            self._stopped = True
            spool = self._spool
            self._spool = None
            if spool is not None:
                spool.close(remove=self._spool_read >= spool.written)
            self._cond.notify_all()
        _live_loggers.discard(self)

    def _stopped_error(self) -> WharfError:
        return WharfError(
            "SERVER_UNREACHABLE",
            f'the metric logger of run "{self.run_id}" was closed before these points were acknowledged; they are saved '
            f"in {self.spool_file}, and `wharf sync` sends them (a batch already stored is not stored twice)",
            details={"spoolFile": self.spool_file, "runId": self.run_id},
        )

    def spool_points_in_memory(self) -> int:
        """Writes every point still in memory (open, queued, in flight) to the spool file, in order; returns how many."""
        with self._cond:
            if self._stopped:
                return 0
            self._seal_locked()
        return self._divert()

    # ------------------------------------------------------------------ the sending thread

    def _divert(self) -> int:
        """
        Moves the batch in flight (its outcome unknown) and every queued batch to the spool, in order;
        returns how many points were written. Called without the lock: the batches are taken off under
        it, written and fsynced outside it (``log()`` never waits for the disk), and accounted under it.
        """
        with self._cond:
            while self._spool_writing:
                self._cond.wait()
            if self._stopped:
                return 0
            batches: list[_Sealed] = []
            if self._inflight is not None and not self._inflight.spooled:
                batches.append(self._inflight)
            batches.extend(self._queue)
            self._queue.clear()
            self._queued_points = 0
            if not batches:
                return 0
            self._mode = "spool"
            self._spool_writing = True
            spool = self._spool
        failure: WharfError | None = None
        try:
            spool, failure = self._write_spool(spool, batches)
        finally:
            with self._cond:
                self._spool_writing = False
                if spool is not None:
                    self._spool = spool
                if failure is None:
                    for batch in batches:
                        batch.spooled = True
                        self._spooled_points += batch.points
                        self._spooled_through = max(self._spooled_through, batch.sequence)
                    if self._outage_since is None and not self._offline:
                        self._outage_since = time.monotonic()
                else:
                    for batch in batches:
                        self._lost[batch.sequence] = failure
                        self._settled_through = max(self._settled_through, batch.sequence)
                self._cond.notify_all()
        if failure is not None:
            self._report(failure)
            return 0
        return sum(batch.points for batch in batches)

    def _write_spool(
        self, spool: SpoolWriter | None, batches: list[_Sealed]
    ) -> tuple[SpoolWriter | None, WharfError | None]:
        """Appends the batches to the spool file (opened when needed); the writer, and the error that lost them."""
        try:
            lines = [
                encode_spool_line(
                    run_id=self.run_id,
                    workspace=self._workspace,
                    writer_id=self.writer_id,
                    sequence=batch.sequence,
                    series=batch.series,
                )
                for batch in batches
            ]
            if spool is None:
                spool = SpoolWriter(self.spool_file)
            spool.append(lines)
        except Exception as cause:
            points = sum(batch.points for batch in batches)
            return spool, WharfError(
                "INTERNAL",
                f'could not save {points} metric points of run "{self.run_id}" to the spool file {self.spool_file} '
                f"({cause}); they are lost. Check that the folder is writable and has space",
            )
        return spool, None

    def _report(self, error: WharfError) -> None:
        try:
            self._on_error(error)
        except Exception as handler_error:
            sys.stderr.write(f"wharf: warning: the on_error handler of a MetricLogger raised: {handler_error}\n")

    def _run_start(self) -> None:
        if self._start is None:
            return
        try:
            offline = self._start()
        except WharfError as error:
            with self._cond:
                # The run does not exist: nothing logged to it can be stored.
                self._failure = error
                self._stopped = True
                for sequence in range(self._next_sequence):
                    self._lost[sequence] = error
                self._cond.notify_all()
            return
        with self._cond:
            self._started = True
            if offline:
                self._offline = True
                self._mode = "spool"
            self._cond.notify_all()

    def _replay_earlier_spools(self) -> None:
        """
        Sends what earlier loggers of this run left in their spool files (a process killed during an
        outage, say) before anything of this one, so steps stay in logging order. Files a live process
        holds are left alone; a file the server cannot take yet is kept for ``wharf sync``.
        """
        for file in spool_files_of_run(os.path.dirname(self.spool_file), self.run_id):
            if file == self.spool_file or lock_spool_file(file) is not None:
                continue
            try:
                kept_from: int | None = None
                line_start = 0
                end = os.path.getsize(file)
                for text, line_end in read_spool_lines(file, 0, end):
                    record = parse_spool_line(text)
                    if record is not None:
                        try:
                            retry_request(partial(self._send_record, record), self._policy)
                        except WharfError as error:
                            if is_retryable(error):
                                kept_from = line_start
                                break
                            self._report(error)  # refused for good, as it would have been if sent directly
                    line_start = line_end
                if kept_from is None:
                    os.unlink(file)
                elif kept_from > 0:
                    keep_only(file, kept_from, end)
            except OSError as error:
                self._report(
                    WharfError(
                        "INTERNAL", f"could not replay the spool file {file} ({error}); it is kept for `wharf sync`"
                    )
                )
            finally:
                unlock_spool_file(file)

    def _send_record(self, record: dict[str, Any]) -> None:
        body = encode_msgpack_batch(writer_id=record["writerId"], sequence=record["sequence"], series=record["series"])
        self._client.log_metrics(self.run_id, body)

    def _loop(self) -> None:
        try:
            self._loop_until_stopped()
        except BaseException as cause:  # whatever it is, waiters must hear of it and points stay safe
            self._die(cause)

    def _die(self, cause: BaseException) -> None:
        """
        The sending thread met an error it has no answer for (a bug, an unexpected library error): what is
        in memory goes to the spool for ``wharf sync``, waits and further ``log()`` calls raise, reported once.
        """
        error = WharfError(
            "INTERNAL",
            f'the metric logger of run "{self.run_id}" stopped sending after an unexpected error '
            f"({type(cause).__name__}: {cause}); points logged before it are saved in {self.spool_file} "
            "for `wharf sync` (those already stored are not stored twice)",
            details={"spoolFile": self.spool_file, "runId": self.run_id},
        )
        try:
            with self._cond:
                self._seal_locked()
            self._divert()
        except BaseException as spool_error:
            sys.stderr.write(f"wharf: warning: could not spool the points of run {self.run_id}: {spool_error}\n")
        with self._cond:
            self._failure = self._died = error
            self._closed = True
            self._cond.notify_all()
        self._stop()
        self._report(error)

    def _loop_until_stopped(self) -> None:
        self._run_start()
        if not self._offline and not self._stopped:
            self._replay_earlier_spools()
        while True:
            action: str
            batch: _Sealed | None = None
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    now = time.monotonic()
                    if self._open is not None and (now - self._open_at >= self._flush_interval or self._closed):
                        self._seal_locked()
                    if self._queue and (self._mode == "spool" or self._queued_points > self._max_buffered):
                        action = "divert"
                        break
                    if self._mode == "direct" and self._queue:
                        batch = self._queue.popleft()
                        self._queued_points -= batch.points
                        self._inflight = batch
                        action = "send"
                        break
                    if (
                        self._mode == "spool"
                        and not self._offline
                        and self._spool is not None
                        and now >= self._next_probe
                    ):
                        action = "replay"
                        break
                    waits = [1.0]
                    if self._open is not None:
                        waits.append(self._open_at + self._flush_interval - now)
                    if self._mode == "spool" and not self._offline:
                        waits.append(self._next_probe - now)
                    self._cond.wait(max(0.001, min(waits)))
            if action == "divert":
                self._divert()
            elif action == "send" and batch is not None:
                self._send_direct(batch)
            else:
                self._replay_own_spool()

    def _send(self, sequence: int, series: list[Series]) -> None:
        body = encode_msgpack_batch(writer_id=self.writer_id, sequence=sequence, series=series)
        result = self._client.log_metrics(self.run_id, body)
        points = count_points(series)
        if result.get("duplicate") and result.get("accepted") != points:
            raise WharfError(
                "DUPLICATE_BATCH_MISMATCH",
                f'run "{self.run_id}" already holds batch {sequence} of writer "{self.writer_id}" with '
                f"{result.get('accepted')} points, not {points}: the writer id was reused; give every logger its own",
            )

    def _send_direct(self, batch: _Sealed) -> None:
        try:
            retry_request(
                lambda: self._send(batch.sequence, batch.series),
                self._policy,
                should_stop=lambda: batch.spooled or self._stopped,
            )
        except WharfError as error:
            report: WharfError | None = None
            with self._cond:
                settled = self._stopped or batch.spooled  # in the spool already: its replay decides
            if not settled and is_retryable(error):
                self._divert()  # the batch in flight first, then the queue
            with self._cond:
                self._inflight = None
                if settled:
                    pass
                elif not is_retryable(error):
                    report = error
                    self._lost[batch.sequence] = error
                    self._settled_through = max(self._settled_through, batch.sequence)
                elif batch.spooled and not self._stopped:  # (not spooled: the spool write failed, and said so)
                    self._probe_failures = self._policy.attempts
                    self._next_probe = time.monotonic() + backoff_delay(self._policy, self._probe_failures)
                    report = WharfError(
                        error.code,
                        f"{error.message}; metric batches of run {self.run_id} go to the spool file {self.spool_file} "
                        "and are sent when the server answers again (or by `wharf sync`)",
                    )
                self._cond.notify_all()
            if report is not None:
                self._report(report)
            return
        with self._cond:
            self._inflight = None
            if not batch.spooled:
                self._settled_through = max(self._settled_through, batch.sequence)
            self._cond.notify_all()

    def _replay_own_spool(self) -> None:
        with self._cond:
            spool = self._spool
            if spool is None:
                return
            start, end, file = self._spool_read, spool.written, spool.file
        for text, line_end in read_spool_lines(file, start, end):
            record = parse_spool_line(text)
            stored: int | None = None
            if record is not None and not (
                record["sequence"] <= self._settled_through and record["sequence"] not in self._lost
            ):
                try:
                    self._send(record["sequence"], record["series"])
                    stored = record["sequence"]
                except WharfError as error:
                    with self._cond:
                        if self._stopped:
                            return
                        if is_retryable(error):
                            self._probe_failures += 1
                            self._next_probe = time.monotonic() + backoff_delay(self._policy, self._probe_failures)
                            return
                        self._lost[record["sequence"]] = error
                        self._settled_through = max(self._settled_through, record["sequence"])
                    self._report(error)
            with self._cond:
                if self._stopped:
                    return
                self._spool_read = line_end
                self._probe_failures = 0
                self._outage_since = None
                if stored is not None:
                    self._settled_through = max(self._settled_through, stored)
                self._cond.notify_all()
        with self._cond:
            if self._stopped or self._spool_writing or self._spool is not spool or self._spool_read < spool.written:
                return
            # Drained: the file goes, and sending is direct again.
            spool.close(remove=True)
            self._spool = None
            self._spool_read = 0
            self._mode = "direct"
            self._outage_since = None
            self._cond.notify_all()


_live_loggers: weakref.WeakSet[MetricLogger] = weakref.WeakSet()

#: How long the exit hook waits for a reachable server to take what is still in memory.
EXIT_FLUSH_SECONDS = 30.0


def flush_all_at_exit() -> None:
    """At interpreter exit: every live logger sends what it holds (or spools it) and lets go of its spool file."""
    for logger in list(_live_loggers):
        try:
            logger.close(timeout=EXIT_FLUSH_SECONDS)
        except WharfError as error:
            _warn(error)


atexit.register(flush_all_at_exit)

_child_finalizer_pid = 0


def _flush_at_child_exit() -> None:
    """
    A child that multiprocessing forked ends with ``os._exit`` after its own exit hooks, not ``atexit``'s:
    its loggers are flushed by one of those hooks, registered when it first logs.
    """
    global _child_finalizer_pid
    if _child_finalizer_pid == os.getpid():
        return
    _child_finalizer_pid = os.getpid()
    multiprocessing_util = sys.modules.get("multiprocessing.util")
    if multiprocessing_util is not None:
        multiprocessing_util.Finalize(None, flush_all_at_exit, exitpriority=100)


def _loggers_after_fork_in_child() -> None:
    for logger in list(_live_loggers):
        logger._after_fork_in_child()


os.register_at_fork(after_in_child=_loggers_after_fork_in_child)
