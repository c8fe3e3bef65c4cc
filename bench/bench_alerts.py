"""Alert latency and watcher cost against the simulator: `python -m bench.bench_alerts`.

(a) Alert latency, in simulator time. Model: the watcher ticks every poll interval P (as the
    scheduler does); a fault is injected at a random phase within an interval; latency is the sim
    time from the injection to the tick whose notifier call made the fake Slack Web API record the
    alert's `chat.postMessage`. Sim time stands still while a tick runs (ManualClock), so the figure
    is the scheduling delay plus the rule's `for` duration; real tick cost is measured in (b).
    Two rules: `multiple_active` (fires at first sight; expect latency in (0, P]) and
    `node_unreachable` (10 s `for`; expect (10, 10 + 2P]).
Real parts throughout: simulator over HTTP, embedded Valkey, fake Slack Web API over HTTP.
The watcher's cost at scale (wall, CPU, requests per node, real-time fault → alert latency, with the
simulator in its own process and 1 or 3 replicas) is `bench/bench_watch.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from alerts.watcher import Watcher
from bot.settings import Settings
from chat.authz import UserGroupDirectory
from chat.context import BotContext
from sim.harness import Simulator, simulate
from sim.slack_api import FakeSlackApi
from store.connection import client_for, start_valkey
from store.gateway import Store
from store.keys import Keys

NET = "sim-1"
Fault = Callable[[Simulator], Awaitable[None]]


async def _split_brain(sim: Simulator) -> None:
    await sim.split_brain(NET, "seq-2")


async def _kill_node(sim: Simulator) -> None:
    await sim.kill(NET, "seq-2", "node")


def _context(
    sim: Simulator, redis: Redis, keys: Keys, fake: FakeSlackApi, http: httpx.AsyncClient, poll: float
) -> BotContext:
    settings = Settings(
        SLACK_BOT_TOKEN="xoxb-bench",
        CONDUCTOR_BOT_POLL_INTERVAL=poll,
        CONDUCTOR_BOT_RPC_TIMEOUT=1.0,
    )
    slack = AsyncWebClient(token="xoxb-bench", base_url=fake.base_url)
    return BotContext(
        settings=settings,
        topology=sim.topology(),
        http=http,
        clock=sim.clock,
        slack=slack,
        directory=UserGroupDirectory(slack, sim.clock),
        redis=redis,
        store=Store(redis, keys),
    )


@asynccontextmanager
async def _valkey() -> AsyncIterator[Redis]:
    with tempfile.TemporaryDirectory() as tmp:
        server = await asyncio.to_thread(start_valkey, Path(tmp), {}, False)
        client = client_for(str(server.connection_url))
        try:
            yield client
        finally:
            await client.aclose()
            await asyncio.to_thread(server.stop, 5.0)


async def _trial(
    redis: Redis, fake: FakeSlackApi, fault: Fault, poll: float, rng: random.Random, n: int
) -> float:
    async with simulate(nodes=3) as sim, httpx.AsyncClient() as http:
        ctx = _context(sim, redis, Keys(prefix=f"bench{n}"), fake, http, poll)
        watcher = Watcher(ctx, f"bench-{n}")
        channel = ctx.topology.networks[NET].alert_channel or ""
        for _ in range(3):  # settle: the watcher has memory and sees a healthy network
            await sim.advance(poll)
            await watcher.tick(NET)
        before = len(fake.messages(channel))
        phase = rng.uniform(0, poll)
        await sim.advance(phase)
        injected = sim.clock.now()
        await fault(sim)
        await sim.advance(poll - phase)
        for _ in range(200):
            await watcher.tick(NET)
            if len(fake.messages(channel)) > before:
                return sim.clock.now() - injected
            await sim.advance(poll)
        raise RuntimeError("no alert within 200 ticks")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench_latency(trials: int, poll: float, seed: int) -> None:
    rng = random.Random(seed)
    fake = await FakeSlackApi.start()
    try:
        async with _valkey() as redis:
            print(f"(a) alert latency, sim time, ticks every P={poll:g}s, {trials} trials per rule")
            for name, fault, for_s in (
                ("multiple_active", _split_brain, 0.0),
                ("node_unreachable", _kill_node, 10.0),
            ):
                lat = [
                    await _trial(redis, fake, fault, poll, rng, i + (1000 if for_s else 0))
                    for i in range(trials)
                ]
                p50, p99 = _pct(lat, 0.5), _pct(lat, 0.99)
                past50, past99 = (p50 - for_s) / poll, (p99 - for_s) / poll
                print(
                    f"    {name:17s} for={for_s:4.0f}s  p50={p50:6.2f}s ({past50:4.2f}P past for)  "
                    f"p99={p99:6.2f}s ({past99:4.2f}P)  max={max(lat):5.2f}s mean={statistics.mean(lat):.2f}s"
                )
    finally:
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--poll", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(bench_latency(args.trials, args.poll, args.seed))


if __name__ == "__main__":
    main()
