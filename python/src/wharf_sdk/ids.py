"""Run ids made on this machine: lowercase ULIDs, as the server and the TypeScript SDK make them."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_guard = threading.Lock()
_last = (0, 0)


def _after_fork_in_child() -> None:
    global _guard
    _guard = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_after_fork_in_child)


def new_run_id() -> str:
    """A new lowercase ULID: 48 bits of milliseconds then 80 random bits; ids of one process sort by creation."""
    global _last
    with _guard:
        ms = int(time.time() * 1000)
        last_ms, last_random = _last
        randomness = last_random + 1 if ms <= last_ms else int.from_bytes(os.urandom(10), "big")
        ms = max(ms, last_ms)
        _last = (ms, randomness)
    value = (ms << 80) | (randomness & ((1 << 80) - 1))
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
