"""The MLflow model registry over Wharf's assets: registering versions and loading them back."""

from __future__ import annotations

import mlflow
import mlflow.sklearn
import pytest
from conftest import WharfServer
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression


def test_register_model_versions_and_load_them(wharf_server: WharfServer) -> None:
    x, y = load_digits(return_X_y=True)
    mlflow.set_experiment("py-registry")
    with mlflow.start_run() as run:
        model = LogisticRegression(max_iter=200).fit(x, y)
        info = mlflow.sklearn.log_model(model, name="tree")
    first = mlflow.register_model(info.model_uri, "digits-tree")
    assert first.version == "1"
    assert first.run_id == run.info.run_id
    second = mlflow.register_model(f"runs:/{run.info.run_id}/tree", "digits-tree")
    assert second.version == "2"

    client = MlflowClient()
    registered = client.get_registered_model("digits-tree")
    assert [v.version for v in registered.latest_versions] == ["2"]
    assert {v.version for v in client.search_model_versions("name = 'digits-tree'")} == {"1", "2"}
    assert [m.name for m in client.search_registered_models(filter_string="name LIKE 'digits-%'")] == ["digits-tree"]

    for uri in ("models:/digits-tree/1", "models:/digits-tree/latest"):
        loaded = mlflow.sklearn.load_model(uri)
        assert (loaded.predict(x[:40]) == model.predict(x[:40])).all()

    # The versions are Wharf asset versions of the same name.
    versions = wharf_server.native("GET", "assets/digits-tree/versions")
    assert sorted(v["version"] for v in versions["items"]) == [1, 2]

    with pytest.raises(MlflowException) as missing:
        client.get_model_version("digits-tree", "9")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
