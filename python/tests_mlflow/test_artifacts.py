"""Artifacts through MLflow's artifact proxy, stored as Wharf run artifacts."""

from __future__ import annotations

from pathlib import Path

import mlflow
from conftest import WharfServer
from mlflow import MlflowClient


def test_log_and_download_artifacts(tmp_path: Path, wharf_server: WharfServer) -> None:
    source = tmp_path / "out"
    (source / "nested").mkdir(parents=True)
    (source / "report.txt").write_text("accuracy 0.9\n")
    (source / "nested" / "data.csv").write_text("a,b\n1,2\n")
    single = tmp_path / "single.json"
    single.write_text('{"x": 1}')
    mlflow.set_experiment("py-artifacts")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(single))
        mlflow.log_artifacts(str(source), artifact_path="results")
        mlflow.log_text("hello", "notes/hello.txt")
        mlflow.log_dict({"k": [1, 2]}, "config.json")
    client = MlflowClient()
    top = {(f.path, f.is_dir) for f in client.list_artifacts(run.info.run_id)}
    assert top == {
        ("single.json", False),
        ("results", True),
        ("notes", True),
        ("config.json", False),
    }
    nested = [(f.path, f.file_size) for f in client.list_artifacts(run.info.run_id, "results/nested")]
    assert nested == [("results/nested/data.csv", 8)]
    folder = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id,
            artifact_path="results",
            dst_path=str(tmp_path / "dl"),
        )
    )
    assert (folder / "report.txt").read_text() == "accuracy 0.9\n"
    assert (folder / "nested" / "data.csv").read_text() == "a,b\n1,2\n"
    assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes/hello.txt") == "hello"
    assert mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/config.json") == {"k": [1, 2]}
    # The same files are the run's artifacts for Wharf.
    listed = wharf_server.native("GET", f"runs/{run.info.run_id}/artifacts")
    paths = sorted(a["path"] for a in listed["items"])
    assert paths == [
        "config.json",
        "notes/hello.txt",
        "results/nested/data.csv",
        "results/report.txt",
        "single.json",
    ]
