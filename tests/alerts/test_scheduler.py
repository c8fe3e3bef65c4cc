"""The scheduler's jobs: outage errors logged as one line, running ticks finished on stop."""

from __future__ import annotations

import asyncio
import logging

import pytest
from apscheduler.events import EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.base import STATE_PAUSED
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from alerts.watcher import TickReport
from bot.scheduler import BotScheduler
from store.rendezvous import owner
from tests.alerts.test_watcher_helpers import NET
from tests.fixtures.slack import StartBot


async def test_a_redis_outage_is_logged_once_per_episode_and_a_bug_with_its_traceback(
    running_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot() as bot:
        scheduler = BotScheduler(bot.ctx, "replica-a")
        failure: Exception | None = RedisConnectionError(
            "Error 111 connecting to localhost:6379. Connection refused."
        )

        async def failing_tick(network: str) -> TickReport:
            if failure is None:
                return TickReport(network=network, leader=True)
            raise failure

        scheduler.watcher.tick = failing_tick  # type: ignore[method-assign]
        with caplog.at_level(logging.INFO, logger="bot.scheduler"):
            for _ in range(5):
                await scheduler._watch(NET)
            failure = KeyError("a bug")
            await scheduler._watch(NET)
            failure = None
            await scheduler._watch(NET)
        outage, bug, recovered = caplog.records
        assert outage.getMessage() == (
            "watch tick failed network=sim-1 error=ConnectionError: "
            "Error 111 connecting to localhost:6379. Connection refused. (logged once until a tick succeeds)"
        )
        assert outage.exc_info is None
        assert bug.exc_info is not None and bug.exc_info[0] is KeyError
        assert recovered.getMessage() == "watch ticks succeed again network=sim-1 failed=6"


async def test_skipped_ticks_are_counted_and_logged_once_per_episode(
    running_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot() as bot:
        scheduler = BotScheduler(bot.ctx, "replica-a")
        go_on = asyncio.Event()

        async def tick(network: str) -> TickReport:
            await go_on.wait()
            return TickReport(network=network, leader=True)

        scheduler.watcher.tick = tick  # type: ignore[method-assign]

        def skipped_total(reason: str) -> float:
            labels = {"network": NET, "reason": reason}
            return REGISTRY.get_sample_value("conductor_bot_skipped_ticks_total", labels) or 0.0

        before, late_before = skipped_total("running"), skipped_total("late")
        slot = scheduler.slot(NET)
        assert NET in scheduler.slots[slot]
        scheduler.skipped.quiet_seconds = 0.0  # the episode ends at the next tick on time
        with caplog.at_level(logging.INFO, logger="bot.scheduler"):
            # The slot comes round three more times while the network's tick still runs.
            for _ in range(4):
                await scheduler._watch_slot(slot)
            assert skipped_total("running") - before == 3
            go_on.set()
            await scheduler._ticks[NET]
            await scheduler._watch_slot(slot)
            await scheduler._ticks[NET]
            # A slot job APScheduler ran too late skips the tick of each network in it.
            scheduler._on_skip(JobEvent(EVENT_JOB_MISSED, f"watch-slot:{slot}", "default"))
        assert skipped_total("late") - late_before == 1
        assert [r.getMessage() for r in caplog.records] == [
            "watch ticks skipped network=sim-1 reason=previous tick still running (logged once per episode)",
            "watch ticks on time again network=sim-1 skipped=3 (none for 60s)",
            "watch ticks skipped network=sim-1 reason=event loop too busy (logged once per episode)",
        ]
        assert REGISTRY.get_sample_value("conductor_bot_lease_held", {"network": NET}) == 1


async def test_stop_lets_a_running_tick_finish_before_handing_the_lease_back(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        scheduler = BotScheduler(bot.ctx, "replica-a")
        entered, go_on = asyncio.Event(), asyncio.Event()
        finished: list[str] = []

        async def slow_tick(network: str) -> TickReport:
            entered.set()
            await go_on.wait()
            finished.append(network)
            return TickReport(network=network, leader=True)

        scheduler.watcher.tick = slow_tick  # type: ignore[method-assign]
        scheduler.start()
        async with asyncio.timeout(5):
            await entered.wait()
        stopping = asyncio.create_task(scheduler.stop())
        await asyncio.sleep(0)  # stop() runs up to its wait for the running tick
        assert scheduler.scheduler.state == STATE_PAUSED and not stopping.done()
        go_on.set()
        async with asyncio.timeout(5):
            await stopping
        assert finished == [NET]
        assert not scheduler.scheduler.running


async def test_a_replica_starts_ticks_only_for_networks_it_watches_or_must_hand_over(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        scheduler = BotScheduler(bot.ctx, "replica-a")
        ticked: list[str] = []

        async def tick(network: str) -> TickReport:
            ticked.append(network)
            return TickReport(network=network, leader=True)

        scheduler.watcher.tick = tick  # type: ignore[method-assign]
        slot = scheduler.slot(NET)
        other = next(r for r in (f"replica-{i}" for i in range(100)) if owner(NET, ["replica-a", r]) == r)
        scheduler.watcher.live = ("replica-a", other)
        await scheduler._watch_slot(slot)
        assert NET not in scheduler._ticks  # another replica's network: no task at all
        scheduler.watcher._leased.add(NET)  # ... unless this replica still holds its lease
        await scheduler._watch_slot(slot)
        await scheduler._ticks.pop(NET)
        scheduler.watcher.live = ("replica-a",)
        await scheduler._watch_slot(slot)
        await scheduler._ticks.pop(NET)
        assert ticked == [NET, NET]
