"""Soak: three real bot replicas under chaos for a while; `python -m bench.bench_soak [--seconds 180]`.

Set-up: an embedded Valkey, the simulator in real time (N networks of 3 nodes), the fake Slack Web
API, and 3 bot processes (`conductor-bot run`, poll interval 0.5 s). For `--seconds`, every ~2 s one
random thing happens:

- Slack misbehaves for 1–8 s: 429 with Retry-After, 500, 503, answers held past the client's timeout
  (the write applied: an unknown outcome), or refused connections;
- a replica is SIGKILLed (and a fresh one started, so three keep running);
- a network's cluster flaps: a follower's op-node turns active (split brain) or back off;
- a leader's conductor restarts, so leadership moves.

Then faults stop, the cluster heals, and the outboxes drain. Figures, from the fake Web API's record:
alert episodes, messages posted, duplicates (an episode posted twice), lost (an episode never
posted), stale (a resolved episode whose message does not show it resolved with one resolution
reply), and the max delivery delay (post time minus queue time, both wall clock) against the
longest Slack outage: the baseline each delay is measured against, since no delivery can beat the
outage that holds it up.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from bench.replicas import Replicas, count_alert_delivery
from sim.config_files import channel_for
from sim.harness import Simulator, simulate
from sim.slack_api import FakeSlackApi
from store.connection import client_for, start_valkey
from store.gateway import Store
from store.keys import Keys
from store.outbox import METADATA_EVENT, Outbox

POLL = 0.5
FAULTS = ("429", "500", "503", "timeout", "refuse")


async def chaos(
    sim: Simulator, bots: Replicas, networks: list[str], seconds: float, rng: random.Random
) -> float:
    """Random faults for `seconds`; returns the longest Slack outage (seconds)."""
    fake = bots.fake
    longest = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.sleep(rng.uniform(1.0, 3.0))
        roll = rng.random()
        if roll < 0.35:
            kind = rng.choice(FAULTS)
            length = rng.uniform(1.0, 8.0)
            await fake.set_fault(kind, retry_after=max(1, round(length / 2)), delay=length)
            if rng.random() < 0.6:
                await flap(sim, rng.choice(networks), rng)  # an episode that starts inside the outage
            await asyncio.sleep(length)
            await fake.set_fault(None)
            longest = max(longest, length)
        elif roll < 0.55 and bots.alive():
            bots.kill(rng.choice(bots.alive()))
            bots.start(1)
        elif roll < 0.75:
            await flap(sim, rng.choice(networks), rng)
        else:
            await transfer(sim, rng.choice(networks))
    return longest


async def flap(sim: Simulator, network: str, rng: random.Random) -> None:
    """Toggle a split brain: a follower's op-node turns active, or every follower's turns back off."""
    leader = sim.network(network).leader_id()
    followers = [n for n in ("seq-0", "seq-1", "seq-2") if n != leader]
    if any(sim.node(network, n).seq_active for n in followers):
        for n in followers:
            sim.node(network, n).seq_active = False
    else:
        await sim.split_brain(network, rng.choice(followers))


async def transfer(sim: Simulator, network: str) -> None:
    """The leader's conductor restarts: leadership moves (a "leader changed" episode)."""
    leader = sim.network(network).leader_id()
    if leader is None:
        return
    await sim.kill(network, leader)
    await asyncio.sleep(2.0)
    await sim.revive(network, leader)


async def heal(sim: Simulator, networks: list[str]) -> None:
    for network in networks:
        leader = sim.network(network).leader_id()
        for node in ("seq-0", "seq-1", "seq-2"):
            if node != leader:
                sim.node(network, node).seq_active = False


def max_delay(fake: FakeSlackApi, networks: list[str]) -> float:
    worst = 0.0
    for network in networks:
        for message in fake.messages(channel_for(network)):
            meta = message.metadata or {}
            if meta.get("event_type") != METADATA_EVENT:
                continue
            queued = float((meta.get("event_payload") or {}).get("queued_at") or 0)
            if queued:
                worst = max(worst, float(message.ts) - queued)
    return worst


async def soak(seconds: float, networks_n: int, seed: int) -> int:
    rng = random.Random(seed)
    networks = [f"sim-{i}" for i in range(1, networks_n + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        server = start_valkey(Path(tmp) / "valkey", config={}, persist=False)
        redis = client_for(str(server.connection_url))
        fake = await FakeSlackApi.start()
        try:
            async with simulate(networks=networks_n, nodes=3, realtime=True) as sim:
                bots = Replicas(sim, fake, str(server.connection_url), Path(tmp), poll_interval=POLL)
                bots.start(3)
                try:
                    await asyncio.sleep(3.0)
                    started = time.monotonic()
                    longest = await chaos(sim, bots, networks, seconds, rng)
                    await heal(sim, networks)
                    outbox = Outbox(Store(redis, Keys()))
                    # Resolutions need ~20 s of clear observations; then everything must drain.
                    await asyncio.sleep(30.0)
                    deadline = time.monotonic() + 60.0
                    while time.monotonic() < deadline:
                        if all([await outbox.length(n) == 0 for n in networks]):
                            break
                        await asyncio.sleep(0.5)
                    count = await count_alert_delivery(Store(redis, Keys()), fake, networks)
                    elapsed = time.monotonic() - started
                finally:
                    bots.stop_all()
        finally:
            await fake.stop()
            await redis.aclose()
            server.stop(timeout=5)
    delay = max_delay(fake, networks)
    print(f"soak: {elapsed:.0f} s ({seconds:.0f} s of chaos), {networks_n} networks, 3 replicas, seed {seed}")
    print(f"  episodes   {count.episodes}")
    print(f"  posted     {count.posted}")
    print(f"  duplicates {count.duplicates}")
    print(f"  lost       {count.lost}")
    print(f"  stale      {count.stale}")
    print(f"  max delivery delay {delay:.1f} s vs longest Slack outage {longest:.1f} s (baseline)")
    for problem in count.problems[:20]:
        print(f"  ! {problem}")
    return 1 if count.duplicates or count.lost or count.stale else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="how long the chaos runs (default 180)")
    parser.add_argument("--networks", type=int, default=3)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    return asyncio.run(soak(args.seconds, args.networks, args.seed))


if __name__ == "__main__":
    raise SystemExit(main())
