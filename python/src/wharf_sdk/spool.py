"""
The spool: metric batches and runs kept on disk while the server cannot be reached, in the folder
and file format of the TypeScript SDK (``<spoolDir>/<runId>.<writerId>.jsonl``, one JSON batch a line;
``<spoolDir>/runs/<runId>/run.jsonl`` plus ``files/`` for a run's life), so ``wharf sync`` replays them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import WharfError

SPOOL_SUFFIX = ".jsonl"
_WRITER_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_RUN_RECORD_VERSION = 2
_held_locks: set[str] = set()
_locks_guard = threading.Lock()


def _encode_component(value: str) -> str:
    from .client import encode_segment

    return encode_segment(value)


def is_valid_writer_id(writer_id: str) -> bool:
    """True when ``writer_id`` can name a spool file and travel as a batch's writer id."""
    return bool(_WRITER_ID.match(writer_id))


def spool_file_path(spool_dir: str, run_id: str, writer_id: str) -> str:
    """The spool file of one writer of one run."""
    return os.path.join(spool_dir, f"{_encode_component(run_id)}.{writer_id}{SPOOL_SUFFIX}")


def fsync_directory(folder: str) -> None:
    """Fsyncs a folder so a file just created in it survives a machine crash; never raises."""
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # Some filesystems refuse to sync a directory; the file's own fsync holds its data.


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def lock_spool_file(file: str) -> str | None:
    """
    Takes ``<file>.lock`` (holding this process's id) so that ``wharf sync`` leaves a file its writer
    still appends to alone; a lock left by a process that is gone is taken over. Returns why not, or None.
    """
    with _locks_guard:
        if file in _held_locks:
            return "in use in this process"
        lock = f"{file}.lock"
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pass
            else:
                try:
                    os.write(fd, f"{os.getpid()}\n".encode())
                finally:
                    os.close(fd)
                _held_locks.add(file)
                return None
            try:
                pid = int(Path(lock).read_text().strip() or "0")
            except (OSError, ValueError):
                pid = 0
            if pid > 0 and pid != os.getpid() and _process_alive(pid):
                return f"in use by process {pid}"
            # The lock's owner is gone (a crash or a kill): the file is orphaned and ours to take.
            try:
                os.unlink(lock)
            except OSError:
                pass
        return "its lock changed hands while taking it"


def _spool_locks_after_fork_in_child() -> None:
    # The parent holds these files' locks, not the child; and the guard may have been held at the fork.
    global _locks_guard
    _locks_guard = threading.Lock()
    _held_locks.clear()


os.register_at_fork(after_in_child=_spool_locks_after_fork_in_child)


def unlock_spool_file(file: str) -> None:
    """Releases a lock taken with :func:`lock_spool_file`."""
    with _locks_guard:
        if file not in _held_locks:
            return
        _held_locks.discard(file)
    try:
        os.unlink(f"{file}.lock")
    except OSError:
        pass


class SpoolWriter:
    """The append side of one writer's spool file: whole lines, each append fsynced before it returns."""

    def __init__(self, file: str) -> None:
        os.makedirs(os.path.dirname(file), exist_ok=True)
        reason = lock_spool_file(file)
        if reason is not None:
            raise WharfError("INTERNAL", f"the spool file {file} is {reason}; give every logger its own writer id")
        self.file = file
        try:
            self._fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError:
            unlock_spool_file(file)
            raise
        self.written = os.fstat(self._fd).st_size
        fsync_directory(os.path.dirname(file))
        self._needs_newline = False
        self._closed = False

    def append(self, lines: list[str]) -> None:
        """Appends lines in order and fsyncs; raises the OSError when the disk refuses."""
        if self._closed:
            raise WharfError("INTERNAL", f"the spool file {self.file} is already closed")
        data = (("\n" if self._needs_newline else "") + "".join(lines)).encode("utf-8")
        try:
            view = memoryview(data)
            while view:
                done = os.write(self._fd, view)
                view = view[done:]
        except OSError:
            # A partial line may be in the file: the next append starts on a fresh line; the replay skips it.
            self._needs_newline = True
            self.written = os.fstat(self._fd).st_size
            raise
        self._needs_newline = False
        self.written += len(data)
        try:
            os.fsync(self._fd)
        except OSError:
            pass  # The data is in the page cache: only a machine crash could lose it now.

    def forget_in_child(self) -> None:
        """In a forked child: lets go of the parent's file (closes this process's descriptor) and leaves its lock."""
        self._closed = True
        try:
            os.close(self._fd)
        except OSError:
            pass

    def close(self, *, remove: bool) -> None:
        """Stops appending and releases the lock; ``remove`` deletes the file (every line in it is stored)."""
        if self._closed:
            return
        self._closed = True
        try:
            os.close(self._fd)
        except OSError:
            pass
        if remove:
            try:
                os.unlink(self.file)
            except OSError:
                pass
        unlock_spool_file(self.file)


def read_spool_lines(file: str, start: int, end: int) -> Iterator[tuple[str, int]]:
    """The complete lines between two byte offsets, each with the offset just past it."""
    with open(file, "rb") as stream:
        stream.seek(start)
        offset = start
        while offset < end:
            line = stream.readline(end - offset)
            if not line:
                return
            offset += len(line)
            if not line.endswith(b"\n"):
                return
            yield line.decode("utf-8", errors="replace"), offset


# ---------------------------------------------------------------------------------------- runs


def spooled_run_folder(spool_dir: str, run_id: str) -> str:
    """The folder holding what is spooled of a run besides its metrics."""
    return os.path.join(spool_dir, "runs", _encode_component(run_id))


def _append_run_record(spool_dir: str, run_id: str, record: dict[str, Any]) -> None:
    folder = spooled_run_folder(spool_dir, run_id)
    os.makedirs(folder, exist_ok=True)
    line = json.dumps({"v": _RUN_RECORD_VERSION, **record}, separators=(",", ":"), ensure_ascii=False) + "\n"
    fd = os.open(os.path.join(folder, "run.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def spool_run_creation(spool_dir: str, creation: dict[str, Any]) -> None:
    """Records (fsynced) that a run was started while the server was unreachable; ``wharf sync`` creates it."""
    _append_run_record(spool_dir, creation["runId"], {"kind": "create", **creation})


def spool_run_ending(spool_dir: str, *, run_id: str, workspace: str, ending: dict[str, Any]) -> None:
    """Records (fsynced) how a run ended; ``wharf sync`` sets it once the run's metrics are in."""
    _append_run_record(spool_dir, run_id, {"kind": "end", "runId": run_id, "workspace": workspace, **ending})


def spool_run_artifact(spool_dir: str, *, run_id: str, workspace: str, artifact_path: str, source: str | bytes) -> None:
    """Keeps a file (a path to copy, or bytes) as the artifact ``artifact_path`` for ``wharf sync`` to upload."""
    key = "/".join(part for part in artifact_path.replace("\\", "/").split("/") if part not in ("", "."))
    target = os.path.join(spooled_run_folder(spool_dir, run_id), "files", *key.split("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if isinstance(source, bytes):
        with open(target, "wb") as out:
            out.write(source)
            out.flush()
            os.fsync(out.fileno())
    else:
        shutil.copyfile(source, target)
    _append_run_record(spool_dir, run_id, {"kind": "artifact", "runId": run_id, "workspace": workspace, "path": key})


def keep_only(file: str, start: int, end: int) -> None:
    """Rewrites ``file`` to hold only bytes [start, end), atomically (temp file, fsync, rename)."""
    temp = f"{file}.{os.getpid()}.tmp"
    with open(file, "rb") as source, open(temp, "wb") as out:
        source.seek(start)
        remaining = end - start
        while remaining > 0:
            chunk = source.read(min(remaining, 1024 * 1024))
            if not chunk:
                break
            out.write(chunk)
            remaining -= len(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, file)
    fsync_directory(os.path.dirname(file))


def spool_files_of_run(spool_dir: str, run_id: str) -> list[str]:
    """The spool files of one run, by name (every writer that spooled for it)."""
    prefix = f"{_encode_component(run_id)}."
    try:
        names = sorted(os.listdir(spool_dir))
    except FileNotFoundError:
        return []
    return [
        os.path.join(spool_dir, name)
        for name in names
        if name.startswith(prefix)
        and name.endswith(SPOOL_SUFFIX)
        and is_valid_writer_id(name[len(prefix) : -len(SPOOL_SUFFIX)])
    ]
