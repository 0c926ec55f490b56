"""
Datastore.get(ws, name).upload / download through the server's grants: a folder this machine shares
with the server, Azure Blob (Azurite) with the SAS the server signs, and S3 (s3rver) through the server.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import REPO_ROOT, WharfServer, free_port, run_script, wharf, write_script

from wharf_sdk import Datastore, WharfError, Workspace

AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "train/part-0.csv": b"a,b\n1,2\n" * 1000,
        "train/part-1.csv": b"a,b\n3,4\n" * 10,
        "labels.txt": b"cat\ndog\n",
        "empty.bin": b"",
    }
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{process.args!r} did not answer on port {port}")


@pytest.fixture
def workspace(server: WharfServer, tmp_path: Path) -> Workspace:
    return Workspace(server.url, "default", spool_dir=str(tmp_path / "spool"))


def round_trip(datastore: Datastore, tmp_path: Path) -> None:
    source = tmp_path / "source"
    files = make_tree(source)
    uploaded = datastore.upload(str(source), target_path="datasets/iris", show_progress=True)
    assert sorted(uploaded.transferred) == sorted(f"datasets/iris/{name}" for name in files)
    assert uploaded.failed == []

    # Again: identical files are left alone; a changed one is skipped unless overwrite.
    (source / "labels.txt").write_bytes(b"cat\ndog\nbird\n")
    again = datastore.upload(str(source), target_path="datasets/iris", show_progress=False)
    assert again.skipped == ["datasets/iris/labels.txt"]
    assert len(again.unchanged) == len(files) - 1
    replaced = datastore.upload(str(source), target_path="datasets/iris", overwrite=True, show_progress=False)
    assert replaced.overwritten == ["datasets/iris/labels.txt"]

    target = tmp_path / "download"
    assert datastore.download(str(target), prefix="datasets/iris/", show_progress=True) == len(files)
    expected = {f"datasets/iris/{name}": content for name, content in files.items()}
    expected["datasets/iris/labels.txt"] = b"cat\ndog\nbird\n"
    assert read_tree(target) == expected
    assert datastore.download(str(target), prefix="datasets/iris/", show_progress=False) == 0  # all unchanged
    (target / "datasets/iris/labels.txt").write_bytes(b"local edit")
    report = datastore.download_files(str(target), prefix="datasets/iris/train", show_progress=False)
    assert len(report.unchanged) == 2 and report.failed == []
    assert datastore.download(str(target), prefix="datasets/iris/labels", show_progress=False) == 0
    assert (target / "datasets/iris/labels.txt").read_bytes() == b"local edit"
    assert datastore.download(str(target), prefix="datasets/iris/labels", overwrite=True, show_progress=False) == 1
    assert (target / "datasets/iris/labels.txt").read_bytes() == b"cat\ndog\nbird\n"


def test_the_default_datastore_through_a_shared_folder(
    workspace: Workspace, server: WharfServer, tmp_path: Path
) -> None:
    datastore = Datastore.get(workspace, "workspaceblobstore")
    assert datastore.kind == "filesystem"
    assert workspace.get_default_datastore().name == "workspaceblobstore"
    round_trip(datastore, tmp_path)
    listed = wharf("datastore", "ls", "workspaceblobstore", "datasets/iris/", env=server.env(tmp_path / "home")).stdout
    assert "datasets/iris/train/part-0.csv" in listed


def test_an_unknown_datastore_is_datastore_not_found(workspace: Workspace) -> None:
    with pytest.raises(WharfError) as raised:
        Datastore.get(workspace, "nosuchstore")
    assert raised.value.code == "DATASTORE_NOT_FOUND"


@pytest.fixture
def azurite(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    main = REPO_ROOT / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    process = subprocess.Popen(
        [
            "node",
            str(main),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(tmp_path / "azurite"),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/devstoreaccount1"
    finally:
        process.terminate()
        process.wait(10)


def test_azure_blob_with_the_sas_the_server_signs(workspace: Workspace, azurite: str, tmp_path: Path) -> None:
    registered = Datastore.register_azure_blob_container(
        workspace,
        "azureblobs",
        "training",
        "devstoreaccount1",
        account_key=AZURITE_KEY,
        endpoint=azurite,
        protocol="http",
        create_if_not_exists=True,
    )
    assert (registered.kind, registered.name) == ("azure_blob", "azureblobs")
    assert AZURITE_KEY not in str(registered.settings)
    datastore = Datastore.get(workspace, "azureblobs")
    grant = workspace.client.datastore_access("azureblobs", "write")
    assert grant["mode"] == "azure_sas" and "sig=" in grant["sasToken"]
    round_trip(datastore, tmp_path)


@pytest.fixture
def s3rver(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    (tmp_path / "s3").mkdir()
    process = subprocess.Popen(
        [
            str(REPO_ROOT / "node_modules" / ".bin" / "s3rver"),
            "-d",
            str(tmp_path / "s3"),
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "--silent",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def test_s3_through_the_servers_file_routes(workspace: Workspace, s3rver: str, tmp_path: Path) -> None:
    Datastore.register_s3_bucket(
        workspace,
        "s3data",
        "training",
        access_key_id="S3RVER",
        secret_access_key="S3RVER",
        endpoint=s3rver,
        region="us-east-1",
        force_path_style=True,
        create_if_not_exists=True,
    )
    assert workspace.client.datastore_access("s3data", "read")["mode"] == "proxy"
    round_trip(Datastore.get(workspace, "s3data"), tmp_path)


def test_progress_is_a_bar_on_a_terminal_and_a_summary_otherwise(server: WharfServer, tmp_path: Path) -> None:
    make_tree(tmp_path / "data")
    script = write_script(
        tmp_path / "p",
        "up.py",
        f"""
        from wharf_sdk import Datastore, Workspace
        datastore = Datastore.get(Workspace({server.url!r}), "workspaceblobstore")
        datastore.upload({str(tmp_path / "data")!r}, target_path="progress", overwrite=True)
        """,
    )
    env = server.env(tmp_path / "home")
    piped = run_script(script, env)
    assert piped.returncode == 0, piped.stderr
    assert "files uploaded" in piped.stderr and "\r" not in piped.stderr

    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, script.name], cwd=script.parent, env=env, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break  # the terminal closed with the process
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(60) == 0
    text = output.decode("utf-8", errors="replace")
    assert "Uploading workspaceblobstore" in text and "100%" in text, text
