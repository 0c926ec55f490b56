"""
What ``.wait()`` promises, and what happens to points while the server is away: the spool, in the
TypeScript SDK's format, replayed by the logger when the server is back or by ``wharf sync``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import WharfServer, run_script, series, wharf, wharf_json, write_script

from wharf_sdk import MetricLogger, RetryPolicy, WharfError
from wharf_sdk.client import WharfClient

FAST_RETRY = RetryPolicy(attempts=3, initial_delay=0.02, max_delay=0.1)


def new_run(client: WharfClient, experiment: str) -> str:
    return str(client.create_run({"experiment": experiment, "status": "Running"})["id"])


def test_wait_returns_once_the_point_is_stored_and_not_before(server: WharfServer, tmp_path: Path) -> None:
    client = WharfClient(server.url)
    run_id = new_run(client, "wait")
    # A long flush interval: nothing is sent on its own during the test, only what a wait asks for.
    logger = MetricLogger(client=client, run_id=run_id, spool_dir=str(tmp_path / "spool"), flush_interval=60)
    first = logger.log("loss", 0.5)
    second = logger.log("loss", 0.25)
    assert first is second  # one handle per batch, not one per point
    time.sleep(0.3)
    assert series(server, run_id, "loss") == []
    assert not first.done()
    first.wait()
    assert first.done()
    assert [(p["step"], p["value"]) for p in series(server, run_id, "loss")] == [(0, 0.5), (1, 0.25)]
    logger.close()


def test_wait_raises_what_the_server_refused(server: WharfServer, tmp_path: Path) -> None:
    client = WharfClient(server.url)
    run_id = "no-such-run"
    errors: list[WharfError] = []
    logger = MetricLogger(client=client, run_id=run_id, spool_dir=str(tmp_path / "spool"), on_error=errors.append)
    with pytest.raises(WharfError) as refused:
        logger.log("loss", 1).wait(timeout=30)
    assert refused.value.code == "RUN_NOT_FOUND"
    assert [e.code for e in errors] == ["RUN_NOT_FOUND"]
    # A refused batch is not spooled: sending it again could never succeed.
    assert not (tmp_path / "spool").exists() or not any((tmp_path / "spool").iterdir())
    with pytest.raises(WharfError) as closing:
        logger.close()  # a close reports the refusal too: nobody may miss it
    assert closing.value.code == "RUN_NOT_FOUND"


def test_an_outage_spools_waits_name_the_file_and_the_logger_replays_it(
    own_server: WharfServer, tmp_path: Path
) -> None:
    client = WharfClient(own_server.url, timeout=2)
    run_id = new_run(client, "outage")
    spool = tmp_path / "spool"
    errors: list[WharfError] = []
    logger = MetricLogger(
        client=client,
        run_id=run_id,
        spool_dir=str(spool),
        retry=FAST_RETRY,
        wait_timeout=0.5,
        flush_interval=0.01,
        max_batch_points=100,
        on_error=errors.append,
    )
    for i in range(500):
        logger.log("loss", i)
    logger.flush(timeout=30)
    own_server.stop()
    for i in range(500, 1500):
        logger.log("loss", i)
    with pytest.raises(WharfError) as unreachable:
        logger.log("loss", 1500).wait(timeout=30)
    assert unreachable.value.code == "SERVER_UNREACHABLE"
    assert logger.spool_file in unreachable.value.message
    assert "wharf sync" in unreachable.value.message
    assert any("wharf sync" in e.message for e in errors)

    # The file is the TypeScript SDK's: one JSON batch a line with run, workspace, writer and sequence.
    lines = Path(logger.spool_file).read_text().splitlines()
    record = json.loads(lines[0])
    assert set(record) == {"v", "runId", "workspace", "writerId", "sequence", "series"}
    assert (record["v"], record["runId"], record["workspace"], record["writerId"]) == (
        1,
        run_id,
        "default",
        logger.writer_id,
    )
    assert record["series"][0]["name"] == "loss" and "values" in record["series"][0]
    assert Path(logger.spool_file + ".lock").read_text().strip() != ""

    own_server.start()
    deadline = time.monotonic() + 60
    while True:
        try:
            logger.flush(timeout=5)
            break
        except WharfError:
            if time.monotonic() > deadline:
                raise
    points = series(own_server, run_id, "loss")
    # Steps given in logging order with no gap and no double: each point arrived once, in order.
    assert [(p["step"], p["value"]) for p in points] == [(i, i) for i in range(1501)]
    assert not Path(logger.spool_file).exists()
    logger.close()
    assert not Path(logger.spool_file + ".lock").exists()


def test_the_server_killed_and_restarted_mid_logging_loses_nothing(own_server: WharfServer, tmp_path: Path) -> None:
    client = WharfClient(own_server.url, timeout=2)
    run_id = new_run(client, "restart")
    logger = MetricLogger(
        client=client,
        run_id=run_id,
        spool_dir=str(tmp_path / "spool"),
        retry=FAST_RETRY,
        flush_interval=0.01,
        max_batch_points=100,
        on_error=lambda error: None,
    )
    assert own_server.process is not None
    for i in range(2000):
        logger.log("loss", i)
        if i % 100 == 0:
            time.sleep(0.005)
    own_server.process.kill()  # no goodbye: requests in flight are cut off
    own_server.process.wait()
    own_server.process = None
    for i in range(2000, 4000):
        logger.log("loss", i)
    own_server.start()
    for i in range(4000, 6000):
        logger.log("loss", i)
    deadline = time.monotonic() + 90
    while True:
        try:
            logger.flush(timeout=5)
            break
        except WharfError:
            if time.monotonic() > deadline:
                raise
    logger.close()
    points = series(own_server, run_id, "loss")
    assert len(points) == 6000
    assert all(p["step"] == i and p["value"] == i for i, p in enumerate(points))


KILLED_SCRIPT = """
    import sys, time
    from wharf_sdk import Workspace
    run = Workspace.from_config().experiment("killed").start_logging(outputs=None)
    print(run.id, flush=True)
    for i in range(1000):
        run.log("loss", i)
    run.flush()
    print("STORED", flush=True)
    sys.stdin.readline()  # the test stops the server here
    for i in range(1000, 3000):
        run.log("loss", i)
    while run.logger.spooled_points < 2000:
        time.sleep(0.05)
    print("SPOOLED", flush=True)
    time.sleep(600)
"""


def kill_during_an_outage(server: WharfServer, tmp_path: Path) -> tuple[str, dict[str, str], Path]:
    """Runs KILLED_SCRIPT, stops the server while it logs, SIGKILLs it once its points are spooled, starts the server again."""
    env = server.env(tmp_path / "home")
    script = write_script(tmp_path / "p", "killed.py", KILLED_SCRIPT)
    process = subprocess.Popen(
        [sys.executable, script.name],
        cwd=script.parent,
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        run_id = process.stdout.readline().strip()
        assert process.stdout.readline().strip() == "STORED"
        server.stop()
        process.stdin.write("go\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "SPOOLED"
    finally:
        process.send_signal(signal.SIGKILL)  # no exit hook runs: only what is on disk survives
        process.wait()
    spool = tmp_path / "home" / "spool"
    assert [f.name for f in spool.glob("*.jsonl")] == [p.name for p in spool.glob(f"{run_id}.*.jsonl")]
    assert list(spool.glob("*.lock"))  # left by the dead process, taken over by whoever replays
    server.start()
    return run_id, env, spool


def test_a_python_process_killed_mid_logging_leaves_a_spool_that_wharf_sync_replays(
    own_server: WharfServer, tmp_path: Path
) -> None:
    run_id, env, spool = kill_during_an_outage(own_server, tmp_path)
    synced = wharf("sync", env=env)
    assert "2000 points" in synced.stdout, synced.stdout
    points = series(own_server, run_id, "loss")
    assert [(p["step"], p["value"]) for p in points] == [(i, i) for i in range(3000)]
    assert not list(spool.glob("*.jsonl"))
    # Synced twice: nothing is stored twice.
    wharf("sync", env=env)
    assert len(series(own_server, run_id, "loss")) == 3000


def test_the_next_process_of_a_run_sends_what_a_killed_one_spooled_first(
    own_server: WharfServer, tmp_path: Path
) -> None:
    run_id, env, spool = kill_during_an_outage(own_server, tmp_path)
    # The script starts again inside the same (submitted) run, as a restarted job would.
    resumed = """
        from wharf_sdk import get_logger
        logger = get_logger()
        for i in range(3000, 3100):
            logger.log("loss", i)
        logger.log("loss", 3100).wait()
    """
    done = run_script(write_script(tmp_path / "p", "resumed.py", resumed), {**env, "WHARF_RUN_ID": run_id})
    assert done.returncode == 0, done.stderr
    points = series(own_server, run_id, "loss")
    assert [(p["step"], p["value"]) for p in points] == [(i, i) for i in range(3101)]
    assert not list(spool.glob("*.jsonl")) and not list(spool.glob("*.lock"))


def test_a_script_started_while_the_server_is_down_is_created_by_wharf_sync(
    own_server: WharfServer, tmp_path: Path
) -> None:
    env = own_server.env(tmp_path / "home", WHARF_EXPERIMENT="offline")
    own_server.stop()
    script = """
        import os
        from wharf_sdk import get_logger
        logger = get_logger()
        logger.log("chart", [1, 3, 5, 10, 6, 4])
        for i in range(2500):
            logger.log("loss", i)
        logger.log("done", 1).wait()  # offline, waiting means fsynced in the spool
        logger.upload("notes.txt", "written offline")
        os.makedirs("outputs", exist_ok=True)
        open("outputs/model.txt", "w").write("weights")
    """
    done = run_script(write_script(tmp_path / "p", "offline.py", script), env)
    assert done.returncode == 0, done.stderr
    assert "wharf sync" in done.stderr and "2507 metric points" in done.stderr, done.stderr
    run_id = next((tmp_path / "home" / "spool" / "runs").iterdir()).name

    own_server.start()
    synced = wharf("sync", env=env)
    assert "created 1 run" in synced.stdout, synced.stdout
    info = wharf_json("history", "info", "-r", run_id, env=env)
    assert info["status"] == "Completed"
    assert info["experiment"] == "offline"
    assert info["metrics"] == {"chart": 4, "loss": 2499, "done": 1}
    assert {a["path"] for a in info["artifacts"]} == {"notes.txt", "outputs/model.txt"}
    assert [p["value"] for p in series(own_server, run_id, "loss")] == list(range(2500))
    assert wharf("history", "info", "-r", run_id, "-a", "notes.txt", env=env).stdout == "written offline"
