"""
run.register_model and Model on a real server: versions made from a live run's outputs and from a
finished run's folder, aliases set at registration and moved, reading by number, "latest" or alias,
verified downloads, and the errors a user meets.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from pathlib import Path

import pytest
from conftest import WharfServer, run_script, series, write_script

from wharf_sdk import Datastore, Experiment, Model, ModelFile, Run, WharfError, Workspace

_names = itertools.count()


def unique(prefix: str) -> str:
    """A model name no other test of this session (on the shared server) uses."""
    return f"{prefix}-{os.getpid()}-{next(_names)}"


@pytest.fixture
def workspace(server: WharfServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.chdir(tmp_path)  # ./outputs of the runs the tests start is this test's own
    return Workspace(server.url, "default", spool_dir=str(tmp_path / "spool"))


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_register_from_a_live_run_finds_a_file_just_written_to_outputs(
    workspace: Workspace, server: WharfServer, tmp_path: Path
) -> None:
    name = unique("mnist")
    weights = os.urandom(300_000)
    with Experiment(workspace, "models").start_logging() as run:
        run.log("accuracy", 0.93)
        (tmp_path / "outputs").mkdir()
        (tmp_path / "outputs" / "model.pkl").write_bytes(weights)
        model = run.register_model(name, "model.pkl", description="first try", tags={"framework": "numpy"})
        # The metric logged just before is stored: registering flushed it.
        assert [point["value"] for point in series(server, run.id, "accuracy")] == [0.93]

    assert (model.name, model.version, model.id) == (name, 1, f"{name}:1")
    assert model.source_run_id == model.run_id == run.id
    assert model.artifact_path == "outputs/model.pkl"
    assert (model.description, model.tags) == ("first try", {"framework": "numpy"})
    assert model.files == [ModelFile("model.pkl", len(weights), hashlib.sha256(weights).hexdigest())]
    assert model.created_at.endswith("Z")
    assert model.info["copied"] is True  # the run was live: the asset has its own copy
    assert run.get_status() == "Completed"  # uploading ./outputs again at the end was fine

    # Read back by name (latest), by number, and listed.
    again = Model(workspace, name)
    assert (again.version, again.files, again.description) == (1, model.files, "first try")
    assert Model(workspace, name, 1).id == f"{name}:1"
    assert Model(workspace, name, "latest").version == 1
    summary = next(s for s in Model.list(workspace) if s.name == name)
    assert (summary.latest_version, summary.version_count, summary.description) == (1, 1, "first try")


def test_versions_count_up_and_model_path_defaults_to_the_name(workspace: Workspace) -> None:
    name = unique("clf")
    with Experiment(workspace, "models").start_logging(outputs=None) as run:
        run.upload_content(f"outputs/{name}", "v1")  # model_path defaults to the name, found under outputs/
        first = run.register_model(name)
        run.upload_content("weights.bin", "v2")  # at the artifact root: found as given
        second = run.register_model(name, "weights.bin")
    assert (first.version, first.artifact_path) == (1, f"outputs/{name}")
    assert (second.version, second.artifact_path) == (2, "weights.bin")
    assert Model(workspace, name).version == 2
    assert Model.list_versions(workspace, name) == [2, 1]
    summary = next(s for s in Model.list(workspace) if s.name == name)
    assert (summary.latest_version, summary.version_count) == (2, 2)

    # A finished run: registered with outputs/ given explicitly; its files are shared, not copied.
    third = Run.get(workspace, run.id).register_model(name, f"outputs/{name}")
    assert (third.version, third.info["copied"]) == (3, False)


def test_register_a_folder_and_download_it_byte_for_byte(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("ckpt")
    files = {"a.pt": os.urandom(2_500_000), "sub/b.json": b'{"epochs": 3}', "empty.bin": b""}
    with Experiment(workspace, "models").start_logging() as run:
        for path, content in files.items():
            (tmp_path / "outputs" / "ckpt" / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "outputs" / "ckpt" / path).write_bytes(content)
        run.register_model(name, "ckpt", aliases=["candidate"])

    model = Model(workspace, name, "candidate")
    assert sorted(f.path for f in model.files) == sorted(f"ckpt/{p}" for p in files)
    target = tmp_path / "download"
    placed = model.download(str(target))
    assert placed == str(target / "ckpt")  # the model's folder, as Azure ML v1 returns it
    assert read_tree(target) == {f"ckpt/{p}": content for p, content in files.items()}
    assert "3 files downloaded" in capsys.readouterr().err  # no terminal: a summary line

    # Again: identical files are left alone, nothing is refused.
    assert model.download(str(target), show_progress=False) == str(target / "ckpt")


def test_download_refuses_a_local_file_with_other_content_unless_exist_ok(workspace: Workspace, tmp_path: Path) -> None:
    name = unique("reg")
    weights = os.urandom(70_000)
    with Experiment(workspace, "models").start_logging(outputs=None) as run:
        run.upload_content("outputs/model.pkl", weights)
    model = Run.get(workspace, run.id).register_model(name, "model.pkl")

    target = tmp_path / "serve"
    assert model.download(str(target), show_progress=False) == str(target / "model.pkl")
    assert (target / "model.pkl").read_bytes() == weights

    tampered = bytearray(weights)
    tampered[100] ^= 0xFF  # same size, other content
    (target / "model.pkl").write_bytes(bytes(tampered))
    with pytest.raises(WharfError) as raised:
        model.download(str(target), show_progress=False)
    assert raised.value.code == "FILE_EXISTS"
    assert str(target / "model.pkl") in raised.value.message and "exist_ok=True" in raised.value.message
    assert (target / "model.pkl").read_bytes() == bytes(tampered)  # left alone

    assert model.download(str(target), exist_ok=True, show_progress=False) == str(target / "model.pkl")
    assert (target / "model.pkl").read_bytes() == weights
    assert [p.name for p in target.iterdir()] == ["model.pkl"]  # no temp file left


def test_download_refuses_bytes_that_do_not_match_the_stored_sha256(workspace: Workspace, tmp_path: Path) -> None:
    name = unique("rot")
    weights = os.urandom(50_000)
    with Experiment(workspace, "models").start_logging() as run:
        (tmp_path / "outputs").mkdir()
        (tmp_path / "outputs" / "model.pkl").write_bytes(weights)
        model = run.register_model(name, "model.pkl")
    # Rot the stored copy on the server's disk (same size), which the server streams unchecked.
    store = Datastore.get(workspace, model.info["files"][0]["datastore"])
    stored = Path(store.settings["path"]).joinpath(*model.info["files"][0]["key"].split("/"))
    rotten = bytearray(stored.read_bytes())
    rotten[0] ^= 0xFF
    stored.write_bytes(bytes(rotten))

    target = tmp_path / "serve"
    with pytest.raises(WharfError) as raised:
        model.download(str(target), show_progress=False)
    assert raised.value.code == "INTERNAL"
    assert "SHA-256" in raised.value.message and "model.pkl" in raised.value.message
    assert not target.exists() or list(target.iterdir()) == []  # nothing unverified put in place


def test_aliases_set_at_registration_move_and_are_read_back(workspace: Workspace) -> None:
    name = unique("alias")
    with Experiment(workspace, "models").start_logging(outputs=None) as run:
        run.upload_content("outputs/model.pkl", "one")
        first = run.register_model(name, "model.pkl", aliases=["champion", "candidate"])
        run.upload_content("outputs/model2.pkl", "two")
        second = run.register_model(name, "model2.pkl", aliases=["candidate"])

    assert Model(workspace, name, "champion").version == first.version == 1
    assert Model(workspace, name, "candidate").version == second.version == 2
    assert first.aliases == ["champion"]  # candidate moved to version 2
    assert second.aliases == ["candidate"]

    second.set_alias("champion")  # the release: moved, not added
    champion = Model(workspace, name, "champion")
    assert (champion.version, champion.aliases) == (2, ["candidate", "champion"])
    assert first.aliases == []

    assert Model.delete_alias(workspace, name, "candidate") is True
    assert Model.delete_alias(workspace, name, "candidate") is False  # already gone: the state asked for holds
    with pytest.raises(WharfError) as raised:
        Model(workspace, name, "candidate")
    assert raised.value.code == "ASSET_ALIAS_NOT_FOUND"


def test_tags_and_description_change_on_the_version_the_handle_holds(workspace: Workspace) -> None:
    name = unique("edit")
    with Experiment(workspace, "models").start_logging(outputs=None) as run:
        run.upload_content("outputs/model.pkl", "one")
        model = run.register_model(name, "model.pkl", tags={"owner": "a"}, aliases=["current"])
        run.register_model(name, "model.pkl")
    files = model.files

    current = Model(workspace, name, "current")
    current.add_tags({"stage": "dev", "score": 0.9})
    assert current.tags == {"owner": "a", "stage": "dev", "score": "0.9"}
    current.remove_tags(["score", "not-there"])
    assert current.tags == {"owner": "a", "stage": "dev"}
    current.update(tags={"stage": "approved"}, description="validated")  # merged: owner stays
    assert (current.description, current.tags) == ("validated", {"owner": "a", "stage": "approved"})
    current.update({"reviewed": "yes"})  # tags first, as Azure ML v1's Model.update takes them
    assert current.tags == {"owner": "a", "stage": "approved", "reviewed": "yes"}
    assert current.files == files
    assert Model(workspace, name, 1).info == current.info

    # The handle edits its own version, not the one its alias points at now.
    Model(workspace, name, 2).set_alias("current")
    current.update(description="still version 1")
    assert (current.version, Model(workspace, name, 1).description) == (1, "still version 1")
    assert Model(workspace, name, 2).description == ""

    with pytest.raises(WharfError) as raised:
        current.add_tags({f"k{i}": "v" for i in range(101)})
    assert raised.value.code == "LIMIT_EXCEEDED"
    assert current.tags == {"owner": "a", "stage": "approved", "reviewed": "yes"}
    with pytest.raises(WharfError) as raised:
        current.remove_tags("owner")
    assert raised.value.code == "INVALID_ARGUMENT"
    assert Model(workspace, name, 1).tags == current.tags


def test_errors_name_what_is_missing(workspace: Workspace) -> None:
    name = unique("err")
    with pytest.raises(WharfError) as raised:
        Model(workspace, name)
    assert raised.value.code == "ASSET_NOT_FOUND"

    with Experiment(workspace, "models").start_logging(outputs=None) as run:
        run.upload_content("outputs/model.pkl", "bytes")
        with pytest.raises(WharfError) as raised:
            run.register_model(name, "missing.pkl")
        assert raised.value.code == "ARTIFACT_NOT_FOUND"
        assert '"missing.pkl" or "outputs/missing.pkl"' in raised.value.message
        assert raised.value.details["tried"] == ["missing.pkl", "outputs/missing.pkl"]
        with pytest.raises(WharfError) as raised:
            run.register_model(name, "outputs/missing.pkl")  # under outputs/ already: tried as given only
        assert raised.value.details["tried"] == ["outputs/missing.pkl"]

        run.register_model(name, "model.pkl")
    with pytest.raises(WharfError) as raised:
        Model(workspace, name, 7)
    assert raised.value.code == "ASSET_NOT_FOUND"
    with pytest.raises(WharfError) as raised:
        Model(workspace, name, "production")
    assert raised.value.code == "ASSET_ALIAS_NOT_FOUND"
    with pytest.raises(WharfError) as raised:
        Model(workspace, name, True)
    assert raised.value.code == "INVALID_ARGUMENT"


@pytest.mark.parametrize("alias", ["latest", "LATEST", "7", "v2", "V10", "two words", "a/b", "x" * 256, ""])
def test_a_bad_alias_is_refused_before_anything_is_registered(workspace: Workspace, alias: str) -> None:
    name = unique("bad")
    fresh = unique("bad")
    with Experiment(workspace, "models").start_logging(outputs=None) as run:
        run.upload_content("outputs/model.pkl", "bytes")
        model = run.register_model(name, "model.pkl")
        for target in (name, fresh):
            with pytest.raises(WharfError) as raised:
                run.register_model(target, "model.pkl", aliases=["ok", alias])
            assert raised.value.code == "INVALID_ARGUMENT"
            assert "not valid" in raised.value.message and "latest" in raised.value.message
        with pytest.raises(WharfError) as raised:
            model.set_alias(alias)
        assert raised.value.code == "INVALID_ARGUMENT"
    assert Model.list_versions(workspace, name) == [1]  # no second version
    with pytest.raises(WharfError) as raised:
        Model(workspace, fresh)
    assert raised.value.code == "ASSET_NOT_FOUND"  # nor a first one
    assert model.aliases == []  # "ok" was not set either


def test_a_script_registers_what_it_wrote_to_outputs(server: WharfServer, tmp_path: Path) -> None:
    name = unique("script")
    project = tmp_path / "project"
    (project / ".wharf").mkdir(parents=True)
    (project / ".wharf" / "config.json").write_text(json.dumps({"url": server.url, "workspace": "default"}))
    script = write_script(
        project,
        "train.py",
        f"""
        import os
        from wharf_sdk import Run

        run = Run.get_context()
        run.log("loss", 0.25)
        os.makedirs("outputs", exist_ok=True)
        with open("outputs/model.pkl", "wb") as out:
            out.write(b"trained weights")
        model = run.register_model("{name}", "model.pkl", aliases=["champion"])
        print("registered", model.id, run.id)
        """,
    )
    done = run_script(script, server.env(tmp_path / "home"))
    assert done.returncode == 0, done.stderr
    assert f"registered {name}:1" in done.stdout
    run_id = done.stdout.split()[-1]

    workspace = Workspace(server.url, "default", spool_dir=str(tmp_path / "spool"))
    model = Model(workspace, name, "champion")
    assert (model.version, model.source_run_id) == (1, run_id)
    target = tmp_path / "serve"
    assert Path(model.download(str(target), show_progress=False)).read_bytes() == b"trained weights"
    assert Run.get(workspace, run_id).get_status() == "Completed"
