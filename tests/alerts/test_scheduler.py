"""The scheduler's jobs: outage errors logged as one line, running ticks finished on stop."""

from __future__ import annotations

import asyncio
import logging

import pytest
from apscheduler.schedulers.base import STATE_PAUSED
from redis.exceptions import ConnectionError as RedisConnectionError

from alerts.watcher import TickReport
from bot.scheduler import BotScheduler
from tests.alerts.test_watcher_helpers import NET
from tests.fixtures.slack import StartBot


async def test_a_redis_outage_is_logged_as_one_line_and_a_bug_with_its_traceback(
    running_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot() as bot:
        scheduler = BotScheduler(bot.ctx, "replica-a")
        failure: Exception = RedisConnectionError(
            "Error 111 connecting to localhost:6379. Connection refused."
        )

        async def failing_tick(network: str) -> TickReport:
            raise failure

        scheduler.watcher.tick = failing_tick  # type: ignore[method-assign]
        with caplog.at_level(logging.ERROR, logger="bot.scheduler"):
            await scheduler._watch(NET)
            failure = KeyError("a bug")
            await scheduler._watch(NET)
        outage, bug = caplog.records
        assert outage.getMessage() == (
            "watch tick failed network=sim-1 error=ConnectionError: "
            "Error 111 connecting to localhost:6379. Connection refused."
        )
        assert outage.exc_info is None
        assert bug.exc_info is not None and bug.exc_info[0] is KeyError


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
