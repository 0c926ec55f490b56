"""
The run this process logs to, and ``get_logger()``: inside a submitted run the run named by
WHARF_RUN_ID (with WHARF_TRACKING_URI and WHARF_RUN_TOKEN); otherwise an interactive run, created
in the background on first use, completed at interpreter exit after uploading ./outputs, marked
Failed on an uncaught exception and Canceled on Ctrl-C or SIGTERM. When the server cannot be reached
the interactive run is kept in the spool, and ``wharf sync`` creates it later with all it logged.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, NoReturn

from .environment import read_environment
from .errors import WharfError
from .experiment import Experiment, script_name
from .ids import new_run_id
from .logger import PendingLog
from .retry import RetryPolicy, retry_request
from .run import Run
from .workspace import Workspace

_guard = threading.Lock()
_context: Run | None = None
_ending: str | None = None
_uncaught: BaseException | None = None
#: What the main thread passed to ``sys.exit()`` last (``raise SystemExit`` written out bypasses it).
_exit_status: str | int | None = None


def _after_fork_in_child() -> None:
    global _guard
    _guard = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_after_fork_in_child)


def _experiment_name(configured: str | None) -> str:
    if configured:
        return configured
    script = script_name()
    stem = re.sub(r"\.py$", "", script) if script else "interactive"
    cleaned = re.sub(r"^[^A-Za-z0-9]+", "", re.sub(r"[^A-Za-z0-9_.-]+", "-", stem))
    return cleaned or "interactive"


def _make_context_run() -> Run:
    env = read_environment()
    workspace = Workspace.from_config()
    if env.run_id is not None:
        # Inside a submitted run: the runner owns its lifecycle; this process only logs to it.
        run = Run(
            workspace, {"id": env.run_id, "experiment": env.experiment or "", "definition": None}, supervised=True
        )
        return run
    experiment = Experiment(workspace, _experiment_name(env.experiment))
    run_id = new_run_id()

    def start(run: Run) -> bool:
        info, offline = experiment.create_run(run_id, {}, when_unreachable="offline")
        run._info = info
        return offline

    run = Run(
        workspace, {"id": run_id, "experiment": experiment.name, "definition": None}, outputs="./outputs", start=start
    )
    _install_interactive_hooks(run)
    return run


def get_context_run(*, wait: bool = True) -> Run:
    """
    The run this process logs to (see the module's doc); the same one on every call. With ``wait`` (the
    default) its creation on the server is waited for; CONFIG_NOT_FOUND without a workspace config.
    """
    global _context
    with _guard:
        if _context is None:
            _context = _make_context_run()
        run = _context
    if wait:
        run._ensure_started()
    return run


def _exit_failure() -> str | None:
    """Why the script failed when it ended with ``sys.exit()`` of a non-zero status (None: it did not)."""
    status = _exit_status
    if status is None or status == 0:
        return None
    if isinstance(status, int):
        return f"the script exited with status {status} (sys.exit({status}))"
    return f"the script exited with status 1: {status}"


def _end_context_run(run: Run, owner_pid: int) -> None:
    if os.getpid() != owner_pid:
        return  # a forked child: its points are flushed at its exit, and the parent ends the run
    exit_failure = _exit_failure()
    status = (
        "Canceled"
        if _ending == "signal" or isinstance(_uncaught, KeyboardInterrupt)
        else ("Failed" if _uncaught is not None or exit_failure is not None else "Completed")
    )
    try:
        if status == "Completed":
            run.complete()
        elif status == "Failed":
            run.fail(_uncaught if _uncaught is not None else exit_failure)
        else:
            run.cancel()
    except WharfError as error:
        if run.spooled is None:
            sys.stderr.write(f"wharf: could not end run {run.id}: {error.message}\n")
    spooled = run.spooled
    if spooled is not None:
        what = (
            f"its creation, {spooled['points']} metric points, {spooled['files']} output files and its final status ({status})"
            if spooled["offline"]
            else f"{spooled['files']} output files, its final status ({status}) and any metric points not yet sent"
        )
        sys.stderr.write(
            f"wharf: warning: could not reach the Wharf server at {run.workspace.url}; run {run.id} (experiment "
            f'"{run.experiment}") is saved in {spooled["spool_dir"]}: {what}. Run `wharf sync` when the server is back.\n'
        )


def _install_interactive_hooks(run: Run) -> None:
    previous_hook = sys.excepthook

    def excepthook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        global _uncaught
        _uncaught = error
        previous_hook(kind, error, trace)

    sys.excepthook = excepthook
    previous_exit = sys.exit

    def exit_recording_status(status: str | int | None = None) -> NoReturn:
        # SystemExit reaches neither sys.excepthook nor atexit: the status is kept here to end the run Failed.
        global _exit_status
        if threading.current_thread() is threading.main_thread():
            _exit_status = status
        previous_exit(status)

    sys.exit = exit_recording_status
    atexit.register(_end_context_run, run, os.getpid())
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            global _ending
            _ending = "signal"
            sys.stderr.write(f"wharf: SIGTERM: storing logged metrics, then stopping run {run.id}\n")
            raise SystemExit(143)

        signal.signal(signal.SIGTERM, on_sigterm)


class _Task:
    """
    A piece of work started in the background; ``wait()`` blocks until it is done and raises its failure.
    A failure nobody is waiting for when it happens is printed as a warning, so it is never lost silently.
    """

    def __init__(self, work: Callable[[], Any], what: str) -> None:
        self._error: BaseException | None = None
        self._waited = False

        def body() -> None:
            try:
                work()
            except BaseException as error:
                self._error = error
                if not self._waited:
                    reason = error.message if isinstance(error, WharfError) else f"{type(error).__name__}: {error}"
                    sys.stderr.write(f"wharf: warning: {what} failed: {reason}\n")

        self._thread = threading.Thread(target=body, name="wharf-upload", daemon=False)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        self._waited = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise WharfError("SERVER_UNREACHABLE", f"the upload did not finish within {timeout} s; it goes on")
        if self._error is not None:
            raise self._error


class Logger:
    """The Workbench-style logger of the current run: ``get_logger().log(name, value)``."""

    def log(self, name: str, value: Any, step: int | None = None) -> PendingLog:
        """
        Logs a number, a string, or a list (consecutive points: a chart) and returns at once; a bad name,
        value or step raises here. ``.wait()`` on the result blocks until the point is durably stored.
        """
        run = get_context_run(wait=False)
        if isinstance(value, (list, tuple)):
            return run.log_list(name, value, step=step)
        return run.log(name, value, step=step)

    def upload(self, artifact_path: str, contents: str | bytes) -> _Task:
        """Stores text (or bytes) as the artifact ``artifact_path`` of the current run, in the background."""
        run = get_context_run(wait=False)
        # A PUT of the same bytes is idempotent: a server restart or a network cut is retried as metrics are.
        return _Task(
            lambda: retry_request(lambda: run.upload_content(artifact_path, contents), RetryPolicy()),
            f'the upload of artifact "{artifact_path}" to run {run.id}',
        )


_logger = Logger()


def get_logger() -> Logger:
    """The logger bound to the current run (see :func:`get_context_run`); the same object on every call."""
    return _logger
