"""The watcher against the simulator (real HTTP), real Valkey and the fake Slack Web API.

Each test drives a fault, ticks the watcher once per poll interval of sim time and asserts what
the alert channel shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Literal

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from alerts.alert_store import AlertStore
from alerts.effects import Effect, PostAlert
from alerts.model import AlertState
from alerts.notifier import FlushReport, Notifier
from alerts.watcher import LOST_POST_GRACE_SECONDS, Watcher
from store.outbox import Outbox, SlackWrite
from tests.alerts.test_watcher_helpers import (
    INTERVAL,
    NET,
    posts,
    run,
    started_watcher,
    titled,
    top_level_post_calls,
)
from tests.fixtures.slack import BotHandle, StartBot


async def test_killed_leader_posts_one_leader_change_and_nothing_more_once_settled(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        watcher = await started_watcher(bot, 10)
        assert posts(bot) == []
        await bot.sim.kill(NET, "seq-0")
        await bot.sim.kill(NET, "seq-0", "node")
        await run(bot, [watcher], 60)
        # An event, not an alert: no firing or resolved, no Acknowledge or Silence, never updated.
        [changed] = titled(bot, "Leader changed")
        assert changed.text == ":arrows_counterclockwise: [sim-1] Leader changed: seq-0 → seq-1"
        assert changed.updates == 0 and changed.replies == []
        assert [
            e["action_id"] for b in changed.blocks or [] if b["type"] == "actions" for e in b["elements"]
        ] == ["alert_timeline"]
        # The dead node is reported as such; no leadership page (no leader, two leaders...).
        assert [m.text.split(":")[1].strip() for m in posts(bot)] == [
            "arrows_counterclockwise",
            "warning",
        ]
        assert "Node unreachable: seq-0" in posts(bot)[1].text
        settled = top_level_post_calls(bot)
        await run(bot, [watcher], 120)
        assert top_level_post_calls(bot) == settled


async def test_stalled_follower_alerts_then_resolves_in_its_thread(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        watcher = await started_watcher(bot, 10)
        await bot.sim.stall(NET, "seq-2", "sync")
        await run(bot, [watcher], 60)
        [lag] = titled(bot, "Unsafe head lagging: seq-2")
        assert "(firing)" in lag.text and lag.replies == []
        await bot.sim.stall(NET, "seq-2", "sync", on=False)
        await run(bot, [watcher], 60)
        [lag] = titled(bot, "Unsafe head lagging: seq-2")
        assert "(resolved)" in lag.text
        assert [r.text.split(" ")[1] for r in lag.replies] == ["Resolved"]
        assert len(titled(bot, "Unsafe head lagging")) == 1


async def test_split_brain_posts_one_critical_alert(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        watcher = await started_watcher(bot, 10)
        await bot.sim.split_brain(NET, "seq-2")
        await run(bot, [watcher], 60)
        [alert] = posts(bot)
        assert alert.text.startswith(":rotating_light: [sim-1] More than one active sequencer (firing)")
        assert "seq-0, seq-2" in alert.text


async def test_paused_conductor_alerts_and_reminds_in_thread_until_resumed(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        watcher = await started_watcher(bot, 10)
        bot.sim.node(NET, "seq-1").paused = True
        await run(bot, [watcher], 65 * 60, step=60)
        [alert] = posts(bot)
        assert "Conductor paused or stopped: seq-1 (firing)" in alert.text
        assert [r.text.split(" ")[1:3] for r in alert.replies] == [["Still", "firing"], ["Still", "firing"]]
        bot.sim.node(NET, "seq-1").paused = False
        await run(bot, [watcher], 60)
        [alert] = posts(bot)
        assert "(resolved)" in alert.text and "Resolved" in alert.replies[-1].text


async def test_flapping_node_is_one_alert_not_many(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        watcher = await started_watcher(bot, 10)
        for _ in range(5):
            await bot.sim.kill(NET, "seq-2", "node")
            await run(bot, [watcher], 12)
            await bot.sim.revive(NET, "seq-2", "node")
            await run(bot, [watcher], 8)
        [unreachable] = titled(bot, "Node unreachable: seq-2")
        assert "(firing)" in unreachable.text and unreachable.replies == []
        await run(bot, [watcher], 60)
        [unreachable] = titled(bot, "Node unreachable: seq-2")
        assert "(resolved)" in unreachable.text and len(unreachable.replies) == 1


async def test_restarted_bot_mid_incident_does_not_repost_and_still_resolves(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        before = Watcher(bot.ctx, "replica-a")
        await run(bot, [before], 10)
        await bot.sim.stall(NET, "seq-2", "sync")
        await run(bot, [before], 60)
        firing = len(posts(bot))
        assert firing >= 1
        # A crash: the lease is not released; Redis expires it after its TTL (done here by hand).
        await bot.ctx.redis.delete(bot.ctx.store.keys.watch_lease(NET))
        after = Watcher(bot.ctx, "replica-a-restarted")
        await run(bot, [after], 30)
        assert top_level_post_calls(bot) == firing
        await bot.sim.stall(NET, "seq-2", "sync", on=False)
        await run(bot, [after], 60)
        assert top_level_post_calls(bot) == firing
        assert all("(resolved)" in m.text for m in posts(bot))


async def test_two_replicas_ticking_together_post_every_alert_exactly_once(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        a, b = Watcher(bot.ctx, "replica-a"), Watcher(bot.ctx, "replica-b")
        await run(bot, [a, b], 10)
        await bot.sim.stall(NET, "seq-2", "sync")
        await bot.sim.split_brain(NET, "seq-1")
        reports = await run(bot, [a, b], 40)
        # Exactly one of them acts on each tick; then the lease moves by hand (as on expiry).
        assert [sum(r.leader for r in reports[i : i + 2]) for i in range(0, len(reports), 2)] == [1] * 20
        assert {r.leader for r in reports[1::2]} == {False}
        await bot.ctx.redis.delete(bot.ctx.store.keys.watch_lease(NET))
        await run(bot, [b, a], 40)
        fingerprints = [m.text.split("(")[0] for m in posts(bot)]
        assert len(fingerprints) == len(set(fingerprints)) >= 3
        alerts = AlertStore(bot.ctx.store)
        refs = [await alerts.message_of(NET, s.state) for s in (await alerts.load(NET)).values()]
        assert top_level_post_calls(bot) == len({r.ts for r in refs if r is not None})


async def test_same_owner_racing_itself_loses_the_tick_instead_of_acting_twice(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        # Two watchers that both believe they hold the lease (e.g. a paused process waking up):
        # the memory compare-and-set lets exactly one of them act on each tick.
        a, b = Watcher(bot.ctx, "replica-a"), Watcher(bot.ctx, "replica-a")
        await run(bot, [a], 4)
        await bot.sim.split_brain(NET, "seq-2")
        reports = await run(bot, [a, b], 20)
        assert any(r.lost_race for r in reports)
        [alert] = posts(bot)
        assert "More than one active sequencer" in alert.text
        assert top_level_post_calls(bot) == 1


async def test_burst_of_alerts_is_summarised_not_posted_one_by_one(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        watcher = await started_watcher(bot, 4)
        # Every node loses its peers: three low_peers alerts start in one tick (and, in the sim,
        # unhealthy nodes and a leader change follow).
        for node in ("seq-0", "seq-1", "seq-2"):
            await bot.sim.set_peers(NET, node, 0)
        await run(bot, [watcher], 40)
        summaries = titled(bot, "alerts started together, 3 still firing")
        # The sim's nodes also turn unhealthy together: that is a burst (and a summary) of its own.
        assert len([m for m in summaries if "Too few peers" in str(m.blocks)]) == 1
        alerts = AlertStore(bot.ctx.store)
        stored = (await alerts.load(NET)).values()
        low_peers = [s.state for s in stored if s.state.rule == "low_peers"]
        assert len(low_peers) == 3
        [shared] = {r.ts for s in low_peers if (r := await alerts.message_of(NET, s)) is not None}
        assert all("Too few peers" not in m.text for m in posts(bot))
        for node in ("seq-0", "seq-1", "seq-2"):
            await bot.sim.set_peers(NET, node, 3)
        await run(bot, [watcher], 60)
        [summary] = [m for m in posts(bot) if m.ts == shared]
        assert summary.text.endswith("3 alerts started together, all resolved")
        replies = sorted(r.text.split(":")[0] for r in summary.replies)
        assert replies == ["`sim-1/low_peers/seq-0`", "`sim-1/low_peers/seq-1`", "`sim-1/low_peers/seq-2`"]


class LosesTheFirstPost(Notifier):
    """Fails like a Redis blip right between the alert's save and the queueing of its post."""

    lost = False

    async def submit(
        self,
        network: str,
        effects: Sequence[Effect],
        states: Mapping[str, AlertState] | None = None,
        events: Sequence[SlackWrite] = (),
    ) -> FlushReport:
        if not self.lost and any(isinstance(e, PostAlert) for e in effects):
            self.lost = True
            raise RedisConnectionError("Connection reset by peer")
        return await super().submit(network, effects, states, events)


async def split_brain_whose_post_is_lost(bot: BotHandle) -> Watcher:
    """A split brain whose alert was saved as "post requested" but never reached the outbox."""
    watcher = Watcher(bot.ctx, "replica-a", notifier=LosesTheFirstPost(bot.ctx))
    await run(bot, [watcher], 4)
    await bot.sim.split_brain(NET, "seq-2")
    await bot.sim.advance(INTERVAL)
    with pytest.raises(RedisConnectionError):
        await watcher.tick(NET)
    return watcher


async def test_a_requested_post_that_never_reached_the_outbox_is_posted_after_the_grace(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        watcher = await split_brain_whose_post_is_lost(bot)
        alerts = AlertStore(bot.ctx.store)
        [stored] = (await alerts.load(NET)).values()
        assert stored.state.post_requested_at is not None
        assert await alerts.message_of(NET, stored.state) is None
        await run(bot, [watcher], LOST_POST_GRACE_SECONDS - 2 * INTERVAL)
        assert posts(bot) == []
        await run(bot, [watcher], 3 * INTERVAL)
        [alert] = posts(bot)
        assert "More than one active sequencer" in alert.text
        await run(bot, [watcher], 120)
        assert top_level_post_calls(bot) == 1


class Gate(asyncio.Semaphore):
    """A polling semaphore with no free slot that tells when a tick starts waiting for one."""

    def __init__(self) -> None:
        super().__init__(0)
        self.waiting = asyncio.Event()

    async def acquire(self) -> Literal[True]:
        self.waiting.set()
        return await super().acquire()


async def test_the_lease_is_renewed_only_once_a_polling_slot_is_free(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        watcher = Watcher(bot.ctx, "replica-a")
        gate = watcher._poll_gate = Gate()
        lease = bot.ctx.store.keys.watch_lease(NET)
        await bot.sim.advance(INTERVAL)
        tick = asyncio.create_task(watcher.tick(NET))
        async with asyncio.timeout(5):
            await gate.waiting.wait()
        # Waiting for a slot must not eat into the lease: it is not taken yet.
        assert await bot.ctx.redis.get(lease) is None
        gate.release()
        report = await tick
        assert report.leader and await bot.ctx.redis.get(lease) == "replica-a"


async def test_a_repaired_post_that_slack_refuses_for_good_is_not_retried_every_tick(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        watcher = await split_brain_whose_post_is_lost(bot)
        bot.fake.fail_next("chat.postMessage", status=200, retry_after=None, error="channel_not_found")
        await run(bot, [watcher], LOST_POST_GRACE_SECONDS + INTERVAL)
        attempts = len(bot.fake.calls("chat.postMessage"))
        assert attempts == 1 and posts(bot) == []
        await run(bot, [watcher], 20)
        assert len(bot.fake.calls("chat.postMessage")) == attempts


async def test_a_tick_after_a_quiet_one_reads_nothing_yet_misses_nothing_written_meanwhile(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        watcher = await started_watcher(bot, 6)
        # A quiet tick after a quiet tick is ONE Redis command: the write, which checks the rest.
        before = await bot.ctx.redis.info("commandstats")
        [report] = await run(bot, [watcher], INTERVAL)
        after = await bot.ctx.redis.info("commandstats")
        assert report.leader and not report.conditions
        calls = {k: after[k]["calls"] - before.get(k, {"calls": 0})["calls"] for k in after}
        assert calls.get("cmdstat_evalsha", 0) == 1, calls

        # A write queued for the network's outbox meanwhile (by a replica whose flush failed) is
        # not left waiting behind quiet ticks: the tick takes the long way and delivers it.
        await Outbox(bot.ctx.store).enqueue(
            NET,
            [SlackWrite(message="note", op="post", channel=bot.channel(NET), text="queued elsewhere")],
        )
        await run(bot, [watcher], INTERVAL)
        assert [m.text for m in posts(bot)] == ["queued elsewhere"]
        assert await Outbox(bot.ctx.store).length(NET) == 0

        # Another replica writing the memory (a lease hand-over) sends the next tick the long way too,
        # instead of losing it: it reads the new memory and writes on top of it.
        other = Watcher(bot.ctx, "replica-a")
        await run(bot, [other], INTERVAL)
        [report] = await run(bot, [watcher], INTERVAL)
        assert report.leader and not report.lost_race
