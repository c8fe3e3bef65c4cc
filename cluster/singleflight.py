"""Single-flight snapshots: callers asking for the same network at once share one poll.

A burst of `/conductor status` for one network, or a status request during the watcher's tick, costs
one poll of the cluster instead of one per caller. A caller that accepts some staleness (`max_age`,
status does) also gets the last completed snapshot while it is that fresh; the watcher passes 0 and
only joins a poll already in flight. Operation preflight and verification do not come through here:
they must see the cluster after the moment they ask.

A snapshot counts as fresh only while both its real age (monotonic) and its age on the bot's clock
are within `max_age`, so a test that steps a virtual clock gets a new poll after each step.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from cluster.clock import Clock
from cluster.poller import poll_network
from cluster.rpc import DEFAULT_TIMEOUT, HttpClient
from cluster.snapshot import NetworkSnapshot
from cluster.topology import NetworkSpec

log = logging.getLogger(__name__)


class SharedPoller:
    """Polls networks through `client(network)`, one poll in flight per network."""

    def __init__(
        self,
        client: Callable[[str], HttpClient],
        clock: Clock,
        timeout: float = DEFAULT_TIMEOUT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._clock = clock
        self._timeout = timeout
        self._monotonic = monotonic
        self._inflight: dict[str, asyncio.Task[NetworkSnapshot]] = {}
        # network -> (monotonic start of the poll, its snapshot)
        self._last: dict[str, tuple[float, NetworkSnapshot]] = {}
        self.polls = 0

    async def snapshot(self, spec: NetworkSpec, max_age: float = 0.0) -> NetworkSnapshot:
        """A snapshot of `spec`: the poll in flight, else one at most `max_age` old, else a new poll."""
        name = spec.name
        running = self._inflight.get(name)
        if running is None:
            last = self._last.get(name)
            if last is not None and max_age > 0 and self._fresh(last, max_age):
                return last[1]
            running = asyncio.get_running_loop().create_task(self._poll(spec), name=f"poll {name}")
            self._inflight[name] = running
            running.add_done_callback(lambda task: self._done(name, task))
        # Shielded: one impatient caller (a cancelled tick) must not cancel the poll the others await.
        return await asyncio.shield(running)

    def _fresh(self, last: tuple[float, NetworkSnapshot], max_age: float) -> bool:
        started, snap = last
        return self._monotonic() - started <= max_age and self._clock.now() - snap.taken_at <= max_age

    async def _poll(self, spec: NetworkSpec) -> NetworkSnapshot:
        started = self._monotonic()
        self.polls += 1
        snap = await poll_network(spec, self._client(spec.name), self._clock, timeout=self._timeout)
        self._last[spec.name] = (started, snap)
        return snap

    def _done(self, name: str, task: asyncio.Task[NetworkSnapshot]) -> None:
        if self._inflight.get(name) is task:
            del self._inflight[name]
        if not task.cancelled() and task.exception() is not None:
            # Retrieved here so a poll whose callers all gave up does not warn "never retrieved".
            log.debug("shared poll failed network=%s", name)
