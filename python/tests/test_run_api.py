"""Workspace.from_config, Experiment.start_logging as a context manager, and every Run method, on a real server."""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path

import pytest
from conftest import WharfServer, wharf_json

from wharf_sdk import Experiment, Run, WharfError, Workspace


def png_bytes() -> bytes:
    """A 1x1 PNG, made here so the test needs no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def workspace(server: WharfServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    project = tmp_path / "project"
    (project / ".wharf").mkdir(parents=True)
    (project / ".wharf" / "config.json").write_text(json.dumps({"url": server.url, "workspace": "default"}))
    for name in ("WHARF_TRACKING_URI", "WHARF_WORKSPACE", "WHARF_AUTH_TOKEN", "WHARF_RUN_TOKEN", "WHARF_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WHARF_HOME", str(tmp_path / "home"))
    (project / "src").mkdir()
    monkeypatch.chdir(project / "src")  # a parent folder's config is found too
    return Workspace.from_config()


def test_from_config_finds_the_config_in_a_parent_folder(
    workspace: Workspace, server: WharfServer, tmp_path: Path
) -> None:
    assert workspace.url == server.url
    assert workspace.name == "default"
    assert workspace.config_source == str(tmp_path / "project" / ".wharf" / "config.json")
    assert workspace.spool_dir == str(tmp_path / "home" / "spool")
    assert workspace.get_details()["defaultDatastore"] == "workspaceblobstore"
    assert "workspaceblobstore" in workspace.datastores


def test_from_config_without_a_config_says_how_to_write_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WHARF_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WharfError) as raised:
        Workspace.from_config()
    assert raised.value.code == "CONFIG_NOT_FOUND"
    assert "wharf workspace init" in raised.value.message


def test_every_run_method_against_a_real_server(workspace: Workspace, server: WharfServer, tmp_path: Path) -> None:
    image = tmp_path / "confusion.png"
    image.write_bytes(png_bytes())
    folder = tmp_path / "checkpoints"
    (folder / "epoch1").mkdir(parents=True)
    (folder / "epoch1" / "weights.bin").write_bytes(b"\x00\x01" * 1000)
    (folder / "notes.txt").write_text("first")
    outputs = tmp_path / "project" / "src" / "outputs"
    outputs.mkdir()
    (outputs / "model.pkl").write_bytes(b"model")

    with Experiment(workspace, "run-api").start_logging(display_name="all methods", tags={"team": "vision"}) as run:
        assert run.info["status"] == "Running"
        run.log("accuracy", 0.5)
        run.log("accuracy", 0.75)
        run.log("converged", True)
        run.log("nan loss", math.nan)
        run.log("explicit", 3.0, step=10)
        run.log_list("losses", [0.9, 0.5, 0.25])
        run.log_row("per class", precision=0.8, recall=0.7)
        run.log_row("per class", precision=0.9, recall=0.6)
        run.log_table("epochs", {"epoch": [1, 2], "loss": [0.4, 0.3]})
        artifact = run.log_image("confusion", path=str(image))
        run.tag("stage", "dev")
        run.tag("bare")
        run.add_properties({"seed": 42})
        run.upload_file("notes/readme.txt", str(folder / "notes.txt"))
        uploaded = run.upload_folder("checkpoints", str(folder))
        metrics = run.get_metrics()
        run_id = run.id

    assert artifact["path"] == "images/confusion.png"
    assert sorted(a["path"] for a in uploaded) == ["checkpoints/epoch1/weights.bin", "checkpoints/notes.txt"]
    assert metrics["accuracy"] == [0.5, 0.75]
    assert metrics["converged"] == 1
    assert isinstance(metrics["nan loss"], float) and math.isnan(metrics["nan loss"])
    assert metrics["explicit"] == 3
    assert metrics["losses"] == [0.9, 0.5, 0.25]
    assert metrics["per class/precision"] == [0.8, 0.9]
    assert metrics["epochs/loss"] == [0.4, 0.3]
    assert metrics["confusion"] == "images/confusion.png"

    again = Run.get(workspace, run_id)
    assert again.get_status() == "Completed"
    assert again.get_tags() == {"team": "vision", "stage": "dev", "bare": ""}
    assert again.get_properties() == {"seed": "42"}
    assert again.info["displayName"] == "all methods"
    names = again.get_file_names()
    assert {"outputs/model.pkl", "notes/readme.txt", "images/confusion.png"} <= set(names)
    assert again.get_metrics(name="explicit") == {"explicit": 3}

    target = tmp_path / "downloaded" / "weights.bin"
    target.parent.mkdir()
    assert again.download_file("checkpoints/epoch1/weights.bin", str(target)) == str(target)
    assert target.read_bytes() == b"\x00\x01" * 1000
    # An identical file is left alone; another one is not overwritten unless asked.
    again.download_file("checkpoints/epoch1/weights.bin", str(target))
    target.write_bytes(b"changed")
    with pytest.raises(WharfError) as raised:
        again.download_file("checkpoints/epoch1/weights.bin", str(target))
    assert raised.value.code == "FILE_EXISTS"
    again.download_file("checkpoints/epoch1/weights.bin", str(target), overwrite=True)
    assert target.read_bytes() == b"\x00\x01" * 1000
    with pytest.raises(WharfError) as missing:
        again.download_file("no/such/file")
    assert missing.value.code == "ARTIFACT_NOT_FOUND"

    # The CLI reads the same run.
    info = wharf_json("history", "info", "-r", run_id, env=server.env(tmp_path / "home"))
    assert info["status"] == "Completed"
    assert info["metrics"]["per class/recall"] == 0.6


def test_a_failing_block_marks_the_run_failed_with_the_exception(workspace: Workspace) -> None:
    experiment = workspace.experiment("run-api")
    with pytest.raises(ValueError), experiment.start_logging(outputs=None) as run:
        run.log("loss", 1.0)
        raise ValueError("diverged at epoch 3")
    details = Run.get(workspace, run.id).get_details()
    assert details["status"] == "Failed"
    assert details["error"]["message"] == "diverged at epoch 3"
    assert "ValueError" in details["error"]["details"]
    assert Run.get(workspace, run.id).get_metrics() == {"loss": 1}


def test_complete_and_fail_are_idempotent_and_properties_add_only(workspace: Workspace) -> None:
    run = workspace.experiment("run-api").start_logging(outputs=None)
    run.add_properties({"lr": "0.1"})
    run.add_properties({"lr": "0.1"})
    with pytest.raises(WharfError) as changed:
        run.add_properties({"lr": "0.2"})
    assert changed.value.code == "PROPERTY_IMMUTABLE"
    assert run.complete()["status"] == "Completed"
    assert run.complete()["status"] == "Completed"
    assert run.fail("too late")["status"] == "Completed"
    with pytest.raises(WharfError) as closed:
        run.log("loss", 1)
    assert closed.value.code == "INVALID_ARGUMENT"


def test_bad_names_values_and_steps_raise_at_the_call(workspace: Workspace) -> None:
    with workspace.experiment("run-api").start_logging(outputs=None) as run:
        for bad_name in ("", "x\n", "x" * 256):
            with pytest.raises(WharfError):
                run.log(bad_name, 1)
        with pytest.raises(WharfError) as step:
            run.log("loss", 1, step=-1)
        assert step.value.code == "INVALID_ARGUMENT" and "step" in step.value.message
        with pytest.raises(WharfError):
            run.log("loss", {"not": "a number"})
        with pytest.raises(WharfError):
            run.log_list("loss", [])
        with pytest.raises(WharfError):
            run.log("text", "x" * 4097)
        with pytest.raises(WharfError):
            Experiment(workspace, "no spaces allowed")
        run.log("loss", 1).wait()
        assert run.get_metrics() == {"loss": 1}
