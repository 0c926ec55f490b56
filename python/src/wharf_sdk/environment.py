"""What the SDK reads from the environment and from a workspace config file, in one place."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .errors import WharfError

#: The names looked for in each folder, in order (as the TypeScript SDK and the CLI do).
CONFIG_FILE_NAMES = (os.path.join(".wharf", "config.json"), "config.json")


@dataclass(frozen=True)
class SdkEnvironment:
    """The SDK's settings from environment variables; ``spool_dir`` is always set."""

    spool_dir: str
    tracking_uri: str | None = None
    token: str | None = None
    workspace: str | None = None
    experiment: str | None = None
    run_id: str | None = None


def _non_empty(value: str | None) -> str | None:
    return value if value else None


def read_environment(env: Mapping[str, str] | None = None) -> SdkEnvironment:
    """Reads WHARF_HOME, WHARF_TRACKING_URI, WHARF_RUN_TOKEN/WHARF_AUTH_TOKEN, WHARF_WORKSPACE, WHARF_EXPERIMENT, WHARF_RUN_ID."""
    env = os.environ if env is None else env
    home = _non_empty(env.get("WHARF_HOME")) or os.path.join(os.path.expanduser("~"), ".wharf")
    return SdkEnvironment(
        spool_dir=os.path.join(home, "spool"),
        tracking_uri=_non_empty(env.get("WHARF_TRACKING_URI")),
        token=_non_empty(env.get("WHARF_RUN_TOKEN")) or _non_empty(env.get("WHARF_AUTH_TOKEN")),
        workspace=_non_empty(env.get("WHARF_WORKSPACE")),
        experiment=_non_empty(env.get("WHARF_EXPERIMENT")),
        run_id=_non_empty(env.get("WHARF_RUN_ID")) or _non_empty(env.get("AZUREML_RUN_ID")),
    )


@dataclass(frozen=True)
class WorkspaceConfig:
    """Where a workspace is: server URL, workspace name, optional token, and which file said so."""

    url: str
    workspace: str
    source: str
    token: str | None = None


def _read_config_file(file: Path) -> dict[str, object] | None:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError:
        return None
    try:
        parsed = json.loads(text)
    except ValueError as error:
        raise WharfError(
            "INVALID_ARGUMENT", f'{file} is not valid JSON ({error}); fix it or run "wharf workspace init" again'
        ) from error
    if not isinstance(parsed, dict):
        return None
    # A config.json of another tool (no url) is not ours: keep looking further up.
    if isinstance(parsed.get("url"), str) or isinstance(parsed.get("trackingUri"), str):
        return parsed
    return None


def _valid_url(raw: str, source: str) -> str:
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise WharfError("INVALID_ARGUMENT", f'"{raw}" (from {source}) is not an http(s) URL of a Wharf server')
    return raw.rstrip("/")


def find_workspace_config(
    *, path: str | None = None, cwd: str | None = None, env: SdkEnvironment | None = None
) -> WorkspaceConfig:
    """
    Finds ``.wharf/config.json`` (then ``config.json``) in ``cwd`` or a parent, with WHARF_TRACKING_URI,
    WHARF_WORKSPACE and the token variables taking precedence. CONFIG_NOT_FOUND, saying how to write one.
    """
    env = env or read_environment()
    found: tuple[Path, dict[str, object]] | None = None
    if path is not None:
        file = Path(path).resolve()
        config = _read_config_file(file)
        if config is None:
            raise WharfError(
                "CONFIG_NOT_FOUND", f'{path} is missing or has no "url"; write one with "wharf workspace init"'
            )
        found = (file, config)
    else:
        folder = Path(cwd or os.getcwd()).resolve()
        for candidate in (folder, *folder.parents):
            for name in CONFIG_FILE_NAMES:
                config = _read_config_file(candidate / name)
                if config is not None:
                    found = (candidate / name, config)
                    break
            if found:
                break
    file_url: str | None = None
    if found is not None:
        raw = found[1].get("url", found[1].get("trackingUri"))
        file_url = raw if isinstance(raw, str) else None
    raw_url = env.tracking_uri or file_url
    if raw_url is None:
        raise WharfError(
            "CONFIG_NOT_FOUND",
            f"no Wharf workspace config in {Path(cwd or os.getcwd()).resolve()} or its parents. "
            'Write one with "wharf workspace init --url http://127.0.0.1:5050" (it creates .wharf/config.json), '
            "or set WHARF_TRACKING_URI to the server URL",
        )
    source = "environment" if env.tracking_uri else str(found[0]) if found else "environment"
    file_workspace = found[1].get("workspace") if found else None
    file_token = found[1].get("token") if found else None
    return WorkspaceConfig(
        url=_valid_url(raw_url, source),
        workspace=env.workspace or (file_workspace if isinstance(file_workspace, str) else "default"),
        source=source,
        token=env.token or (file_token if isinstance(file_token, str) else None),
    )
