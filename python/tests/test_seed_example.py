"""Document 000's example and the issue's snippet, run as scripts and read back through the CLI."""

from __future__ import annotations

from pathlib import Path

from conftest import WharfServer, run_script, series, wharf, wharf_json, write_script

SEED_EXAMPLE = """
    import os
    from wharf_sdk import get_logger

    logger = get_logger()

    logger.log("simple integer value", 7)
    logger.log("simple float value", 3.141592)
    logger.log("simple string value", "this is a string metric")
    logger.log("chart data points", [1, 3, 5, 10, 6, 4])

    logger.log("my metric 1", 1).wait()
    logger.log("my metric 2", 2).wait()

    logger.upload("artifact/path", "This should be the contents of artifact/path in the service")

    os.makedirs("outputs", exist_ok=True)
    with open("outputs/model.txt", "w") as out:
        out.write("trained weights")
"""


def test_the_seed_example_end_to_end_through_the_cli(server: WharfServer, tmp_path: Path) -> None:
    env = server.env(tmp_path / "home", WHARF_EXPERIMENT="seed-example")
    done = run_script(write_script(tmp_path / "project", "iris.py", SEED_EXAMPLE), env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""

    last = wharf_json("history", "last", "--experiment", "seed-example", env=env)
    assert last["status"] == "Completed"
    assert last["scriptName"] == "iris.py"
    assert last["metrics"] == {
        "simple integer value": 7,
        "simple float value": 3.141592,
        "simple string value": "this is a string metric",
        "chart data points": 4,
        "my metric 1": 1,
        "my metric 2": 2,
    }
    chart = next(m for m in last["metricDetails"] if m["name"] == "chart data points")
    assert chart["values"] == [1, 3, 5, 10, 6, 4]
    assert chart["count"] == 6
    assert sorted(a["path"] for a in last["artifacts"]) == ["artifact/path", "outputs/model.txt"]

    run_id = last["runId"]
    listed = wharf_json("history", "list", "--experiment", "seed-example", env=env)
    assert run_id in [run["runId"] for run in listed]
    shown = wharf("history", "info", "-r", run_id, "-a", "artifact/path", env=env).stdout
    assert shown == "This should be the contents of artifact/path in the service"
    promoted = wharf_json("history", "promote", "-r", run_id, "-ap", "outputs", "-n", "iris-model", env=env)
    assert promoted["version"] == 1
    assert [f["path"] for f in promoted["files"]] == ["model.txt"] or promoted["fileCount"] == 1


def test_the_issue_snippet_stores_every_point_in_order(server: WharfServer, tmp_path: Path) -> None:
    env = server.env(tmp_path / "home", WHARF_EXPERIMENT="issue-snippet")
    script = """
        from wharf_sdk import get_logger
        logger = get_logger()
        logger.log("simple integer value", 7)
        logger.log("chart data points", [1, 3, 5, 10, 6, 4])
        logger.log("my metric 1", 1).wait()
        logger.upload("artifact/path", "contents")
    """
    done = run_script(write_script(tmp_path / "p", "snippet.py", script), env)
    assert done.returncode == 0, done.stderr
    last = wharf_json("history", "last", "--experiment", "issue-snippet", env=env)
    run_id = last["runId"]
    points = series(server, run_id, "chart data points")
    assert [(p["step"], p["value"]) for p in points] == [(0, 1), (1, 3), (2, 5), (3, 10), (4, 6), (5, 4)]
    assert [(p["step"], p["value"]) for p in series(server, run_id, "simple integer value")] == [(0, 7)]
    assert wharf("history", "info", "-r", run_id, "-a", "artifact/path", env=env).stdout == "contents"
    # Nothing is left behind: everything reached the server, so the spool is empty.
    spool = tmp_path / "home" / "spool"
    assert not spool.exists() or not any(spool.iterdir())
