"""The process's scheduled work on APScheduler 3.x (`AsyncIOScheduler`, jobs on the bot's event loop).

- a watcher tick (`alerts.watcher.Watcher.tick`) per network every `settings.poll_interval`
  (default 2 s). Each network has a fixed phase within the interval (`store.rendezvous.phase`), so
  a thousand networks' ticks are spread over it instead of all hitting Redis and the HTTP pool at
  the same instant. The phases are grouped in `TICK_SLOTS` slots, one interval job per slot,
  `watch-slot:<k>`, that starts a task per network of its slot: an APScheduler job per network cost
  ~8 % of a replica's CPU at 300 networks (job store updates, events, submission), a slot job costs
  that once for all its networks. A network whose previous tick is still running is skipped, not
  stacked. Every replica schedules every network; a tick does nothing unless rendezvous hashing
  gives the network to this replica and it holds the network's lease (TTL ≈ 3 intervals, renewed
  each tick).
- `heartbeat`, every poll interval, first: this replica's entry in the live-replica set
  (`Watcher.heartbeat`), which decides the rendezvous assignment. A dead replica drops out within two
  intervals, so its networks are reassigned within three and watched again once its lease expires.
- `expiry`, every 5 s: the approval request timers, `commands.expiry.sweep_expired` (pending past
  their deadline) and `sweep_orphaned` (approved/executing with no executor left), and
  `commands.procedures.lifecycle.resume_unfinished` (running procedures whose runner is gone).

Jobs use `max_instances=1`, `coalesce=True` and a misfire grace of one interval (a slot job missed
is a skipped tick of each of its networks). A job never raises into APScheduler: failures are logged
and the next run tries again. Logs come once per episode, not once per tick: the first skipped tick
of a network (APScheduler's own per-second warnings are dropped; `conductor_bot_skipped_ticks_total`
counts each) and the first failure of a kind are logged, then one line when ticks run (or succeed)
again with how many were skipped (or failed) meanwhile. Redis errors are logged as one line (error
class and message), not a traceback; unexpected errors keep theirs.

`stop` pauses the scheduler, lets the jobs already running finish (at most `STOP_GRACE_SECONDS`:
APScheduler's own shutdown would cancel them mid-tick, between an alert's save and its post), then
shuts it down and hands the watcher leases back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.exceptions import RedisError

from alerts.watcher import TickReport, Watcher
from chat import metrics
from chat.context import BotContext
from commands.expiry import open_networks, sweep_expired, sweep_orphaned
from commands.procedures.lifecycle import resume_unfinished
from store.rendezvous import phase

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

EXPIRY_INTERVAL_SECONDS = 5.0
# Slot jobs per poll interval (100 ms apart at 2 s): few enough that APScheduler's cost per job
# is paid rarely, many enough that a slot's ticks are a small burst.
TICK_SLOTS = 20
# How long `stop` waits for running ticks and sweeps (each is bounded by RPC and Slack timeouts).
STOP_GRACE_SECONDS = 3.0
# Infrastructure failures: expected during an outage, logged without a traceback.
_OUTAGE_ERRORS = (RedisError, ConnectionError)
# APScheduler's lines for what `Episodes` already reports once per episode.
_SKIP_MESSAGES = ("maximum number of running instances reached", "was missed by")


class _DropSkipWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(part in message for part in _SKIP_MESSAGES)


_DROP_SKIP_WARNINGS = _DropSkipWarnings()
for _name in ("apscheduler.scheduler", "apscheduler.executors.default"):
    logging.getLogger(_name).addFilter(_DROP_SKIP_WARNINGS)


class Episodes:
    """Counts repeats of a condition per key so that only its start and its end are logged.

    An episode ends at the first `end` call made at least `quiet_seconds` after its last occurrence,
    so a condition that comes and goes (ticks skipped now and then under load) is one episode.
    """

    def __init__(self, quiet_seconds: float = 0.0) -> None:
        self.quiet_seconds = quiet_seconds
        self._counts: dict[str, int] = {}
        self._last: dict[str, float] = {}

    def begin(self, key: str) -> bool:
        """Record one occurrence; True for the first of an episode (the one to log)."""
        self._counts[key] = self._counts.get(key, 0) + 1
        self._last[key] = time.monotonic()
        return self._counts[key] == 1

    def end(self, key: str) -> int:
        """End the episode if it has been quiet long enough; how many occurrences it had (0: none, or
        not over yet)."""
        if key not in self._counts or time.monotonic() - self._last[key] < self.quiet_seconds:
            return 0
        self._last.pop(key)
        return self._counts.pop(key)


# A network whose ticks ran on time for this long is out of its skipping episode.
SKIP_EPISODE_QUIET_SECONDS = 60.0


class _NetworkMetrics(NamedTuple):
    tick_seconds: Any
    lease_held: Any
    outbox_depth: Any


class BotScheduler:
    """Owns the APScheduler instance and the watcher of one bot process."""

    def __init__(self, ctx: BotContext, owner_id: str | None = None) -> None:
        self.ctx = ctx
        self.watcher = Watcher(ctx, owner_id)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        # The jobs running right now, so `stop` can let them finish instead of cancelling them.
        self._running: set[asyncio.Task[Any]] = set()
        self.skipped = Episodes(SKIP_EPISODE_QUIET_SECONDS)
        self.failing = Episodes()
        self.last_tick: float | None = None  # monotonic time of the last completed tick (readiness)
        self.scheduler.add_listener(self._on_skip, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        # Per-network metric children, looked up once: `labels()` costs more than the update itself.
        self._metrics: dict[str, _NetworkMetrics] = {}
        self.slots: list[list[str]] = [[] for _ in range(TICK_SLOTS)]
        for network in ctx.topology.networks:
            self.slots[self.slot(network)].append(network)
        # Each network's latest tick, to skip the next one while it still runs.
        self._ticks: dict[str, asyncio.Task[None]] = {}

    def slot(self, network: str) -> int:
        """The slot whose job starts `network`'s ticks."""
        interval = self.ctx.settings.poll_interval
        return min(int(phase(network, interval) / interval * TICK_SLOTS), TICK_SLOTS - 1)

    def _children(self, network: str) -> _NetworkMetrics:
        children = self._metrics.get(network)
        if children is None:
            children = self._metrics[network] = _NetworkMetrics(
                metrics.TICK_SECONDS.labels(network),
                metrics.LEASE_HELD.labels(network),
                metrics.OUTBOX_DEPTH.labels(network),
            )
        return children

    def start(self) -> None:
        """Schedule the jobs; call from inside the running event loop (APScheduler captures it)."""
        interval = self.ctx.settings.poll_interval
        grace = max(1, round(interval))
        first = datetime.now(UTC)
        self.scheduler.add_job(
            self._heartbeat,
            "interval",
            seconds=interval,
            id="heartbeat",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=grace,
            next_run_time=first,
        )
        for slot, networks in enumerate(self.slots):
            if not networks:
                continue
            self.scheduler.add_job(
                self._watch_slot,
                "interval",
                seconds=interval,
                args=[slot],
                id=f"watch-slot:{slot}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=grace,
                next_run_time=first + timedelta(seconds=slot * interval / TICK_SLOTS),
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
            # Ticks a slot job started that have not begun yet count as running too.
            running = self._running | {t for t in self._ticks.values() if not t.done()}
            if running:
                _done, late = await asyncio.wait(running, timeout=STOP_GRACE_SECONDS)
                if late:
                    logger.warning("scheduler stop: %d job(s) still running are cancelled", len(late))
                    for task in late:  # ticks are our own tasks: APScheduler's shutdown cancels only its jobs
                        task.cancel()
            self.scheduler.shutdown(wait=False)
        for network in self.ctx.topology.networks:
            metrics.LEASE_HELD.labels(network).set(0)
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

    def _on_skip(self, event: JobEvent) -> None:
        if not event.job_id.startswith("watch-slot:"):
            return
        reason = "running" if event.code == EVENT_JOB_MAX_INSTANCES else "late"
        for network in self.slots[int(event.job_id.removeprefix("watch-slot:"))]:
            self._skip(network, reason)

    async def _watch_slot(self, slot: int) -> None:
        """Start the tick of every network in `slot` this replica watches (or must hand over) whose
        previous tick is over."""
        for network in self.slots[slot]:
            if not self.watcher.has_work(network):
                continue  # another replica's: no task for a tick that would only return
            running = self._ticks.get(network)
            if running is not None and not running.done():
                self._skip(network, "running")
                continue
            self._ticks[network] = asyncio.create_task(self._watch(network), name=f"watch {network}")

    def _skip(self, network: str, reason: str) -> None:
        metrics.SKIPPED_TICKS.labels(network, reason).inc()
        if self.skipped.begin(network):
            logger.warning(
                "watch ticks skipped network=%s reason=%s (logged once per episode)",
                network,
                "previous tick still running" if reason == "running" else "event loop too busy",
            )

    async def _watch(self, network: str) -> None:
        started = time.monotonic()
        skipped = self.skipped.end(network)
        if skipped:
            logger.info(
                "watch ticks on time again network=%s skipped=%d (none for %ds)",
                network,
                skipped,
                SKIP_EPISODE_QUIET_SECONDS,
            )
        try:
            report = await self._tracked(self.watcher.tick(network))
        except _OUTAGE_ERRORS as e:
            if self.failing.begin(network):
                logger.error(
                    "watch tick failed network=%s error=%s: %s (logged once until a tick succeeds)",
                    network,
                    type(e).__name__,
                    e,
                )
            return
        except Exception:
            self.failing.begin(network)
            logger.exception("watch tick failed network=%s", network)
            return
        finally:
            self._children(network).tick_seconds.observe(time.monotonic() - started)
        self.last_tick = time.monotonic()
        failed = self.failing.end(network)
        if failed:
            logger.info("watch ticks succeed again network=%s failed=%d", network, failed)
        self._record(report)

    def _record(self, report: TickReport) -> None:
        children = self._children(report.network)
        children.lease_held.set(1 if report.leader else 0)
        if report.leader:
            children.outbox_depth.set(report.outbox)
        # Not for a non-empty outbox alone: a Slack outage would log it every tick (the gauge shows it).
        if report.effects or report.delivered:
            logger.info(
                "watch tick network=%s effects=%d delivered=%d outbox=%d seconds=%.3f",
                report.network,
                report.effects,
                report.delivered,
                report.outbox,
                report.seconds,
            )

    async def _heartbeat(self) -> None:
        try:
            await self._tracked(self.watcher.heartbeat())
        except _OUTAGE_ERRORS as e:
            logger.error("replica heartbeat failed error=%s: %s", type(e).__name__, e)
        except Exception:
            logger.exception("replica heartbeat failed")

    async def _expire(self) -> None:
        try:
            await self._tracked(self._sweep())
        except _OUTAGE_ERRORS as e:
            logger.error("approval request sweep failed error=%s: %s", type(e).__name__, e)
        except Exception:
            logger.exception("approval request sweep failed")

    async def _sweep(self) -> None:
        networks = await open_networks(self.ctx)
        await sweep_expired(self.ctx, networks)
        await sweep_orphaned(self.ctx, networks)
        # A procedure whose replica died (its network lock expired) continues here, from its record.
        await resume_unfinished(self.ctx, networks)


_RUNNING: dict[int, BotScheduler] = {}


async def start_scheduler(ctx: BotContext) -> None:
    """Startup hook (`bot.main.run` default)."""
    scheduler = BotScheduler(ctx)
    scheduler.start()
    _RUNNING[id(ctx)] = scheduler


async def stop_scheduler(ctx: BotContext) -> None:
    """Shutdown hook (`bot.main.run` default)."""
    scheduler = _RUNNING.pop(id(ctx), None)
    if scheduler is not None:
        await scheduler.stop()


def tick_age(ctx: BotContext) -> float | None:
    """Seconds since `ctx`'s scheduler completed a watcher tick; None before its first or without one."""
    scheduler = _RUNNING.get(id(ctx))
    if scheduler is None or scheduler.last_tick is None:
        return None
    return time.monotonic() - scheduler.last_tick
