"""Wall-clock time for the store (entry ages, eviction), replaceable in tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

NS_PER_SECOND = 1_000_000_000


class Clock(Protocol):
    def now_ns(self) -> int: ...


class SystemClock:
    def now_ns(self) -> int:
        return time.time_ns()


@dataclass
class ManualClock:
    """A clock that moves only when told to."""

    now: int = 1_700_000_000 * NS_PER_SECOND

    def now_ns(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * NS_PER_SECOND)
