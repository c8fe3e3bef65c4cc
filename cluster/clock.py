"""Time sources. Every component takes a `Clock` so tests step time instead of sleeping."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Anything that can tell the current time in unix seconds."""

    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time, for production."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to; shared by the simulator and the bot in tests."""

    def __init__(self, start: float = 1_760_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds

    def set(self, when: float) -> None:
        if when < self._now:
            raise ValueError("time only moves forward")
        self._now = when
