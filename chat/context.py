"""`BotContext`: the long-lived pieces every handler needs, built once at start-up by `bot.main`.

Handlers receive it explicitly (never a global), so tests build a real one around real servers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from chat.channel_access import ChannelAccess
from chat.errors import new_correlation_id
from cluster.clock import Clock
from cluster.http_pool import HttpPool
from cluster.singleflight import SharedPoller
from cluster.topology import Topology
from store.gateway import Store

if TYPE_CHECKING:
    from chat.authz import UserGroupDirectory

logger = logging.getLogger(__name__)


class RuntimeSettings(Protocol):
    """The settings handlers read; `bot.settings.Settings` is the one implementation (this floor may
    not import the process floor above it)."""

    @property
    def rpc_timeout(self) -> float: ...

    @property
    def poll_interval(self) -> float: ...

    @property
    def snapshot_max_age(self) -> float: ...

    @property
    def poll_concurrency(self) -> int: ...

    @property
    def slack_channel_rate(self) -> float: ...

    @property
    def leader_flap_window(self) -> float: ...


@dataclass
class BotContext:
    """Shared handles of one bot process.

    `redis` is the process's one `redis.asyncio` client and `store` the `Store` over it. `tasks`
    keeps strong references to background work, because the event loop only holds tasks weakly and
    a collected task silently never finishes.
    """

    settings: RuntimeSettings
    topology: Topology
    http: httpx.AsyncClient
    clock: Clock
    slack: AsyncWebClient
    directory: UserGroupDirectory
    redis: Redis
    store: Store
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # How long to let the cluster settle between an operation's verification polls; None means one
    # poll interval of real time. Tests set it to advance the simulator's virtual clock instead.
    settle: Callable[[], Awaitable[None]] | None = None
    # Keep-alive clients per network for polling (`bot.main` makes one); without it polls use `http`.
    http_pool: HttpPool | None = None
    # Channels the bot cannot post to (/readyz, commands), filled by checks and refused writes.
    channels: ChannelAccess = field(default_factory=ChannelAccess)
    # Networks with a paced outbox flush scheduled (`chat.delivery`): one at a time each.
    later_flushes: set[str] = field(default_factory=set)
    _snapshots: SharedPoller | None = field(default=None, init=False, repr=False)

    @property
    def snapshots(self) -> SharedPoller:
        """The process's single-flight poller (the watcher and status share its polls)."""
        if self._snapshots is None:
            pool = self.http_pool
            self._snapshots = SharedPoller(
                pool.client if pool is not None else (lambda _network: self.http),
                self.clock,
                self.settings.rpc_timeout,
            )
        return self._snapshots

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run `coro` in the background, keeping it alive until done; errors are logged, not lost."""
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("background task failed task=%s", task.get_name(), exc_info=exc)

    async def drain(self, within: float) -> None:
        """Let running work finish (bounded), then cancel what is left; used at shutdown.

        Work spawned by work being drained (a command acked before Bolt saw it spawns its handler,
        which spawns the command) is waited for too, within the same bound.
        """
        deadline = asyncio.get_running_loop().time() + within
        still: set[asyncio.Task[None]] = set()
        while pending := set(self.tasks) - still:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                still |= pending
                break
            _done, unfinished = await asyncio.wait(pending, timeout=left)
            still |= unfinished
        for task in still:
            logger.warning("cancelling unfinished task at shutdown task=%s", task.get_name())
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=1.0)

    @staticmethod
    def new_correlation_id() -> str:
        return new_correlation_id()
