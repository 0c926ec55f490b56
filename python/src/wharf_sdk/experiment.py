"""An experiment: a named group of runs in a workspace, created on first use."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from .errors import WharfError, is_retryable
from .ids import new_run_id
from .retry import RetryPolicy, retry_request
from .run import Run, now_iso
from .spool import spool_run_creation

if TYPE_CHECKING:
    from .workspace import Workspace

_EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$")


def script_name() -> str | None:
    """The file name of the running script, when there is one."""
    main = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c") else None
    return os.path.basename(main) if main else None


class Experiment:
    """An experiment of a workspace; INVALID_ARGUMENT for a name the server would refuse. No I/O."""

    def __init__(self, workspace: Workspace, name: str) -> None:
        if not _EXPERIMENT_NAME.match(name):
            raise WharfError(
                "INVALID_ARGUMENT",
                f'experiment name "{name}" is not valid: use letters, digits, "_", "-" or ".", starting with a letter '
                "or digit (at most 256)",
            )
        self.workspace = workspace
        self.name = name

    def _creation(self, run_id: str, options: Mapping[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        script = script_name()
        if script is not None:
            fields["scriptName"] = script
        return {"experiment": self.name, "runId": run_id, "status": "Running", **fields}

    def create_run(
        self, run_id: str, options: Mapping[str, Any], *, when_unreachable: str
    ) -> tuple[dict[str, Any], bool]:
        """Creates the run (retried; the same id again is the same run); offline, records it in the spool instead."""
        request = self._creation(run_id, options)
        try:
            return retry_request(lambda: self.workspace.client.create_run(request), RetryPolicy()), False
        except WharfError as error:
            if when_unreachable != "offline" or not is_retryable(error):
                raise
        started = now_iso()
        creation = {"runId": run_id, "workspace": self.workspace.name, "experiment": self.name, "startedAt": started}
        creation.update({k: v for k, v in request.items() if k in ("displayName", "description", "tags", "scriptName")})
        spool_run_creation(self.workspace.spool_dir, creation)
        info = {
            "id": run_id,
            "workspace": self.workspace.name,
            "experiment": self.name,
            "displayName": options.get("displayName") or run_id,
            "description": options.get("description") or "",
            "status": "Running",
            "createdAt": started,
            "startedAt": started,
            "endedAt": None,
            "error": None,
            "tags": dict(options.get("tags") or {}),
            "properties": {},
            "parentRunId": None,
            "definition": None,
        }
        return info, True

    def start_logging(
        self,
        *,
        outputs: str | None = "./outputs",
        display_name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        when_unreachable: Literal["throw", "offline"] = "throw",
    ) -> Run:
        """
        Starts an interactive run (Running) tracked from this process; use it as ``with ... as run:`` so the
        block's end completes it (or marks it Failed with the exception). ``outputs`` is uploaded as the
        run's ``outputs/`` when it ends. With ``when_unreachable="offline"`` a server that cannot be reached
        starts the run in the spool, and ``wharf sync`` creates it later; otherwise SERVER_UNREACHABLE.
        """
        options = {"displayName": display_name, "description": description, "tags": dict(tags) if tags else None}
        info, offline = self.create_run(new_run_id(), options, when_unreachable=when_unreachable)
        return Run(self.workspace, info, outputs=outputs, offline=offline)

    def get_runs(self, **query: Any) -> Iterator[Run]:
        """The experiment's runs, newest first."""
        for info in self.workspace.client.list_runs(experiment=self.name, **query):
            yield Run(self.workspace, info)
