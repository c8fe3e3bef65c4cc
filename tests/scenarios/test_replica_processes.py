"""Three real bot processes on one Valkey, SIGKILLed at chosen points while Slack misbehaves.

Counted from the fake Web API's record: every alert episode posted exactly once, whatever replica
died holding the flush lock with a post in flight (Slack has the message, the dead bot never learned
its ts) or before its post went out (Slack refusing connections); a 429 with Retry-After and a
stretch of 503s only delay delivery. An approval whose executing replica dies during its last step
ends, within seconds, with its message showing the final outcome and the step reported once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from bench.replicas import SIGNING_SECRET, Replicas, count_alert_delivery
from commands import approval_store
from commands.approval import FINAL_STATES
from commands.ids import ApprovalAction
from sim.config_files import channel_for
from sim.harness import Simulator, simulate
from sim.slack_api import FakeSlackApi
from sim.slack_requests import SlackDriver
from store.gateway import Store
from store.keys import Keys
from store.outbox import Outbox
from tests.scenarios.approval_support import request_id_of

POLL = 0.4
NETWORKS = ["sim-1", "sim-2"]
REQUESTER, APPROVER = "U_REQUESTER", "U_APPROVER"


async def until(predicate: Callable[[], Awaitable[bool]], within: float) -> float:
    """Seconds until `predicate` held; the processes signal nothing to us, so their effects are polled."""
    started = time.monotonic()
    async with asyncio.timeout(within):
        while not await predicate():
            for bots in _RUNNING:
                bots.check()
            await asyncio.sleep(0.05)
    return time.monotonic() - started


_RUNNING: list[Replicas] = []


@pytest.fixture
async def replicas(
    redis_url: str, redis: Redis, shared_redis: bool, tmp_path: Path
) -> AsyncIterator[tuple[Replicas, Store, Simulator]]:
    if shared_redis:
        pytest.skip("bot processes use the default key prefix; needs the suite's own Valkey")
    fake = await FakeSlackApi.start()
    try:
        async with simulate(networks=len(NETWORKS), nodes=3, realtime=True) as sim:
            access = {"requesters": [REQUESTER], "approvers": [APPROVER]}
            # Unpaced: the approval part kills the executor while its step report is in flight,
            # which needs that report sent as the step ends, not in the channel's next slot.
            # Pacing across replicas: tests/chat/test_channels.py.
            unpaced = {"CONDUCTOR_BOT_SLACK_CHANNEL_RATE": "0"}
            bots = Replicas(sim, fake, redis_url, tmp_path, poll_interval=POLL, access=access, env=unpaced)
            _RUNNING.append(bots)
            try:
                bots.start(3)
                yield bots, Store(redis, Keys()), sim
            finally:
                _RUNNING.remove(bots)
                bots.stop_all()
    finally:
        await fake.stop()


# Three bot processes and a real-time simulator: ~17 s alone, more on a busy machine than the default 60 s.
@pytest.mark.timeout(180)
async def test_sigkilled_replicas_post_every_episode_once_and_finish_every_approval(
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
    holder = await bots.flush_holder(redis, store, "sim-1")
    assert holder is not None
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
    await until(lambda: _leased(bots, store, "sim-2"), within=10)
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
    await approval_killed_in_its_last_step(replicas)


async def _leased(bots: Replicas, store: Store, network: str) -> bool:
    return await bots.lease_holder(store.redis, store, network) is not None


async def _all_leased(bots: Replicas, store: Store) -> bool:
    return all([await bots.lease_holder(store.redis, store, n) is not None for n in NETWORKS])


async def _drained(outbox: Outbox, network: str) -> bool:
    redis = outbox.store.redis
    return await outbox.length(network) == 0 and not await redis.exists(outbox.keys.outbox_tries(network))


async def _queued(outbox: Outbox, network: str) -> bool:
    return await outbox.length(network) > 0


async def approval_killed_in_its_last_step(replicas: tuple[Replicas, Store, Simulator]) -> None:
    bots, store, _sim = replicas
    fake = bots.fake
    channel = channel_for("sim-1")
    await until(lambda: _serving(bots), within=30)
    requester_side, approver_side, *_ = [(pid, bots.port(pid) or 0) for pid in bots.alive()]

    sent = await _driver(bots, requester_side[1]).command(
        "pause sim-1 seq-2", user=REQUESTER, channel=channel
    )
    assert sent.status == 200
    await until(lambda: _has_request(fake, channel), within=15)
    [message] = [m for m in fake.messages(channel) if m.metadata is None]  # not an alert
    request_id = request_id_of(message)
    await until(lambda: _attached(store, request_id), within=15)

    # The step ran; the executor's report of it reaches Slack, and the executor dies right then.
    fake.hold(lambda method, p: method == "chat.postMessage" and "step 1/1" in str(p.get("text")))
    value = json.dumps({"request_id": request_id, "network": "sim-1"})
    clicked = await _driver(bots, approver_side[1]).click(
        ApprovalAction.APPROVE, value, user=APPROVER, channel=channel, message_ts=message.ts
    )
    assert clicked.status == 200
    async with asyncio.timeout(15):
        await fake.held.wait()
    bots.kill(approver_side[0])
    fake.hold(None)

    # Its lock expires (seconds), another replica's sweep fails the request and says so, in order.
    await until(lambda: _final(store, request_id), within=30)

    async def shown() -> bool:
        return "Failed" in json.dumps(message.blocks) and any(
            "interrupted" in r.text for r in message.replies
        )

    await until(shown, within=15)
    await until(lambda: _drained(Outbox(store), "sim-1"), within=15)
    texts = [r.text for r in message.replies]
    assert len([t for t in texts if "step 1/1" in t]) == 1
    assert len([t for t in texts if "interrupted" in t]) == 1
    assert texts.index(next(t for t in texts if "step 1/1" in t)) < texts.index(
        next(t for t in texts if "interrupted" in t)
    )


def _driver(bots: Replicas, port: int) -> SlackDriver:
    return SlackDriver(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, bots.fake.response_url_for)


async def _serving(bots: Replicas) -> bool:
    ports = [bots.port(pid) for pid in bots.alive()]
    if None in ports:
        return False
    async with httpx.AsyncClient(timeout=1.0) as http:
        for port in ports:
            try:
                if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
    return True


async def _has_request(fake: FakeSlackApi, channel: str) -> bool:
    return any(m.metadata is None for m in fake.messages(channel))


async def _attached(store: Store, request_id: str) -> bool:
    loaded = await approval_store.load(store, "sim-1", request_id)
    return loaded is not None and loaded[0].message is not None


async def _final(store: Store, request_id: str) -> bool:
    loaded = await approval_store.load(store, "sim-1", request_id)
    return loaded is not None and loaded[0].state in FINAL_STATES
