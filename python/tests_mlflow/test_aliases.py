"""Registered model aliases with the stock MLflow client: set, read, load by `models:/<name>@<alias>`, move, delete."""

from __future__ import annotations

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pytest
from conftest import WharfServer
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.dummy import DummyClassifier

NAME = "alias-classifier"
X = np.arange(12, dtype=float).reshape(6, 2)
Y = np.array([1, 2, 1, 2, 1, 2])


def register(constant: int) -> str:
    """Logs a classifier that always answers `constant` and registers it as the next version of NAME."""
    with mlflow.start_run():
        model = DummyClassifier(strategy="constant", constant=constant).fit(X, Y)
        info = mlflow.sklearn.log_model(model, name="model")
    version = mlflow.register_model(info.model_uri, NAME)
    return str(version.version)


def predicted_by(uri: str) -> set[int]:
    """The answers of the model at `uri`, loaded as a pyfunc."""
    return {int(value) for value in mlflow.pyfunc.load_model(uri).predict(X)}


def test_set_load_move_and_delete_an_alias(wharf_server: WharfServer) -> None:
    mlflow.set_experiment("py-aliases")
    assert register(1) == "1"
    assert register(2) == "2"
    client = MlflowClient()

    client.set_registered_model_alias(NAME, "champion", "1")
    assert client.get_model_version_by_alias(NAME, "champion").version == "1"
    assert predicted_by(f"models:/{NAME}@champion") == {1}
    assert client.get_registered_model(NAME).aliases == {"champion": "1"}
    assert client.get_model_version(NAME, "1").aliases == ["champion"]
    assert client.get_model_version(NAME, "2").aliases == []

    # Moving the alias: the same URI now loads version 2.
    client.set_registered_model_alias(NAME, "champion", "2")
    client.set_registered_model_alias(NAME, "previous", "1")
    champion = client.get_model_version_by_alias(NAME, "champion")
    assert (champion.version, champion.aliases) == ("2", ["champion"])
    assert predicted_by(f"models:/{NAME}@champion") == {2}
    assert client.get_registered_model(NAME).aliases == {"champion": "2", "previous": "1"}
    found = {v.version: v.aliases for v in client.search_model_versions(f"name = '{NAME}'")}
    assert found == {"1": ["previous"], "2": ["champion"]}
    (model,) = client.search_registered_models(filter_string=f"name = '{NAME}'")
    assert model.aliases == {"champion": "2", "previous": "1"}

    # The alias is a Wharf asset alias: the native API lists it with the version it points at.
    aliases = wharf_server.native("GET", f"assets/{NAME}/aliases")
    assert {a["alias"]: a["version"] for a in aliases["items"]} == {"champion": 2, "previous": 1}

    client.delete_registered_model_alias(NAME, "champion")
    assert client.get_registered_model(NAME).aliases == {"previous": "1"}
    assert client.get_model_version(NAME, "2").aliases == []
    with pytest.raises(MlflowException) as unknown:
        client.get_model_version_by_alias(NAME, "champion")
    assert unknown.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Registered model alias champion not found." in unknown.value.message

    with pytest.raises(MlflowException) as reserved:
        client.set_registered_model_alias(NAME, "latest", "1")
    assert reserved.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as missing_version:
        client.set_registered_model_alias(NAME, "champion", "9")
    assert missing_version.value.error_code == "RESOURCE_DOES_NOT_EXIST"
