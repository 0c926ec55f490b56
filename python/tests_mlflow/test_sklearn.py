"""mlflow.sklearn.autolog() on scikit-learn's bundled digits, against Wharf, and the model loaded back."""

from __future__ import annotations

from pathlib import Path

import mlflow
import mlflow.sklearn
from conftest import WharfServer
from mlflow import MlflowClient
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression


def test_autolog_digits_then_load_model(tmp_path: Path, wharf_server: WharfServer) -> None:
    x, y = load_digits(return_X_y=True)
    experiment_id = mlflow.set_experiment("py-digits").experiment_id
    mlflow.sklearn.autolog()
    try:
        with mlflow.start_run() as run:
            model = LogisticRegression(max_iter=300).fit(x, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    run_id = run.info.run_id

    runs = mlflow.search_runs(experiment_ids=[experiment_id])
    assert list(runs["run_id"]) == [run_id]
    assert runs["params.max_iter"][0] == "300"
    assert runs["metrics.training_accuracy_score"][0] > 0.9

    history = MlflowClient().get_metric_history(run_id, "training_accuracy_score")
    assert len(history) == 1 and history[0].value > 0.9

    logged = mlflow.last_logged_model()
    assert logged is not None and logged.source_run_id == run_id
    folder = Path(mlflow.artifacts.download_artifacts(f"models:/{logged.model_id}", dst_path=str(tmp_path / "model")))
    assert (folder / "MLmodel").exists()

    for uri in (f"runs:/{run_id}/model", f"models:/{logged.model_id}"):
        loaded = mlflow.sklearn.load_model(uri)
        assert (loaded.predict(x[:50]) == model.predict(x[:50])).all()

    # Wharf sees the run with its params, metrics and the model's files.
    (item,) = wharf_server.wharf("history", "list", "--experiment", "py-digits")
    assert item["properties"]["max_iter"] == "300"
    artifacts = wharf_server.native("GET", f"runs/{run_id}/artifacts")
    assert f"models/{logged.model_id}/MLmodel" in [a["path"] for a in artifacts["items"]]
