"""Single-flight snapshots: a burst of callers costs one poll, counted at the simulator."""

from __future__ import annotations

import asyncio

import httpx

from cluster.singleflight import SharedPoller
from sim.harness import Simulator

NET = "sim-1"


async def test_twenty_concurrent_callers_share_one_poll(sim: Simulator) -> None:
    spec = sim.topology().networks[NET]
    async with httpx.AsyncClient() as http:
        poller = SharedPoller(lambda _n: http, sim.clock, timeout=1.0)
        before = sim.requests(NET)
        snaps = await asyncio.gather(*(poller.snapshot(spec, max_age=1.0) for _ in range(20)))
    # One batch to each conductor and each op-node of the 3 nodes: one poll, not twenty.
    assert sim.requests(NET) - before == 6
    assert all(s is snaps[0] for s in snaps)
    assert all(not n.errors for n in snaps[0].nodes)


async def test_a_fresh_snapshot_is_reused_and_a_step_of_the_clock_polls_again(sim: Simulator) -> None:
    spec = sim.topology().networks[NET]
    async with httpx.AsyncClient() as http:
        poller = SharedPoller(lambda _n: http, sim.clock, timeout=1.0)
        first = await poller.snapshot(spec, max_age=5.0)
        assert await poller.snapshot(spec, max_age=5.0) is first
        # max_age 0 (the watcher) never takes a finished snapshot.
        before = sim.requests(NET)
        await poller.snapshot(spec)
        assert sim.requests(NET) - before == 6
        await sim.kill(NET, "seq-1", "node")
        await sim.advance(6.0)
        after = await poller.snapshot(spec, max_age=5.0)
    assert after is not first
    assert any(e.endpoint == "node" for n in after.nodes if n.id == "seq-1" for e in n.errors)


async def test_a_cancelled_caller_does_not_cancel_the_poll_others_wait_for(sim: Simulator) -> None:
    spec = sim.topology().networks[NET]
    async with httpx.AsyncClient() as http:
        poller = SharedPoller(lambda _n: http, sim.clock, timeout=1.0)
        impatient = asyncio.create_task(poller.snapshot(spec))
        patient = asyncio.create_task(poller.snapshot(spec))
        await asyncio.sleep(0)  # both are waiting on the one poll
        impatient.cancel()
        snap = await patient
    assert all(not n.errors for n in snap.nodes)
    assert poller.polls == 1
