"""Replicas share the networks (rendezvous over heartbeats in real Valkey), and a dead one's move."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from alerts.watcher import Watcher
from chat.context import BotContext
from sim.harness import Simulator, simulate
from sim.slack_api import FakeSlackApi
from store.keys import Keys
from tests.fixtures.redis import eventually
from tests.fixtures.slack import bot_settings, sim_context

# The watcher lease is 3 intervals on Redis's real clock: long enough that a loaded machine does not
# let a live replica's lease lapse between two of its ticks.
INTERVAL = 1.0
NETWORKS = 12


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with simulate(networks=NETWORKS, nodes=1) as running:
        yield running


@pytest.fixture
async def ctx(
    sim: Simulator, fake_slack: FakeSlackApi, redis: Redis, keys: Keys
) -> AsyncIterator[BotContext]:
    async with httpx.AsyncClient() as http:
        yield sim_context(
            sim, fake_slack, redis, keys, http, bot_settings(CONDUCTOR_BOT_POLL_INTERVAL=INTERVAL)
        )


async def _lease_holders(ctx: BotContext) -> dict[str, str | None]:
    return {n: await ctx.store.read_text(ctx.store.keys.watch_lease(n)) for n in ctx.topology.networks}


async def _interval(sim: Simulator, *alive: Watcher) -> None:
    """One poll interval: heartbeats, then every live replica ticks every network (as scheduled)."""
    await sim.advance(INTERVAL)
    for watcher in alive:
        await watcher.heartbeat()
    for watcher in alive:
        await asyncio.gather(*(watcher.tick(n) for n in watcher.ctx.topology.networks))


async def test_two_replicas_split_the_networks_and_a_dead_ones_move_within_three_intervals(
    sim: Simulator, ctx: BotContext
) -> None:
    a, b = Watcher(ctx, "replica-a"), Watcher(ctx, "replica-b")
    await _interval(sim, a, b)
    await _interval(sim, a, b)
    holders = await _lease_holders(ctx)
    mine_a = {n for n, h in holders.items() if h == "replica-a"}
    mine_b = {n for n, h in holders.items() if h == "replica-b"}
    # Each network watched by exactly one replica, and both replicas do part of the work.
    assert mine_a | mine_b == set(ctx.topology.networks) and not mine_a & mine_b
    assert mine_a and mine_b
    assert mine_a == {n for n in ctx.topology.networks if a.assigned(n)}

    # replica-a dies: no more heartbeats, no more ticks, its leases are left to expire.
    for _ in range(3):
        await _interval(sim, b)
        if b.live == ("replica-b",):
            break
    assert b.live == ("replica-b",), "replica-a still counted live after three intervals"
    assert all(b.assigned(n) for n in ctx.topology.networks)

    async def b_watches_everything() -> bool:
        await asyncio.gather(*(b.tick(n) for n in ctx.topology.networks))
        return set((await _lease_holders(ctx)).values()) == {"replica-b"}

    # The lease stays the fence: b takes a's networks once a's leases expire on Redis's clock.
    await eventually(b_watches_everything, within=10.0)


async def test_a_replica_that_loses_a_network_to_a_newcomer_hands_its_lease_over_at_once(
    sim: Simulator, ctx: BotContext
) -> None:
    a = Watcher(ctx, "replica-a")
    await _interval(sim, a)
    assert set((await _lease_holders(ctx)).values()) == {"replica-a"}
    b = Watcher(ctx, "replica-b")
    await b.heartbeat()
    await _interval(sim, a, b)
    holders = await _lease_holders(ctx)
    # Without waiting for a lease TTL: a released what is b's now, and b took it in the same interval.
    assert {n for n, h in holders.items() if h == "replica-b"} == {
        n for n in ctx.topology.networks if b.assigned(n)
    }
    assert "replica-b" in holders.values() and "replica-a" in holders.values()


async def test_a_clean_shutdown_leaves_the_replica_set_at_once(sim: Simulator, ctx: BotContext) -> None:
    a, b = Watcher(ctx, "replica-a"), Watcher(ctx, "replica-b")
    await _interval(sim, a, b)
    await a.release()
    assert await b.heartbeat() == ("replica-b",)
    await asyncio.gather(*(b.tick(n) for n in ctx.topology.networks))
    assert set((await _lease_holders(ctx)).values()) == {"replica-b"}
