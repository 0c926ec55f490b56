"""
Python SDK ingest load for ``npm run bench``: THREADS threads, each logging into its own run through
``run.log`` (four metric names in turn, server-assigned steps), timed from the first ``log()`` call
to the last point stored (every run's ``flush()`` returned). Runs are created before the clock starts.
Prints one JSON object on stdout.

    python bench/ingest.py --url http://127.0.0.1:5050 --points 200000 --threads 8
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time

from wharf_sdk import Workspace

NAMES = ("loss", "accuracy", "lr", "grad_norm")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    spool = tempfile.mkdtemp(prefix="wharf-bench-spool-")
    workspace = Workspace(args.url, spool_dir=spool)
    experiment = workspace.experiment("bench-python-sdk")
    runs = [experiment.start_logging(outputs=None) for _ in range(args.threads)]
    per_thread = args.points // args.threads
    start = threading.Barrier(args.threads + 1)

    def work(index: int) -> None:
        run = runs[index]
        log = run.log
        start.wait()
        for i in range(per_thread):
            log(NAMES[i & 3], i * 0.001)
        run.flush()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(args.threads)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    stored = sum(sum(m["count"] for m in workspace.client.list_metrics(run.id)) for run in runs)
    for run in runs:
        run.complete()
    total = per_thread * args.threads
    if stored != total:
        raise SystemExit(f"stored {stored} points, logged {total}")
    print(
        json.dumps({"points": total, "threads": args.threads, "seconds": seconds, "pointsPerSecond": total / seconds})
    )


if __name__ == "__main__":
    main()
