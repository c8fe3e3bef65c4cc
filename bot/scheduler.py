"""The process's scheduled work on APScheduler 3.x (`AsyncIOScheduler`, jobs on the bot's event loop).

- one interval job per network, `watch:<net>`, every `settings.poll_interval` (default 2 s): a
  watcher tick (`alerts.watcher.Watcher.tick`). Every replica schedules every network; the tick
  does nothing unless this replica holds the network's lease (TTL ≈ 3 intervals, renewed each
  tick), so a dead replica's networks are taken over within a few intervals.
- `expiry`, every 5 s: the approval request timers, `commands.expiry.sweep_expired` (pending past
  their deadline) and `sweep_orphaned` (approved/executing with no executor left).

Jobs use `max_instances=1` (a slow tick is skipped, not stacked), `coalesce=True` and a misfire
grace of one interval. A job never raises into APScheduler: failures are logged and the next run
tries again. A Redis outage fails every network's tick, so Redis errors are logged as one line
(error class and message), not a traceback per network per tick; unexpected errors keep theirs.

`stop` pauses the scheduler, lets the jobs already running finish (at most `STOP_GRACE_SECONDS`:
APScheduler's own shutdown would cancel them mid-tick, between an alert's save and its post), then
shuts it down and hands the watcher leases back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.exceptions import RedisError

from alerts.watcher import Watcher
from chat.context import BotContext
from commands.expiry import sweep_expired, sweep_orphaned

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

EXPIRY_INTERVAL_SECONDS = 5.0
# How long `stop` waits for running ticks and sweeps (each is bounded by RPC and Slack timeouts).
STOP_GRACE_SECONDS = 10.0
# Infrastructure failures: expected during an outage, logged without a traceback.
_OUTAGE_ERRORS = (RedisError, ConnectionError)


class BotScheduler:
    """Owns the APScheduler instance and the watcher of one bot process."""

    def __init__(self, ctx: BotContext, owner_id: str | None = None) -> None:
        self.ctx = ctx
        self.watcher = Watcher(ctx, owner_id)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        # The jobs running right now, so `stop` can let them finish instead of cancelling them.
        self._running: set[asyncio.Task[Any]] = set()

    def start(self) -> None:
        """Schedule the jobs; call from inside the running event loop (APScheduler captures it)."""
        interval = self.ctx.settings.poll_interval
        grace = max(1, round(interval))
        first = datetime.now(UTC)
        for network in self.ctx.topology.networks:
            self.scheduler.add_job(
                self._watch,
                "interval",
                seconds=interval,
                args=[network],
                id=f"watch:{network}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=grace,
                next_run_time=first,
            )
        self.scheduler.add_job(
            self._expire,
            "interval",
            seconds=EXPIRY_INTERVAL_SECONDS,
            id="expiry",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=round(EXPIRY_INTERVAL_SECONDS),
        )
        self.scheduler.start()
        logger.info(
            "scheduler started networks=%d interval=%s owner=%s",
            len(self.ctx.topology.networks),
            interval,
            self.watcher.owner_id,
        )

    async def stop(self) -> None:
        """Stop scheduling and hand our leases over at once instead of after their TTL."""
        if self.scheduler.running:
            self.scheduler.pause()
            running = set(self._running)
            if running:
                _done, late = await asyncio.wait(running, timeout=STOP_GRACE_SECONDS)
                if late:
                    logger.warning("scheduler stop: %d job(s) still running are cancelled", len(late))
            self.scheduler.shutdown(wait=False)
        try:
            await self.watcher.release()
        except Exception:
            logger.warning("could not release watcher leases; they expire by themselves", exc_info=True)
        logger.info("scheduler stopped owner=%s", self.watcher.owner_id)

    async def _tracked(self, work: Awaitable[_T]) -> _T:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            return await work
        finally:
            if task is not None:
                self._running.discard(task)

    async def _watch(self, network: str) -> None:
        try:
            report = await self._tracked(self.watcher.tick(network))
        except _OUTAGE_ERRORS as e:
            logger.error("watch tick failed network=%s error=%s: %s", network, type(e).__name__, e)
            return
        except Exception:
            logger.exception("watch tick failed network=%s", network)
            return
        if report.effects or report.outbox:
            logger.info(
                "watch tick network=%s effects=%d delivered=%d outbox=%d seconds=%.3f",
                network,
                report.effects,
                report.delivered,
                report.outbox,
                report.seconds,
            )

    async def _expire(self) -> None:
        try:
            await self._tracked(self._sweep())
        except _OUTAGE_ERRORS as e:
            logger.error("approval request sweep failed error=%s: %s", type(e).__name__, e)
        except Exception:
            logger.exception("approval request sweep failed")

    async def _sweep(self) -> None:
        await sweep_expired(self.ctx)
        await sweep_orphaned(self.ctx)


_RUNNING: dict[int, BotScheduler] = {}


async def start_scheduler(ctx: BotContext) -> None:
    """Startup hook (`bot.main.STARTUP_HOOKS`)."""
    scheduler = BotScheduler(ctx)
    scheduler.start()
    _RUNNING[id(ctx)] = scheduler


async def stop_scheduler(ctx: BotContext) -> None:
    """Shutdown hook (`bot.main.SHUTDOWN_HOOKS`)."""
    scheduler = _RUNNING.pop(id(ctx), None)
    if scheduler is not None:
        await scheduler.stop()
