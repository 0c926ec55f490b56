"""Run.get_context() and get_logger(): interactive runs outside a submitted run, and binding inside one."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from conftest import WharfServer, run_id_in, run_script, series, start_script, wharf, wharf_json, write_script


def test_an_interactive_run_is_named_after_the_script_and_completed_at_exit(
    server: WharfServer, tmp_path: Path
) -> None:
    script = """
        from wharf_sdk import Run, get_logger
        run = Run.get_context()
        assert Run.get_context() is run
        get_logger().log("loss", 0.5)
        print(run.id)
    """
    done = run_script(write_script(tmp_path / "p", "train_mnist.py", script), server.env(tmp_path / "home"))
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    info = wharf_json("history", "info", "-r", run_id, env=server.env(tmp_path / "home"))
    assert info["experiment"] == "train_mnist"
    assert info["status"] == "Completed"
    assert info["metrics"] == {"loss": 0.5}


def test_an_uncaught_exception_marks_the_interactive_run_failed(server: WharfServer, tmp_path: Path) -> None:
    script = """
        from wharf_sdk import get_logger
        get_logger().log("loss", 0.5)
        raise RuntimeError("out of memory at batch 7")
    """
    env = server.env(tmp_path / "home", WHARF_EXPERIMENT="crashing")
    done = run_script(write_script(tmp_path / "p", "crash.py", script), env)
    assert done.returncode == 1
    assert "out of memory at batch 7" in done.stderr
    last = wharf_json("history", "last", "--experiment", "crashing", env=env)
    assert last["status"] == "Failed"
    assert last["error"]["message"] == "out of memory at batch 7"
    assert last["metrics"] == {"loss": 0.5}


def test_sys_exit_with_a_non_zero_status_marks_the_interactive_run_failed(server: WharfServer, tmp_path: Path) -> None:
    script = """
        import sys
        from wharf_sdk import get_logger
        get_logger().log("loss", 0.5)
        sys.exit(3)
    """
    env = server.env(tmp_path / "home", WHARF_EXPERIMENT="exiting")
    done = run_script(write_script(tmp_path / "p", "exit3.py", script), env)
    assert done.returncode == 3, done.stderr
    last = wharf_json("history", "last", "--experiment", "exiting", env=env)
    assert last["status"] == "Failed"
    assert "status 3" in last["error"]["message"]
    assert last["metrics"] == {"loss": 0.5}

    zero = run_script(write_script(tmp_path / "q", "exit0.py", script.replace("sys.exit(3)", "sys.exit(0)")), env)
    assert zero.returncode == 0, zero.stderr
    assert wharf_json("history", "last", "--experiment", "exiting", env=env)["status"] == "Completed"


def test_a_failed_background_upload_nobody_waits_for_is_printed(server: WharfServer, tmp_path: Path) -> None:
    script = """
        import time
        from wharf_sdk import get_logger
        get_logger().upload("../outside.txt", "text")  # refused; the script never waits for it
        time.sleep(1)
        print("DONE")
    """
    done = run_script(write_script(tmp_path / "p", "upload.py", script), server.env(tmp_path / "home"))
    assert done.returncode == 0, done.stderr
    assert "DONE" in done.stdout
    assert 'wharf: warning: the upload of artifact "../outside.txt"' in done.stderr
    assert "UNSAFE_PATH" in done.stderr or ".." in done.stderr


def test_processes_forked_by_multiprocessing_log_to_the_run_through_loggers_of_their_own(
    server: WharfServer, tmp_path: Path
) -> None:
    script = """
        import multiprocessing, threading
        from wharf_sdk import Run, get_logger

        def child(index):
            for step in range(200):
                get_logger().log(f"child{index}", step)

        logger = get_logger()
        logger.log("parent", 1).wait()
        busy = threading.Event()
        def keep_logging():  # the lock is often held when the fork happens
            step = 0
            while not busy.is_set():
                logger.log("busy", step)
                step += 1
        thread = threading.Thread(target=keep_logging)
        thread.start()
        fork = multiprocessing.get_context("fork")
        children = [fork.Process(target=child, args=(i,)) for i in range(3)]
        for process in children:
            process.start()
        for process in children:
            process.join(60)
            assert process.exitcode == 0, process.exitcode
        busy.set()
        thread.join()
        logger.log("parent", 2)
        print(Run.get_context().id)
    """
    env = server.env(tmp_path / "home", WHARF_EXPERIMENT="forking")
    done = run_script(write_script(tmp_path / "p", "fork.py", script), env, timeout=120)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    for index in range(3):
        assert [p["value"] for p in series(server, run_id, f"child{index}")] == list(range(200))
    assert [p["value"] for p in series(server, run_id, "parent")] == [1, 2]
    busy = [p["value"] for p in series(server, run_id, "busy")]
    assert busy == list(range(len(busy))) and busy  # the parent's logging went on, whole
    assert wharf_json("history", "info", "-r", run_id, env=env)["status"] == "Completed"


def test_sigterm_stores_what_was_logged_and_cancels_the_run(server: WharfServer, tmp_path: Path) -> None:
    script = """
        import time
        from wharf_sdk import get_logger
        logger = get_logger()
        for i in range(500):
            logger.log("loss", i)
        logger.log("ready", 1).wait()
        print("READY", flush=True)
        while True:
            time.sleep(0.1)
    """
    env = server.env(tmp_path / "home", WHARF_EXPERIMENT="terminated")
    process = start_script(write_script(tmp_path / "p", "sigterm.py", script), env)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "READY"
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 143
    last = wharf_json("history", "last", "--experiment", "terminated", env=env)
    assert last["status"] == "Canceled"
    assert [p["value"] for p in series(server, last["runId"], "loss")] == list(range(500))


def test_a_submitted_script_logs_to_its_run_through_the_run_token(server: WharfServer, tmp_path: Path) -> None:
    script = """
        import os
        from wharf_sdk import Run, get_logger
        run = Run.get_context()
        print("bound to", run.id, "env", os.environ["WHARF_RUN_ID"], "token", bool(os.environ.get("WHARF_RUN_TOKEN")))
        logger = get_logger()
        for i in range(300):
            logger.log("loss", 1 / (i + 1))
        logger.log("final accuracy", 0.93).wait()
        logger.upload("notes.txt", "submitted")
        run.complete()  # in a submitted run this only stores what was logged: the runner sets the status
        os.makedirs("outputs", exist_ok=True)
        open("outputs/model.txt", "w").write("weights")
    """
    project = tmp_path / "project"
    write_script(project, "train.py", script)
    env = server.env(tmp_path / "home")
    submitted = wharf(
        "run",
        "submit",
        "--script",
        "train.py",
        "--python",
        sys.executable,
        "--experiment",
        "submitted-py",
        env=env,
        cwd=project,
    )
    run_id = run_id_in(submitted.stdout + submitted.stderr)
    assert f"bound to {run_id} env {run_id} token True" in submitted.stdout
    info = wharf_json("history", "info", "-r", run_id, env=env)
    assert info["status"] == "Completed"
    assert info["metrics"]["final accuracy"] == 0.93
    assert len(series(server, run_id, "loss")) == 300
    paths = {a["path"] for a in info["artifacts"]}
    assert {"notes.txt", "outputs/model.txt"} <= paths


def test_a_submitted_script_loads_a_model_by_alias_and_registers_what_it_wrote(
    server: WharfServer, tmp_path: Path
) -> None:
    script = """
        import os
        from wharf_sdk import Model, Run
        run = Run.get_context()
        base = Model(run.workspace, "py-base", "production")
        base.download("base")
        weights = open(os.path.join("base", "base.txt")).read()
        os.makedirs("outputs", exist_ok=True)
        open("outputs/tuned.txt", "w").write(weights + " + tuned")
        version = run.register_model("py-tuned", "tuned.txt", aliases=["candidate"])
        print("base", base.version, "registered", version.version)
    """
    # The base model: registered from an earlier run, with the alias the script asks for.
    env = server.env(tmp_path / "home")
    earlier = tmp_path / "earlier"
    write_script(
        earlier,
        "base.py",
        """
        import os
        from wharf_sdk import Run
        run = Run.get_context()
        os.makedirs("outputs", exist_ok=True)
        open("outputs/base.txt", "w").write("base weights")
        run.register_model("py-base", "base.txt", aliases=["production"])
        """,
    )
    registered = run_script(earlier / "base.py", {**env, "WHARF_EXPERIMENT": "py-models"})
    assert registered.returncode == 0, registered.stdout + registered.stderr
    project = tmp_path / "project"
    write_script(project, "finetune.py", script)
    submitted = wharf(
        "run",
        "submit",
        "--script",
        "finetune.py",
        "--python",
        sys.executable,
        "--experiment",
        "py-models",
        env=env,
        cwd=project,
    )
    run_id = run_id_in(submitted.stdout + submitted.stderr)
    assert "base 1 registered 1" in submitted.stdout, submitted.stdout + submitted.stderr
    tuned = wharf_json("asset", "show", "py-tuned@candidate", env=env)
    assert (tuned["version"], tuned["sourceRunId"], tuned["artifactPath"]) == (1, run_id, "outputs/tuned.txt")


def test_a_submitted_script_that_raises_ends_failed_with_its_points_stored(server: WharfServer, tmp_path: Path) -> None:
    script = """
        from wharf_sdk import get_logger
        logger = get_logger()
        for i in range(50):
            logger.log("loss", i)
        raise SystemExit("diverged")
    """
    project = tmp_path / "project"
    write_script(project, "train.py", script)
    env = server.env(tmp_path / "home")
    submitted = wharf(
        "run",
        "submit",
        "--script",
        "train.py",
        "--python",
        sys.executable,
        "--experiment",
        "submitted-fail",
        env=env,
        cwd=project,
        check=False,
    )
    assert submitted.returncode == 7, submitted.stdout + submitted.stderr
    last = wharf_json("history", "last", "--experiment", "submitted-fail", env=env)
    assert last["status"] == "Failed"
    # The exit hook stored every point before the process went.
    assert [p["value"] for p in series(server, last["runId"], "loss")] == list(range(50))
