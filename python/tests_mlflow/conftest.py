"""Starts a real Wharf server for the MLflow compatibility tests and points the stock MLflow client at it.

The server is the built CLI (`node packages/cli/dist/bin.js server`, built by `npm run build`), on a free
loopback port, over a fresh data folder, with a bearer token the client sends as MLFLOW_TRACKING_TOKEN.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "packages" / "cli" / "dist" / "bin.js"


@dataclass
class WharfServer:
    url: str
    token: str
    data_dir: Path

    def wharf(self, *args: str) -> Any:
        """Runs the `wharf` CLI against this server and returns its JSON output."""
        env = {
            **os.environ,
            "WHARF_AUTH_TOKEN": self.token,
            "WHARF_TRACKING_URI": self.url,
        }
        done = subprocess.run(
            ["node", str(CLI), *args, "--url", self.url, "-o", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def native(self, method: str, path: str, body: object | None = None) -> Any:
        """Calls Wharf's own API (/api/v1/workspaces/default/...)."""
        import httpx

        response = httpx.request(
            method,
            f"{self.url}/api/v1/workspaces/default/{path}",
            json=body,
            headers={"authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def wharf_server() -> Iterator[WharfServer]:
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing: build the packages first with `npm run build` in {REPO}")
    data_dir = Path(tempfile.mkdtemp(prefix="wharf-mlflow-test-"))
    token = secrets.token_hex(16)
    token_file = data_dir / "token"
    token_file.write_text(token)
    process = subprocess.Popen(
        [
            "node",
            str(CLI),
            "server",
            "--port",
            "0",
            "--data-dir",
            str(data_dir / "home"),
            "--auth-token-file",
            str(token_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url: str | None = None
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        match = re.search(r"is running at (http://\S+)", line)
        if match:
            url = match.group(1)
            break
    if url is None:
        process.kill()
        pytest.fail("the Wharf server did not start:\n" + "".join(lines))
    # Keep reading the server's output so it never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stdout or []], daemon=True).start()
    try:
        yield WharfServer(url=url, token=token, data_dir=data_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def mlflow_client_env(wharf_server: WharfServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Points the MLflow client at the server for one test: tracking URI, token, no retries, no telemetry."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", wharf_server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", wharf_server.token)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(wharf_server.url)
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
