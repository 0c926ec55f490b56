"""The stock MLflow client logging to Wharf: fluent API, client API, search, history, errors, read-back."""

from __future__ import annotations

import math
import time
from pathlib import Path

import mlflow
import pytest
from conftest import WharfServer
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException


def test_fluent_logging_round_trip() -> None:
    mlflow.set_experiment("py-fluent")
    with mlflow.start_run(run_name="fluent-run") as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"layers": 3, "optimizer": "adam"})
        for step, loss in enumerate([0.9, 0.5, 0.25]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.log_metrics({"acc": 0.75, "f1": 0.5}, step=2)
        mlflow.set_tag("team", "vision")
        mlflow.set_tags({"phase": "train"})
    got = MlflowClient().get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "fluent-run"
    assert got.info.end_time is not None and got.info.end_time >= got.info.start_time
    assert got.info.artifact_uri == f"mlflow-artifacts:/{got.info.experiment_id}/{run.info.run_id}/artifacts"
    assert got.data.params == {"lr": "0.01", "layers": "3", "optimizer": "adam"}
    assert got.data.metrics == {"loss": 0.25, "acc": 0.75, "f1": 0.5}
    assert got.data.tags["team"] == "vision"
    assert got.data.tags["phase"] == "train"
    assert got.data.tags["mlflow.runName"] == "fluent-run"


def test_log_batch_and_metric_history_keep_steps_and_timestamps() -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment("py-batch")
    run = client.create_run(experiment_id)
    base = 1_700_000_000_000
    metrics = [Metric("curve", float(i) / 10, base + i, i * 5) for i in range(300)]
    metrics.append(Metric("odd", math.nan, base, 0))
    client.log_batch(
        run.info.run_id,
        metrics=metrics,
        params=[Param("seed", "7")],
        tags=[RunTag("kind", "batch")],
    )
    history = client.get_metric_history(run.info.run_id, "curve")
    assert [(m.step, m.timestamp, m.value) for m in history] == [(i * 5, base + i, float(i) / 10) for i in range(300)]
    (odd,) = client.get_metric_history(run.info.run_id, "odd")
    assert math.isnan(odd.value)
    client.set_terminated(run.info.run_id, status="FAILED")
    got = client.get_run(run.info.run_id)
    assert got.info.status == "FAILED"
    assert got.data.params == {"seed": "7"}
    assert got.data.tags["kind"] == "batch"


def test_search_runs_filters_orders_and_pages() -> None:
    client = MlflowClient()
    experiment_id = mlflow.set_experiment("py-search").experiment_id
    for i in range(5):
        with mlflow.start_run(run_name=f"s-{i}"):
            mlflow.log_param("model", "tree" if i % 2 == 0 else "linear")
            mlflow.log_metric("rmse", 10.0 - i)
            time.sleep(0.01)
    frame = mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string="metrics.rmse < 9 and params.model = 'tree'",
        order_by=["metrics.rmse ASC"],
    )
    assert list(frame["tags.mlflow.runName"]) == ["s-4", "s-2"]
    assert list(frame["metrics.rmse"]) == [6.0, 8.0]
    by_name = mlflow.search_runs(experiment_names=["py-search"], filter_string="attributes.run_name LIKE 's-%'")
    assert len(by_name) == 5
    first = client.search_runs([experiment_id], order_by=["metrics.rmse DESC"], max_results=2)
    assert [r.info.run_name for r in first] == ["s-0", "s-1"]
    second = client.search_runs(
        [experiment_id],
        order_by=["metrics.rmse DESC"],
        max_results=2,
        page_token=first.token,
    )
    assert [r.info.run_name for r in second] == ["s-2", "s-3"]
    listed = client.search_experiments(filter_string="name = 'py-search'")
    assert [e.experiment_id for e in listed] == [experiment_id]


def test_errors_arrive_as_mlflow_exceptions() -> None:
    client = MlflowClient()
    with pytest.raises(MlflowException) as missing:
        client.get_run("no-such-run")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with mlflow.start_run():
        mlflow.log_param("p", "1")
        with pytest.raises(MlflowException) as changed:
            mlflow.log_param("p", "2")
        assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
        assert "Changing param values is not allowed" in changed.value.message
    client.create_experiment("py-dup")
    with pytest.raises(MlflowException) as dup:
        client.create_experiment("py-dup")
    assert dup.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_delete_and_restore_runs_and_experiments() -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment("py-lifecycle")
    run = client.create_run(experiment_id)
    client.delete_run(run.info.run_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([experiment_id]) == []
    client.restore_run(run.info.run_id)
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run.info.run_id]
    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    client.restore_experiment(experiment_id)
    client.rename_experiment(experiment_id, "py-lifecycle-2")
    client.set_experiment_tag(experiment_id, "owner", "ana")
    got = client.get_experiment_by_name("py-lifecycle-2")
    assert got is not None and got.tags == {"owner": "ana"}


def test_mlflow_runs_read_back_through_wharf(wharf_server: WharfServer) -> None:
    mlflow.set_experiment("py-readback")
    with mlflow.start_run(run_name="seen-by-wharf") as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_metric("score", 1.0, step=0)
        mlflow.log_metric("score", 2.0, step=1)
    listed = wharf_server.wharf("history", "list", "--experiment", "py-readback")
    assert isinstance(listed, list)
    (item,) = listed
    assert item["runId"] == run.info.run_id
    assert item["displayName"] == "seen-by-wharf"
    assert item["status"] == "Completed"
    assert item["properties"] == {"alpha": "0.5"}
    series = wharf_server.native("GET", f"runs/{run.info.run_id}/metrics/series?name=score")
    assert [(p["step"], p["value"]) for p in series["items"]] == [(0, 1.0), (1, 2.0)]


def test_wharf_runs_read_through_mlflow(wharf_server: WharfServer) -> None:
    created = wharf_server.native(
        "POST",
        "runs",
        {
            "experiment": "py-native",
            "displayName": "native-run",
            "status": "Running",
            "properties": {"k": "v"},
        },
    )
    run_id = created["id"]
    wharf_server.native(
        "POST",
        f"runs/{run_id}/metrics",
        {"points": [{"name": "m", "value": 1.5, "step": 0}]},
    )
    got = MlflowClient().get_run(run_id)
    assert got.info.run_name == "native-run"
    assert got.info.status == "RUNNING"
    assert got.data.params == {"k": "v"}
    assert got.data.metrics == {"m": 1.5}
    experiment = MlflowClient().get_experiment_by_name("py-native")
    assert experiment is not None
    assert [r.info.run_id for r in MlflowClient().search_runs([experiment.experiment_id])] == [run_id]


def test_nested_runs_and_dataset_inputs(wharf_server: WharfServer) -> None:
    import numpy as np
    from mlflow.data.numpy_dataset import from_numpy

    mlflow.set_experiment("py-nested")
    features = np.arange(20, dtype=np.float64).reshape(10, 2)
    with (
        mlflow.start_run(run_name="parent") as parent,
        mlflow.start_run(run_name="child", nested=True) as child,
    ):
        mlflow.log_input(from_numpy(features, name="grid"), context="training")
    client = MlflowClient()
    got = client.get_run(child.info.run_id)
    assert got.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert got.inputs is not None
    (dataset_input,) = got.inputs.dataset_inputs
    assert dataset_input.dataset.name == "grid"
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"
    children = mlflow.search_runs(
        experiment_names=["py-nested"],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert list(children["run_id"]) == [child.info.run_id]
    # In Wharf the child is a child run of the parent.
    native = wharf_server.native("GET", f"runs/{child.info.run_id}")
    assert native["parentRunId"] == parent.info.run_id


def test_the_wharf_python_sdk_and_mlflow_read_each_others_runs(wharf_server: WharfServer, tmp_path: Path) -> None:
    from wharf_sdk import Experiment, Run, Workspace

    ws = Workspace(wharf_server.url, token=wharf_server.token, spool_dir=str(tmp_path / "spool"))
    # Logged by the Wharf SDK, read by MLflow.
    with Experiment(ws, "py-sdk-to-mlflow").start_logging(outputs=None, display_name="sdk-run") as logged:
        for step, value in enumerate([0.9, 0.5, 0.25]):
            logged.log("loss", value, step=step)
        logged.add_properties({"lr": "0.01"})
        logged.tag("team", "vision")
    got = MlflowClient().get_run(logged.id)
    assert got.info.run_name == "sdk-run"
    assert got.info.status == "FINISHED"
    assert got.data.params == {"lr": "0.01"}
    assert got.data.tags["team"] == "vision"
    assert [(m.step, m.value) for m in MlflowClient().get_metric_history(logged.id, "loss")] == [
        (0, 0.9),
        (1, 0.5),
        (2, 0.25),
    ]
    # Logged by MLflow, read by the Wharf SDK.
    mlflow.set_experiment("mlflow-to-py-sdk")
    with mlflow.start_run(run_name="mlflow-run") as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_metric("score", 1.0, step=0)
        mlflow.log_metric("score", 2.0, step=1)
    read = Run.get(ws, run.info.run_id)
    assert read.get_status() == "Completed"
    assert read.get_properties() == {"alpha": "0.5"}
    assert read.get_metrics("score") == {"score": [1.0, 2.0]}
