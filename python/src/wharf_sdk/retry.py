"""How patiently a request that may pass (server down, 5xx) is tried again."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .errors import WharfError, is_retryable

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Tries in all (the first included) and the delays between them, in seconds, as the TypeScript SDK's defaults."""

    attempts: int = 5
    initial_delay: float = 0.1
    max_delay: float = 5.0


def backoff_delay(policy: RetryPolicy, failures: int) -> float:
    """The delay before retry number ``failures`` (1 for the first): exponential, capped, half of it random."""
    base: float = min(policy.max_delay, policy.initial_delay * 2 ** min(failures - 1, 30))
    # Loggers that lost the server together do not come back in lockstep.
    return base / 2 + random.random() * base / 2


def retry_request(request: Callable[[], T], policy: RetryPolicy, *, should_stop: Callable[[], bool] | None = None) -> T:
    """Runs ``request`` until it succeeds, retrying retryable WharfErrors with backoff; raises the last one."""
    attempt = 1
    while True:
        try:
            return request()
        except WharfError as error:
            if not is_retryable(error) or attempt >= policy.attempts or (should_stop is not None and should_stop()):
                raise
            time.sleep(backoff_delay(policy, attempt))
            if should_stop is not None and should_stop():
                raise
            attempt += 1
