"""Three real bot processes on one Valkey, SIGKILLed at chosen points while Slack misbehaves.

Counted from the fake Web API's record: every alert episode posted exactly once, whatever replica
died holding the flush lock with a post in flight (Slack has the message, the dead bot never learned
its ts) or before its post went out (Slack refusing connections); a 429 with Retry-After and a
stretch of 503s only delay delivery.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bench.replicas import Replicas, count_alert_delivery
from sim.harness import Simulator, simulate
from sim.slack_api import FakeSlackApi
from store.gateway import Store
from store.keys import Keys
from store.outbox import Outbox

POLL = 0.4
NETWORKS = ["sim-1", "sim-2"]


async def until(predicate: Callable[[], Awaitable[bool]], within: float) -> float:
    """Seconds until `predicate` held; the processes signal nothing to us, so their effects are polled."""
    started = time.monotonic()
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110 - separate processes: nothing to await but their effects
            await asyncio.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
async def replicas(
    redis_url: str, redis: Redis, shared_redis: bool, tmp_path: Path
) -> AsyncIterator[tuple[Replicas, Store, Simulator]]:
    if shared_redis:
        pytest.skip("bot processes use the default key prefix; needs the suite's own Valkey")
    fake = await FakeSlackApi.start()
    try:
        async with simulate(networks=len(NETWORKS), nodes=3, realtime=True) as sim:
            bots = Replicas(sim, fake, redis_url, tmp_path, poll_interval=POLL)
            try:
                bots.start(3)
                yield bots, Store(redis, Keys()), sim
            finally:
                bots.stop_all()
    finally:
        await fake.stop()


async def test_sigkilled_replicas_never_lose_or_double_a_post(
    replicas: tuple[Replicas, Store, Simulator],
) -> None:
    bots, store, sim = replicas
    fake, redis = bots.fake, store.redis
    outbox = Outbox(store)
    await until(lambda: _all_leased(bots, store), within=30)

    # 1. Killed during the post: Slack took the message, its answer never reached the bot.
    fake.hold_posts(True)
    await sim.split_brain("sim-1", "seq-2")
    async with asyncio.timeout(10):
        await fake.held.wait()
    holder = await bots.lease_holder(redis, store, "sim-1")
    assert holder is not None and await redis.exists(store.keys.flush_lock("sim-1"))
    bots.kill(holder)
    killed_at = time.monotonic()
    fake.hold_posts(False)
    await until(lambda: _drained(outbox, "sim-1"), within=15)
    takeover = time.monotonic() - killed_at
    # The flush lock's TTL is 3 poll intervals; the lease's too: a new owner delivers soon after.
    assert takeover < 3 * POLL + 3 * POLL + 2.0
    assert fake.calls("conversations.history"), "the unknown outcome was looked up, not re-posted"

    # 2. Killed before its post went out: Slack refused connections meanwhile.
    await fake.set_fault("refuse")
    await sim.split_brain("sim-2", "seq-2")
    await until(lambda: _queued(outbox, "sim-2"), within=10)
    holder = await bots.lease_holder(redis, store, "sim-2")
    assert holder is not None
    bots.kill(holder)
    bots.start(1)
    await asyncio.sleep(POLL)  # let the refusals hit the new owner too (no event crosses processes)
    await fake.set_fault(None)
    await until(lambda: _drained(outbox, "sim-2"), within=15)

    # 3. A 429 with Retry-After, then 503s: delivery waits, nothing doubles.
    await fake.set_fault("429", retry_after=1)
    # The leader dies: a new one is elected, a "leader changed" episode is posted and then resolved.
    leader = sim.network("sim-2").leader_id()
    assert leader is not None
    await sim.kill("sim-2", leader)
    await asyncio.sleep(3 * POLL)
    await fake.set_fault("503")
    await asyncio.sleep(3 * POLL)
    await fake.set_fault(None)
    for network in NETWORKS:
        await until(lambda n=network: _drained(outbox, n), within=15)  # type: ignore[misc]

    count = await count_alert_delivery(store, fake, NETWORKS)
    assert count.problems == []
    assert count.duplicates == 0 and count.lost == 0 and count.episodes >= 2
    assert len(bots.alive()) == 2


async def _all_leased(bots: Replicas, store: Store) -> bool:
    return all([await bots.lease_holder(store.redis, store, n) is not None for n in NETWORKS])


async def _drained(outbox: Outbox, network: str) -> bool:
    redis = outbox.store.redis
    return await outbox.length(network) == 0 and not await redis.exists(outbox.keys.outbox_tries(network))


async def _queued(outbox: Outbox, network: str) -> bool:
    return await outbox.length(network) > 0
