"""Bandwidth and latency shaping: per connection, for the link as a whole, and per request.

A :class:`Pacer` lets bytes through at a fixed average rate using virtual time: each chunk
reserves the interval it needs after the previous one, and the sender sleeps until its interval
ends. A connection waits for both its own pacer and the link's shared one, so many connections
together get no more than the link allows. A pacer that fell behind (a sleep that overshot, a
slow reader) may catch up by at most ``CATCH_UP_S`` worth of bytes, so idle time buys no bursts
but scheduling jitter does not lower the rate.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

CHUNK = 64 * 1024
CATCH_UP_S = 0.01


class Pacer:
    def __init__(self, bytes_per_s: float) -> None:
        self.bytes_per_s = bytes_per_s
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self, size: int) -> float:
        """Reserve ``size`` bytes; return the monotonic time at which they have passed."""
        if self.bytes_per_s <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            behind_a_little = now - CATCH_UP_S <= self._next
            start = self._next if behind_a_little else now
            self._next = start + size / self.bytes_per_s
            return self._next


def wait_for(*pacers: Pacer | None, size: int) -> None:
    deadline = max((p.reserve(size) for p in pacers if p is not None), default=0.0)
    remaining = deadline - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


def paced_copy(source: Path, destination: Path, bytes_per_s: float, overhead_s: float = 0) -> int:
    """Copy a file as a transfer at ``bytes_per_s`` after ``overhead_s``; unshaped when 0."""
    if overhead_s > 0:
        time.sleep(overhead_s)
    pacer = Pacer(bytes_per_s) if bytes_per_s > 0 else None
    copied = 0
    with open(source, "rb") as reader, open(destination, "wb") as writer:
        while chunk := reader.read(CHUNK * 16):
            wait_for(pacer, size=len(chunk))
            writer.write(chunk)
            copied += len(chunk)
    os.utime(destination)
    return copied
