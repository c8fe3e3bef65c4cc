"""Many networks at once: a small blocking Redis pool makes ticks wait, never fail; polls are shared."""

from __future__ import annotations

import asyncio

import httpx
from redis.asyncio import Redis

from alerts.watcher import Watcher
from chat.context import BotContext
from cluster.http_pool import HttpPool
from sim.harness import Simulator, simulate
from sim.slack_api import FakeSlackApi
from store.connection import client_for
from store.keys import Keys
from tests.fixtures.slack import bot_settings, sim_context


async def _context(
    sim: Simulator,
    fake_slack: FakeSlackApi,
    redis: Redis,
    keys: Keys,
    pool: HttpPool,
    http: httpx.AsyncClient,
) -> BotContext:
    settings = bot_settings(CONDUCTOR_BOT_POLL_CONCURRENCY=64)
    return sim_context(sim, fake_slack, redis, keys, http, settings, http_pool=pool)


async def test_200_networks_ticking_at_once_through_8_redis_connections_all_succeed(
    redis_url: str, redis: Redis, keys: Keys, fake_slack: FakeSlackApi
) -> None:
    # `redis` (unused but requested) flushes the suite's server first.
    small = client_for(redis_url, max_connections=8, pool_timeout=10.0)
    try:
        async with (
            simulate(networks=200, nodes=1) as sim,
            httpx.AsyncClient() as http,
            HttpPool(sim.topology()) as pool,
        ):
            ctx = await _context(sim, fake_slack, small, keys, pool, http)
            watcher = Watcher(ctx, "replica-a")
            await watcher.heartbeat()
            for _ in range(2):
                await sim.advance(1.0)
                # Every tick at the same instant: the old default pool raised MaxConnectionsError here.
                reports = await asyncio.gather(*(watcher.tick(n) for n in ctx.topology.networks))
                assert all(r.leader and not r.lost_race for r in reports)
            assert small.connection_pool.max_connections == 8
    finally:
        await small.aclose()


async def test_status_requests_during_a_watcher_tick_share_its_poll(
    sim: Simulator, redis: Redis, keys: Keys, fake_slack: FakeSlackApi
) -> None:
    async with httpx.AsyncClient() as http, HttpPool(sim.topology()) as pool:
        ctx = await _context(sim, fake_slack, redis, keys, pool, http)
        spec = ctx.topology.networks["sim-1"]
        await sim.hang("sim-1", "seq-2", "node")  # keeps the poll in flight while the others arrive
        watcher = Watcher(ctx, "replica-a")
        before = sim.requests("sim-1")
        tick = asyncio.create_task(watcher.tick("sim-1"))
        # Nothing signals a request's arrival at the simulator, so its counter is polled (bounded).
        async with asyncio.timeout(5):
            while sim.requests("sim-1") - before < 6:  # noqa: ASYNC110 - the tick's poll reached them all
                await asyncio.sleep(0.01)
        statuses = [asyncio.create_task(ctx.snapshots.snapshot(spec, 1.0)) for _ in range(20)]
        await sim.unhang("sim-1", "seq-2", "node")
        report = await tick
        snaps = await asyncio.gather(*statuses)
    assert report.leader
    assert sim.requests("sim-1") - before == 6
    assert len({id(s) for s in snaps}) == 1
