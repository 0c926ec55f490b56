"""Model version description and tags with the stock MLflow client: edit, read back, search, delete; the
internal tags that hold a version's `source` and `model_id` stay out of reach."""

from __future__ import annotations

from typing import Any

import httpx
import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pytest
from conftest import WharfServer
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.dummy import DummyClassifier

NAME = "metadata-classifier"
X = np.arange(12, dtype=float).reshape(6, 2)
Y = np.array([1, 2, 1, 2, 1, 2])


def register() -> str:
    """Logs a classifier and registers it as the next version of NAME."""
    with mlflow.start_run():
        model = DummyClassifier(strategy="constant", constant=2).fit(X, Y)
        info = mlflow.sklearn.log_model(model, name="model")
    return str(mlflow.register_model(info.model_uri, NAME).version)


def wire_version(server: WharfServer, version: str) -> Any:
    """A version of NAME as the server sends it: the client's ModelVersion drops `model_id`."""
    response = httpx.get(
        f"{server.url}/api/2.0/mlflow/model-versions/get",
        params={"name": NAME, "version": version},
        headers={"authorization": f"Bearer {server.token}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["model_version"]


def test_edit_description_and_tags_of_a_version(wharf_server: WharfServer) -> None:
    mlflow.set_experiment("py-version-metadata")
    assert register() == "1"
    assert register() == "2"
    client = MlflowClient()
    made = client.get_model_version(NAME, "1")
    model_id = wire_version(wharf_server, "1")["model_id"]
    assert model_id.startswith("m-")

    updated = client.update_model_version(NAME, "1", description="trained on the March data")
    assert (updated.version, updated.description) == ("1", "trained on the March data")
    client.set_model_version_tag(NAME, "1", "validation", "pending")
    client.set_model_version_tag(NAME, "1", "validation", "approved")
    client.set_model_version_tag(NAME, "1", "owner", "ml-team")

    read = client.get_model_version(NAME, "1")
    assert read.description == "trained on the March data"
    assert read.tags == {"validation": "approved", "owner": "ml-team"}
    assert (read.source, read.run_id) == (made.source, made.run_id)
    assert wire_version(wharf_server, "1")["model_id"] == model_id
    assert client.get_model_version(NAME, "2").tags == {}

    approved = client.search_model_versions("tag.validation='approved'")
    assert [(v.name, v.version) for v in approved] == [(NAME, "1")]
    assert {v.version for v in client.search_model_versions(f"name='{NAME}' and tag.owner='ml-team'")} == {"1"}

    # They are the asset version's description and tags: Wharf's own API shows them.
    native = wharf_server.native("GET", f"assets/{NAME}/versions/1")
    assert native["description"] == "trained on the March data"
    assert {k: v for k, v in native["tags"].items() if not k.startswith("mlflow.registry.")} == {
        "validation": "approved",
        "owner": "ml-team",
    }

    client.delete_model_version_tag(NAME, "1", "validation")
    assert client.get_model_version(NAME, "1").tags == {"owner": "ml-team"}
    assert client.search_model_versions("tag.validation='approved'") == []
    # A tag the version does not have is no error, as in MLflow.
    client.delete_model_version_tag(NAME, "1", "validation")

    with pytest.raises(MlflowException) as missing:
        client.update_model_version(NAME, "9", description="nothing there")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert f"Model Version (name={NAME}, version=9) not found" in missing.value.message
    with pytest.raises(MlflowException) as bad_key:
        client.set_model_version_tag(NAME, "1", "../escape", "x")
    assert bad_key.value.error_code == "INVALID_PARAMETER_VALUE"


def test_the_internal_tags_cannot_be_set_or_deleted(wharf_server: WharfServer) -> None:
    mlflow.set_experiment("py-version-metadata")
    version = register()
    client = MlflowClient()
    made = client.get_model_version(NAME, version)
    model_id = wire_version(wharf_server, version)["model_id"]

    for key in ("mlflow.registry.source", "mlflow.registry.modelId"):
        with pytest.raises(MlflowException) as refused:
            client.set_model_version_tag(NAME, version, key, "runs:/elsewhere/model")
        assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
        assert f"Tag key '{key}' is reserved" in refused.value.message
        with pytest.raises(MlflowException) as refused_delete:
            client.delete_model_version_tag(NAME, version, key)
        assert refused_delete.value.error_code == "INVALID_PARAMETER_VALUE"

    # The version still reads and loads as it was made.
    read = client.get_model_version(NAME, version)
    assert (read.source, read.tags) == (made.source, {})
    assert wire_version(wharf_server, version)["model_id"] == model_id
    loaded = mlflow.pyfunc.load_model(f"models:/{NAME}/{version}")
    assert {int(value) for value in loaded.predict(X)} == {2}


def test_registered_model_metadata_is_not_kept(wharf_server: WharfServer) -> None:
    mlflow.set_experiment("py-version-metadata")
    register()
    client = MlflowClient()
    with pytest.raises(MlflowException) as update:
        client.update_registered_model(NAME, description="a model")
    assert update.value.error_code == "NOT_IMPLEMENTED"
    assert "update_model_version" in update.value.message
    with pytest.raises(MlflowException) as set_tag:
        client.set_registered_model_tag(NAME, "team", "vision")
    assert set_tag.value.error_code == "NOT_IMPLEMENTED"
    with pytest.raises(MlflowException) as delete_tag:
        client.delete_registered_model_tag(NAME, "team")
    assert delete_tag.value.error_code == "NOT_IMPLEMENTED"
