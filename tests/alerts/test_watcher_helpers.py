"""Shared steps for the watcher, notifier and alert scenario tests (no tests here).

The sim and the bot share one ManualClock; `run` moves it one poll interval at a time and ticks
the given watchers after each step, as the scheduler would, without waiting in real time.
"""

from __future__ import annotations

import asyncio

from alerts.watcher import TickReport, Watcher
from sim.slack_api import FakeMessage
from tests.fixtures.slack import BotHandle

NET = "sim-1"
INTERVAL = 2.0


async def run(
    bot: BotHandle, watchers: list[Watcher], seconds: float, step: float = INTERVAL
) -> list[TickReport]:
    """Advance sim time by `seconds` in `step`s, ticking every watcher concurrently after each step."""
    reports: list[TickReport] = []
    for _ in range(round(seconds / step)):
        await bot.sim.advance(step)
        reports.extend(await asyncio.gather(*(w.tick(NET) for w in watchers)))
    return reports


async def started_watcher(bot: BotHandle, seconds: float) -> Watcher:
    """Replica "replica-a"'s watcher, already run for `seconds`: a settled baseline before the fault."""
    watcher = Watcher(bot.ctx, "replica-a")
    await run(bot, [watcher], seconds)
    return watcher


def posts(bot: BotHandle) -> list[FakeMessage]:
    """Top-level messages in the network's alert channel (thread replies hang off them)."""
    return bot.fake.messages(bot.channel(NET))


def titled(bot: BotHandle, words: str) -> list[FakeMessage]:
    return [m for m in posts(bot) if words in m.text]


def top_level_post_calls(bot: BotHandle) -> int:
    return len([c for c in bot.fake.calls("chat.postMessage") if not c.get("thread_ts")])
