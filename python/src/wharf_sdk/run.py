"""A run: log metrics without waiting, upload and download its files, read it back, and end it."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from .errors import WharfError, is_retryable
from .logger import MetricLogger, PendingLog
from .model import Model
from .pool import run_pool
from .retry import RetryPolicy, retry_request
from .spool import spool_run_artifact, spool_run_ending, spooled_run_folder
from .validation import check_asset_alias

if TYPE_CHECKING:
    from .workspace import Workspace

#: How long ending a run waits for the server to take the metrics still unsent, through an outage.
END_WAIT_SECONDS = 30.0
TERMINAL_STATUSES = ("Completed", "Failed", "Canceled")
MetricValue = float | str

_IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}


def now_iso() -> str:
    """The current time as the server writes it (ISO 8601, UTC, milliseconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def artifact_key(name: str) -> str:
    """An artifact path with forward slashes and no empty or "." segments; UNSAFE_PATH for ".."."""
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        raise WharfError("UNSAFE_PATH", f'artifact path "{name}" is empty or has a ".." segment; give a relative path')
    return "/".join(parts)


class Run:
    """
    One run. Obtained from ``Experiment.start_logging()``, ``Run.get()`` or ``Run.get_context()``. As a
    context manager it completes the run when the block ends, or marks it Failed with the exception.
    """

    def __init__(
        self,
        workspace: Workspace,
        info: dict[str, Any],
        *,
        outputs: str | None = None,
        offline: bool = False,
        supervised: bool = False,
        start: Callable[[Run], bool] | None = None,
    ) -> None:
        self.workspace = workspace
        self.id: str = info["id"]
        self.experiment: str = info["experiment"]
        self._info = info
        self._outputs = outputs
        self._offline = offline
        self._supervised = supervised
        self._row_steps: dict[str, int] = {}
        self._logger: MetricLogger | None = None
        self._lock = threading.Lock()
        _live_runs.add(self)
        self._start = start
        self._start_done = start is None
        self._start_error: WharfError | None = None
        self._finished: dict[str, Any] | None = None
        self.spooled: dict[str, Any] | None = None
        """What the run left in the spool when it ended (the server could not be reached), else None."""

    # ------------------------------------------------------------------ identity and lifecycle helpers

    def _ensure_started(self) -> bool:
        """Runs the deferred start (creating the run on the server) once; returns True when it is offline."""
        with self._lock:
            if not self._start_done:
                self._start_done = True
                assert self._start is not None
                try:
                    self._offline = self._start(self)
                except WharfError as error:
                    self._start_error = error
            if self._start_error is not None:
                raise self._start_error
            return self._offline

    @property
    def info(self) -> dict[str, Any]:
        """The run as last read or changed through this handle."""
        return self._info

    @property
    def offline(self) -> bool:
        """True while the run exists only in the spool (it was started while the server was unreachable)."""
        return self._offline

    @property
    def _runner_owns_status(self) -> bool:
        return self._supervised or self._info.get("definition") is not None

    @staticmethod
    def get(workspace: Workspace, run_id: str) -> Run:
        """An existing run; RUN_NOT_FOUND when there is none with this id."""
        return Run(workspace, workspace.client.get_run(run_id))

    @staticmethod
    def get_context() -> Run:
        """
        The run this process belongs to: the submitted run (WHARF_RUN_ID, WHARF_TRACKING_URI,
        WHARF_RUN_TOKEN) or, outside one, an interactive run started on first use and ended with the process.
        """
        from .context import get_context_run

        return get_context_run()

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if error is None:
            self.complete()
        elif isinstance(error, KeyboardInterrupt):
            self.cancel()
        else:
            self.fail(error)

    # ------------------------------------------------------------------ metrics

    @property
    def logger(self) -> MetricLogger:
        """This run's metric logger, made on first use."""
        with self._lock:
            if self._logger is None:
                if self._finished is not None:
                    raise WharfError(
                        "INVALID_ARGUMENT",
                        f'run "{self.id}" has ended ({self._finished.get("status")}); start a new run to log more',
                    )
                start = None if self._start_done else (lambda: self._ensure_started())
                self._logger = MetricLogger(
                    client=self.workspace.client,
                    run_id=self.id,
                    spool_dir=self.workspace.spool_dir,
                    offline=self._offline,
                    start=start,
                )
            return self._logger

    def log(self, name: str, value: Any, step: int | None = None, description: str | None = None) -> PendingLog:
        """
        Logs one value (a number, a bool as 1/0, a string; a list goes to :meth:`log_list`) and returns at
        once. A bad name, value or step raises here; ``.wait()`` on the result blocks until it is stored.
        """
        logger = self._logger or self.logger
        kind = type(value)
        if kind is float or kind is int:  # the hot path
            return logger.log(name, value, step=step)
        if isinstance(value, (list, tuple)):
            return self.log_list(name, value, step=step)
        if isinstance(value, bool):
            value = 1 if value else 0
        return logger.log(name, value, step=step)

    def log_list(
        self, name: str, values: Sequence[Any], step: int | None = None, description: str | None = None
    ) -> PendingLog:
        """Logs a list as consecutive points of one metric (a chart); with ``step``, the first is at that step."""
        return self.logger.log_list(name, [1 if v is True else 0 if v is False else v for v in values], step=step)

    def log_row(self, name: str, description: str | None = None, **row: Any) -> PendingLog:
        """Logs one row of a table: each column becomes the metric ``<name>/<column>``, all at the row's index as step."""
        if not row:
            raise WharfError(
                "INVALID_ARGUMENT", f'log_row("{name}") needs at least one column, e.g. log_row("{name}", x=1)'
            )
        step = self._row_steps.get(name, 0)
        self._row_steps[name] = step + 1
        last: PendingLog | None = None
        for column, value in row.items():
            last = self.logger.log(f"{name}/{column}", value, step=step)
        assert last is not None
        return last

    def log_table(self, name: str, value: Mapping[str, Sequence[Any]], description: str | None = None) -> PendingLog:
        """Logs a table given as columns (``{"epoch": [1, 2], "loss": [0.5, 0.4]}``) as rows, in order."""
        columns = list(value.items())
        length = len(columns[0][1]) if columns else 0
        if not columns or length == 0 or any(len(values) != length for _, values in columns):
            raise WharfError("INVALID_ARGUMENT", f'log_table("{name}") needs non-empty columns of equal length')
        last: PendingLog | None = None
        for i in range(length):
            last = self.log_row(name, **{column: values[i] for column, values in columns})
        assert last is not None
        return last

    def log_image(
        self, name: str, path: str | None = None, plot: Any = None, description: str | None = None
    ) -> dict[str, Any]:
        """
        Uploads an image (a file, or a matplotlib figure as PNG) as the artifact ``images/<name>.<ext>`` and
        logs the metric ``<name>`` with that path as text, so the studio can show it.
        """
        safe = "".join(char if char.isalnum() or char in "_.-" else "_" for char in name)
        if path is not None:
            ext = Path(path).suffix.lower() or ".png"
            artifact = self.upload_file(f"images/{safe}{ext}", path)
        elif plot is not None:
            buffer = io.BytesIO()
            figure = plot.gcf() if hasattr(plot, "gcf") else plot
            figure.savefig(buffer, format="png")
            artifact = self._upload_bytes(f"images/{safe}.png", buffer.getvalue(), "image/png")
        else:
            raise WharfError(
                "INVALID_ARGUMENT", f'log_image("{name}") needs path= (an image file) or plot= (a matplotlib figure)'
            )
        self.logger.log(name, artifact["path"]).wait()
        return artifact

    def flush(self, timeout: float | None = 300.0) -> None:
        """Blocks until everything logged so far is stored; raises a WharfError if it cannot be."""
        if self._logger is not None:
            self._logger.flush(timeout)

    def get_metrics(self, name: str | None = None) -> dict[str, MetricValue | list[MetricValue]]:
        """The run's metrics: a single value for a metric logged once, else the list in step order."""
        self.flush()
        client = self.workspace.client
        names = [name] if name is not None else [m["name"] for m in client.list_metrics(self.id)]
        result: dict[str, MetricValue | list[MetricValue]] = {}
        for one in names:
            values = [_point_value(point) for point in client.get_metric_series(self.id, one)]
            result[one] = values[0] if len(values) == 1 else values
        return result

    # ------------------------------------------------------------------ tags and properties

    def tag(self, key: str, value: str = "") -> None:
        """Sets one tag (a bare tag has the empty string as value). Tags can change."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self._ensure_started()
        self._info = self.workspace.client.update_tags(self.id, set={k: str(v) for k, v in tags.items()})

    def remove_tags(self, keys: Sequence[str]) -> None:
        self._info = self.workspace.client.update_tags(self.id, remove=list(keys))

    def get_tags(self) -> dict[str, str]:
        return dict(self.refresh()["tags"])

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Adds properties; they never change once set (PROPERTY_IMMUTABLE if one would)."""
        self._ensure_started()
        self._info = self.workspace.client.add_properties(self.id, {k: str(v) for k, v in properties.items()})

    def get_properties(self) -> dict[str, str]:
        return dict(self.refresh()["properties"])

    # ------------------------------------------------------------------ files

    def _upload_bytes(self, name: str, content: bytes, content_type: str) -> dict[str, Any]:
        key = artifact_key(name)
        if self._ensure_started():
            spool_run_artifact(
                self.workspace.spool_dir,
                run_id=self.id,
                workspace=self.workspace.name,
                artifact_path=key,
                source=content,
            )
            return {"runId": self.id, "path": key, "size": len(content)}
        return self.workspace.client.upload_artifact(self.id, key, content, content_type=content_type)

    def upload_content(self, name: str, content: str | bytes) -> dict[str, Any]:
        """Stores text (UTF-8) or bytes as the artifact ``name``; kept in the spool for an offline run."""
        if isinstance(content, str):
            return self._upload_bytes(name, content.encode("utf-8"), "text/plain; charset=utf-8")
        return self._upload_bytes(name, bytes(content), "application/octet-stream")

    def upload_file(self, name: str, path_or_stream: str | os.PathLike[str] | IO[bytes]) -> dict[str, Any]:
        """Uploads a local file (streamed, never read whole) or a binary stream as the artifact ``name``."""
        key = artifact_key(name)
        offline = self._ensure_started()
        if not isinstance(path_or_stream, (str, os.PathLike)):
            if offline:
                return self._upload_bytes(key, path_or_stream.read(), "application/octet-stream")
            return self.workspace.client.upload_artifact(self.id, key, path_or_stream)
        file = Path(path_or_stream)
        if not file.is_file():
            raise WharfError("FILE_NOT_FOUND", f"cannot read {file}: no such file; use upload_folder for folders")
        _, ext = os.path.splitext(file.name)
        if offline:
            spool_run_artifact(
                self.workspace.spool_dir,
                run_id=self.id,
                workspace=self.workspace.name,
                artifact_path=key,
                source=str(file),
            )
            return {"runId": self.id, "path": key, "size": file.stat().st_size}
        with open(file, "rb") as stream:
            return self.workspace.client.upload_artifact(
                self.id, key, stream, size=file.stat().st_size, content_type=_IMAGE_TYPES.get(ext.lower())
            )

    def upload_files(self, names: Sequence[str], paths: Sequence[str]) -> list[dict[str, Any]]:
        """Uploads files to the artifact names at the same positions, eight at a time."""
        if len(names) != len(paths):
            raise WharfError("INVALID_ARGUMENT", f"upload_files got {len(names)} names for {len(paths)} paths")
        return run_pool(lambda pair: self.upload_file(*pair), list(zip(names, paths, strict=True)))

    def upload_folder(self, name: str, path: str | os.PathLike[str]) -> list[dict[str, Any]]:
        """Uploads every file under ``path`` as ``<name>/<relative path>``."""
        root = Path(path)
        files = sorted(p for p in root.rglob("*") if p.is_file())
        prefix = name.strip("/")
        names = [
            f"{prefix}/{p.relative_to(root).as_posix()}" if prefix else p.relative_to(root).as_posix() for p in files
        ]
        return self.upload_files(names, [str(p) for p in files])

    def get_file_names(self, prefix: str | None = None) -> list[str]:
        """Paths of the run's artifacts (under ``prefix`` when given)."""
        return [a["path"] for a in self.workspace.client.list_artifacts(self.id, prefix)]

    def download_file(self, name: str, output_file_path: str | None = None, *, overwrite: bool = False) -> str:
        """
        Downloads one artifact to ``output_file_path`` (default: its file name in the current folder),
        verified by SHA-256. An identical file there is left alone; FILE_EXISTS for another unless ``overwrite``.
        """
        artifact = next((a for a in self.workspace.client.list_artifacts(self.id, name) if a["path"] == name), None)
        if artifact is None:
            raise WharfError(
                "ARTIFACT_NOT_FOUND", f'run "{self.id}" has no artifact "{name}"; run.get_file_names() lists them'
            )
        target = Path(output_file_path or Path(name).name).resolve()
        if target.is_dir():
            target = target / Path(name).name
        self._download(artifact, target, overwrite=overwrite)
        return str(target)

    def download_files(
        self, prefix: str | None = None, output_directory: str = ".", *, overwrite: bool = False
    ) -> list[str]:
        """Downloads the artifacts under ``prefix`` (all by default) into ``output_directory``, keeping their paths."""
        root = Path(output_directory).resolve()
        placed = []
        for artifact in self.workspace.client.list_artifacts(self.id, prefix):
            target = root.joinpath(*artifact["path"].split("/"))
            self._download(artifact, target, overwrite=overwrite)
            placed.append(str(target))
        return sorted(placed)

    def _download(self, artifact: Mapping[str, Any], target: Path, *, overwrite: bool) -> None:
        if target.exists():
            if _sha256_of(target) == artifact["sha256"]:
                return
            if not overwrite:
                raise WharfError(
                    "FILE_EXISTS",
                    f"{target} exists with other content than artifact {artifact['path']}; pass overwrite=True",
                )
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        digest = hashlib.sha256()
        client = self.workspace.client
        try:
            with (
                client.stream(client.download_artifact_path(self.id, artifact["path"])) as response,
                open(partial, "wb") as out,
            ):
                for chunk in response.iter_bytes():
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != artifact["sha256"]:
                raise WharfError(
                    "INTERNAL",
                    f"artifact {artifact['path']} arrived with another SHA-256 than stored; download it again",
                )
            os.replace(partial, target)
        finally:
            if partial.exists():
                partial.unlink()

    # ------------------------------------------------------------------ models

    def register_model(
        self,
        model_name: str,
        model_path: str | None = None,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        aliases: Sequence[str] | None = None,
    ) -> Model:
        """
        Registers the run's artifact (a file, or a folder and everything under it) as the next version of
        model ``model_name``, as Azure ML v1's ``run.register_model`` does. ``model_path`` (default: the
        model's name) is relative to the run's artifacts; ``outputs/<model_path>`` is tried too. On a live
        run, what was logged is stored and ``./outputs`` uploaded first, so a file the script just wrote
        there is found. ``aliases`` (``["champion"]``) are then pointed at the new version, moved from
        where they pointed; they are checked (INVALID_ARGUMENT) before anything is registered.
        ARTIFACT_NOT_FOUND, naming the paths tried, when the run has nothing at either.
        """
        if isinstance(aliases, str):
            raise WharfError("INVALID_ARGUMENT", f'aliases takes a list of names, e.g. aliases=["{aliases}"]')
        wanted = [check_asset_alias(alias) for alias in aliases or []]
        if self._ensure_started():
            raise WharfError(
                "SERVER_UNREACHABLE",
                f'run "{self.id}" exists only in the spool (the server was unreachable when it started); '
                "run `wharf sync` once the server is back, then register the model from Run.get(ws, run_id)",
                details={"runId": self.id},
            )
        client = self.workspace.client
        self._info = client.get_run(self.id)
        if self._info.get("status") not in TERMINAL_STATUSES:
            self.flush()
            # This handle's outputs, or in a submitted run the folder its runner uploads at the end
            # (WHARF_OUTPUTS_DIR): a model the script just wrote is found either way.
            outputs = self._outputs
            if outputs is None and self.id == os.environ.get("WHARF_RUN_ID"):
                # Only the run this process was started for: its runner uploads that folder at the end.
                outputs = os.environ.get("WHARF_OUTPUTS_DIR") or None
            if outputs is not None and Path(outputs).is_dir():
                self.upload_folder("outputs", outputs)
        artifact_path = self._find_model_path(model_path if model_path is not None else model_name)
        request: dict[str, Any] = {"name": model_name, "runId": self.id, "artifactPath": artifact_path}
        if description is not None:
            request["description"] = description
        if tags is not None:
            request["tags"] = {str(k): str(v) for k, v in tags.items()}
        version = client.promote_asset(request)
        for alias in wanted:
            client.set_asset_alias(version["name"], alias, version["version"])
        return Model._from_info(self.workspace, version)

    def _find_model_path(self, model_path: str) -> str:
        """``model_path`` when the run has an artifact or folder there, else ``outputs/<model_path>`` if that exists."""
        as_given = artifact_key(model_path)
        in_outputs = as_given == "outputs" or as_given.startswith("outputs/")
        candidates = [as_given] if in_outputs else [as_given, f"outputs/{as_given}"]
        for candidate in candidates:
            for artifact in self.workspace.client.list_artifacts(self.id, candidate):
                if artifact["path"] == candidate or artifact["path"].startswith(f"{candidate}/"):
                    return candidate
        tried = " or ".join(f'"{c}"' for c in candidates)
        raise WharfError(
            "ARTIFACT_NOT_FOUND",
            f"run {self.id} has no artifact at {tried}; run.get_file_names() (or wharf history info -r {self.id}) "
            "lists them",
            details={"runId": self.id, "tried": candidates},
        )

    # ------------------------------------------------------------------ status

    def refresh(self) -> dict[str, Any]:
        """Reads the run again from the server."""
        self._ensure_started()
        self._info = self.workspace.client.get_run(self.id)
        return self._info

    def get_status(self) -> str:
        return str(self.refresh()["status"])

    def get_details(self) -> dict[str, Any]:
        return self.refresh()

    def complete(self) -> dict[str, Any]:
        """
        Marks the run Completed after storing every logged point and uploading its outputs folder.
        Idempotent. In a submitted run it only stores what was logged: the runner sets the status.
        """
        if self._runner_owns_status:
            return self._store_logged()
        return self._finish("Completed", None)

    def fail(self, error_details: BaseException | str | None = None, error_code: str | None = None) -> dict[str, Any]:
        """Marks the run Failed with the error (message and traceback), after storing what was logged. Idempotent."""
        if self._runner_owns_status:
            return self._store_logged()
        if isinstance(error_details, BaseException):
            message = str(error_details) or type(error_details).__name__
            details = "".join(
                traceback.format_exception(type(error_details), error_details, error_details.__traceback__)
            )
        else:
            message, details = error_details or "the run failed", None
        error: dict[str, Any] = {"message": message[:10_000]}
        if error_code:
            error["code"] = error_code
        if details:
            error["details"] = details[-10_000:]
        return self._finish("Failed", error)

    def cancel(self) -> dict[str, Any]:
        """Ends a run this process started as Canceled, after storing what was logged."""
        if self._runner_owns_status:
            return self._store_logged()
        return self._finish("Canceled", None)

    def _store_logged(self) -> dict[str, Any]:
        self.flush(END_WAIT_SECONDS)
        return self._info

    def _finish(self, status: str, error: dict[str, Any] | None, end_wait: float = END_WAIT_SECONDS) -> dict[str, Any]:
        if self._finished is not None:
            return self._finished
        offline = self._ensure_started()
        unsent: WharfError | None = None
        refused: WharfError | None = None
        if self._logger is not None:
            try:
                self._logger.close(timeout=None if offline else end_wait, wait_for_server=not offline)
            except WharfError as failure:
                if is_retryable(failure):
                    unsent = failure  # the points are in the spool file
                else:
                    refused = failure
        if offline or unsent is not None:
            return self._spool_end(status, error, unsent)
        deadline = time.monotonic() + end_wait
        policy = RetryPolicy(attempts=1_000_000, max_delay=2.0)
        stop = lambda: time.monotonic() >= deadline  # noqa: E731
        client = self.workspace.client
        try:
            if self._outputs is not None and Path(self._outputs).is_dir():
                retry_request(lambda: self.upload_folder("outputs", str(self._outputs)), policy, should_stop=stop)
            current = retry_request(lambda: client.get_run(self.id), policy, should_stop=stop)
            if current["status"] in TERMINAL_STATUSES:
                self._info = current
            else:
                self._info = retry_request(
                    lambda: client.set_run_status(self.id, status, error=error), policy, should_stop=stop
                )
        except WharfError as failure:
            if not is_retryable(failure):
                raise
            return self._spool_end(status, error, failure)
        self._finished = self._info
        if refused is not None:
            raise refused
        return self._info

    def _spool_end(self, status: str, error: dict[str, Any] | None, cause: WharfError | None) -> dict[str, Any]:
        """Keeps the end of the run (a copy of the outputs and the final status) in the spool for ``wharf sync``."""
        spool_dir = self.workspace.spool_dir
        at = now_iso()
        files = 0
        if self._outputs is not None and Path(self._outputs).is_dir():
            root = Path(self._outputs)
            for file in sorted(p for p in root.rglob("*") if p.is_file()):
                spool_run_artifact(
                    spool_dir,
                    run_id=self.id,
                    workspace=self.workspace.name,
                    artifact_path=f"outputs/{file.relative_to(root).as_posix()}",
                    source=str(file),
                )
                files += 1
        ending: dict[str, Any] = {"status": status, "at": at}
        if error is not None:
            ending["error"] = error
        spool_run_ending(spool_dir, run_id=self.id, workspace=self.workspace.name, ending=ending)
        points = self._logger.spooled_points if self._logger is not None else 0
        self.spooled = {
            "spool_dir": spool_dir,
            "points": points,
            "files": files,
            "status": status,
            "offline": self._offline,
        }
        self._info = {**self._info, "status": status, "endedAt": at, "error": error}
        self._finished = self._info
        if self._offline:
            return self._info
        raise WharfError(
            "SERVER_UNREACHABLE",
            f'could not tell the server that run "{self.id}" ended ({cause.message if cause else "unreachable"}); its final '
            f"status ({status}), its outputs and unsent metrics are saved in {spooled_run_folder(spool_dir, self.id)} and "
            f"{spool_dir}: run `wharf sync` when the server is back",
            details={"runId": self.id, "spoolDir": spool_dir},
        )


def _point_value(point: Mapping[str, Any]) -> MetricValue:
    if "text" in point:
        return str(point["text"])
    value = point.get("value", "NaN")
    return float(value)


def _sha256_of(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


_live_runs: weakref.WeakSet[Run] = weakref.WeakSet()


def _runs_after_fork_in_child() -> None:
    for run in list(_live_runs):
        run._lock = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_runs_after_fork_in_child)
