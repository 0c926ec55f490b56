"""The one worker pool of the SDK: bounded concurrency over a list, results in the list's order."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_pool(work: Callable[[T], R], items: Sequence[T], concurrency: int = 8) -> list[R]:
    """
    Runs ``work`` on every item, ``concurrency`` at a time, and returns the results in order; raises the
    first failure once all are done. Falls back to one at a time where threads cannot start (at exit).
    """
    results: list[R | None] = [None] * len(items)
    errors: list[BaseException] = []
    next_index = 0
    guard = threading.Lock()

    def worker() -> None:
        nonlocal next_index
        while True:
            with guard:
                if next_index >= len(items) or errors:
                    return
                index = next_index
                next_index += 1
            try:
                results[index] = work(items[index])
            except BaseException as error:
                with guard:
                    errors.append(error)

    threads = []
    try:
        for _ in range(min(concurrency, len(items)) - 1):
            thread = threading.Thread(target=worker, name="wharf-transfer", daemon=True)
            thread.start()
            threads.append(thread)
    except RuntimeError:
        pass  # The interpreter is shutting down: this thread does the rest alone.
    worker()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [result for result in results]  # type: ignore[misc]
