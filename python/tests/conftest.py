"""
The tests run against a real Wharf server started here from the repository's built CLI
(``node packages/cli/dist/bin.js server``), on a free loopback port over a temporary data folder.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI = REPO_ROOT / "packages" / "cli" / "dist" / "bin.js"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class WharfServer:
    """A server process of this test session over ``data_dir``; ``stop()`` and ``start()`` again keep its data and port."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.process is not None:
            return
        log = open(self.data_dir.parent / f"server-{self.port}.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            ["node", str(CLI), "server", "--port", str(self.port), "--data-dir", str(self.data_dir)],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("WHARF_")},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Wharf server exited with {self.process.returncode}; see {log.name}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the Wharf server did not answer within 60 s; see {log.name}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """An environment for a script or the CLI: this server, ``home`` as WHARF_HOME, no other WHARF_ setting."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("WHARF_", "AZUREML_"))}
        return {**base, "WHARF_TRACKING_URI": self.url, "WHARF_HOME": str(home), **extra}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WharfServer]:
    """The server most tests share."""
    running = WharfServer(tmp_path_factory.mktemp("server") / "data")
    running.start()
    yield running
    running.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[WharfServer]:
    """A server of one test, which it may stop and start again (an outage)."""
    running = WharfServer(tmp_path / "server-data")
    running.start()
    yield running
    running.stop()


def write_script(folder: Path, name: str, code: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(textwrap.dedent(code))
    return script


def run_script(script: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs a script with this interpreter in its folder, as a user runs training code."""
    return subprocess.run(
        [sys.executable, script.name], cwd=script.parent, env=env, capture_output=True, text=True, timeout=timeout
    )


def start_script(script: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, script.name],
        cwd=script.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wharf(
    *args: str, env: dict[str, str], cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Runs the real CLI (``wharf …``) and returns what it printed."""
    done = subprocess.run(
        ["node", str(CLI), *args], cwd=cwd or REPO_ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    if check and done.returncode != 0:
        raise AssertionError(f"wharf {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def wharf_json(*args: str, env: dict[str, str], cwd: Path | None = None) -> Any:
    return json.loads(wharf(*args, "-o", "json", env=env, cwd=cwd).stdout)


def run_id_in(text: str) -> str:
    """The first run id (a lowercase ULID) in a text."""
    found = re.search(r"\b[0-9a-hjkmnp-tv-z]{26}\b", text)
    assert found is not None, text
    return found.group(0)


def series(server: WharfServer, run_id: str, name: str) -> list[dict[str, Any]]:
    """Every stored point of one metric, by step, read through the HTTP API."""
    points: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"name": name, "pageSize": 10_000}
        if token:
            params["pageToken"] = token
        answer = httpx.get(f"{server.url}/api/v1/workspaces/default/runs/{run_id}/metrics/series", params=params)
        if answer.status_code == 404 and answer.json()["error"]["code"] == "METRIC_NOT_FOUND":
            return []
        page = answer.json()
        points.extend(page["items"])
        token = page.get("nextPageToken")
        if not token:
            return points
