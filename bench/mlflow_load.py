"""Load for the mlflow.compare bench (bench/mlflow.ts): drives a real MLflow tracking server through
MlflowClient and prints one JSON object on stdout. The clock covers only the client calls; runs are
created and every Metric is built before it starts, as the Wharf side serialises its bodies first.

    python mlflow_load.py ingest --uri URI --points N --threads 8 --rounds 3 --warmup-points N
    python mlflow_load.py read --uri URI --points 100000 --reads 5
"""

import argparse
import json
import sys
import threading
import time

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

BATCH = 1000  # MLflow's own cap: log_batch takes at most 1,000 metrics per call
NAMES = ["loss", "accuracy", "lr", "grad_norm"]
STEPS_PER_CALL = BATCH // len(NAMES)  # 4 names x 250 steps per call


def ingest_batches(calls, now_ms):
    """The calls one thread makes: 4 names x 250 explicit steps each, explicit timestamps."""
    batches = []
    for call in range(calls):
        metrics = []
        for step_in_call in range(STEPS_PER_CALL):
            step = call * STEPS_PER_CALL + step_in_call
            for index, name in enumerate(NAMES):
                value = float((step * 7 + index) % 1000) / 100.0
                metrics.append(Metric(name, value, now_ms + step, step))
        batches.append(metrics)
    return batches


def ingest_rate(client, experiment_id, points, threads):
    """Points/s of log_batch from `threads` threads, each into its own run, all started together."""
    calls = -(-points // (BATCH * threads))
    now_ms = int(time.time() * 1000)
    runs = [client.create_run(experiment_id).info.run_id for _ in range(threads)]
    work = [ingest_batches(calls, now_ms) for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)
    errors = []

    def writer(run_id, batches):
        own = MlflowClient(client.tracking_uri)
        barrier.wait()
        try:
            for metrics in batches:
                own.log_batch(run_id, metrics=metrics, synchronous=True)
        except Exception as error:  # noqa: BLE001 -- reported on stdout and turned into a failure below
            errors.append(repr(error))

    workers = [threading.Thread(target=writer, args=(runs[t], work[t])) for t in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"log_batch failed: {errors[0]}")
    return calls * threads * BATCH / seconds


def read_times(client, experiment_id, points, reads):
    """Milliseconds of get_metric_history on one metric of `points` points, after one warm-up read."""
    run_id = client.create_run(experiment_id).info.run_id
    now_ms = int(time.time() * 1000)
    for start in range(0, points, BATCH):
        metrics = [Metric("loss", step / 1000.0, now_ms + step, step) for step in range(start, min(points, start + BATCH))]
        client.log_batch(run_id, metrics=metrics, synchronous=True)
    times = []
    for attempt in range(reads + 1):
        started = time.perf_counter()
        history = client.get_metric_history(run_id, "loss")
        elapsed = (time.perf_counter() - started) * 1000
        steps = sorted(m.step for m in history)
        # A figure for a wrong answer is worse than none.
        if steps != list(range(points)):
            raise RuntimeError(f"get_metric_history returned {len(history)} points, expected steps 0..{points - 1}")
        if attempt > 0:
            times.append(elapsed)
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["ingest", "read"])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--points", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup-points", type=int, default=0)
    parser.add_argument("--reads", type=int, default=5)
    args = parser.parse_args()

    client = MlflowClient(args.uri)
    experiment_id = client.create_experiment(f"bench-{args.mode}-{time.time_ns()}")
    if args.mode == "ingest":
        if args.warmup_points > 0:
            ingest_rate(client, experiment_id, args.warmup_points, args.threads)
        rates = [ingest_rate(client, experiment_id, args.points, args.threads) for _ in range(args.rounds)]
        json.dump({"rates": rates}, sys.stdout)
    else:
        json.dump({"ms": read_times(client, experiment_id, args.points, args.reads)}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
