"""`conductor-bot run`: the bot process from settings to a clean exit.

    settings → topology → Redis (REDIS_URL, or embedded Valkey) → httpx client → Bolt app →
    startup hooks (the watcher's scheduler, `bot.scheduler`, via STARTUP_HOOKS) → uvicorn on --http-port,
    plus the Socket Mode connection when SLACK_APP_TOKEN is set (/healthz and /metrics stay on HTTP)

SIGTERM/SIGINT close Socket Mode, stop the HTTP server (its lifespan runs the shutdown hooks and lets
in-flight commands finish), then close the HTTP client and Redis, in that order.
`serve_bot` is the same wiring without settings loading or signals, for tests and the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
import uvicorn
from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp

from bot.logs import REDACTOR, register_secrets, setup_logging
from bot.scheduler import start_scheduler, stop_scheduler
from bot.server import Hook, build_server
from bot.settings import Settings, load_settings
from bot.slack_app import build_app, build_web_client
from chat.authz import UserGroupDirectory
from chat.context import BotContext
from cluster.clock import Clock, SystemClock
from cluster.poller import polling_limits
from cluster.topology import Topology
from commands.router import VERB_MODULES
from store.gateway import Store
from store.keys import Keys

logger = logging.getLogger(__name__)

# Callbacks run once the HTTP server is up (the alert watcher's scheduler); more may be appended at
# import time by the modules that own them, or passed to `run`/`serve_bot` explicitly.
STARTUP_HOOKS: list[Hook] = [start_scheduler]
SHUTDOWN_HOOKS: list[Hook] = [stop_scheduler]
START_TIMEOUT = 15.0
STOP_TIMEOUT = 20.0


class ConfigurationError(Exception):
    """Raised when required settings are missing; the message lists each one and how to set it."""


def missing_settings(settings: Settings) -> list[str]:
    """What stops the bot from starting, one line each (empty when it can start)."""
    problems: list[str] = []
    if settings.slack_bot_token is None:
        problems.append("SLACK_BOT_TOKEN is not set (the bot token, xoxb-…)")
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        problems.append(
            "SLACK_SIGNING_SECRET is not set (needed in HTTP mode; or set SLACK_APP_TOKEN for Socket Mode)"
        )
    if settings.clusters is None:
        problems.append("no clusters file: pass --clusters or set CONDUCTOR_BOT_CLUSTERS")
    return problems


@dataclass
class RunningBot:
    """A started bot: its context, Bolt app and the HTTP base URL it serves on."""

    ctx: BotContext
    app: AsyncApp
    url: str
    socket_mode: bool


class _Server(uvicorn.Server):
    # Signals belong to `run`; uvicorn's own handlers would re-raise them after shutdown.
    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


@asynccontextmanager
async def serve_bot(
    settings: Settings,
    topology: Topology,
    *,
    redis: Redis,
    store: Store | None = None,
    clock: Clock | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    startup: Sequence[Hook] = (),
    shutdown: Sequence[Hook] = (),
    verb_modules: tuple[str, ...] = VERB_MODULES,
) -> AsyncIterator[RunningBot]:
    """Run the bot's HTTP server (and Socket Mode if configured) until the block exits."""
    if settings.slack_bot_token is None:
        raise ConfigurationError("SLACK_BOT_TOKEN is not set")
    clock = clock or SystemClock()
    slack = build_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    socket_mode = settings.slack_app_token is not None
    secret = settings.slack_signing_secret
    if not socket_mode and secret is None:
        # Without it Bolt would accept unsigned requests: anyone could run /conductor.
        raise ConfigurationError("SLACK_SIGNING_SECRET is not set: HTTP mode cannot verify Slack's requests")
    async with httpx.AsyncClient(
        limits=polling_limits(topology), timeout=httpx.Timeout(settings.rpc_timeout)
    ) as http:
        ctx = BotContext(
            settings=settings,
            topology=topology,
            http=http,
            clock=clock,
            slack=slack,
            directory=UserGroupDirectory(slack, clock),
            redis=redis,
            store=store if store is not None else Store(redis, Keys(prefix=settings.key_prefix)),
        )
        app = build_app(
            ctx,
            signing_secret=None if socket_mode or secret is None else secret.get_secret_value(),
            verb_modules=verb_modules,
        )
        ready = asyncio.Event()
        asgi = build_server(
            ctx, None if socket_mode else app, startup=startup, shutdown=shutdown, ready=ready
        )
        # Bound and listening before uvicorn starts, so the port is known at once and early
        # connections wait in the backlog instead of being refused.
        sock = socket.create_server((host, port), reuse_port=False)
        bound_port = sock.getsockname()[1]
        server = _Server(uvicorn.Config(asgi, log_config=None, access_log=False, lifespan="on"))
        serving = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
        socket_handler: Any = None
        try:
            await _wait_ready(ready, serving)
            if socket_mode and settings.slack_app_token is not None:
                from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

                socket_handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
                await socket_handler.connect_async()
            url_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
            logger.info(
                "bot started port=%s socket_mode=%s networks=%d",
                bound_port,
                socket_mode,
                len(topology.networks),
            )
            yield RunningBot(ctx=ctx, app=app, url=f"http://{url_host}:{bound_port}", socket_mode=socket_mode)
        finally:
            if socket_handler is not None:
                await socket_handler.close_async()
            server.should_exit = True
            try:
                await asyncio.wait_for(serving, STOP_TIMEOUT)
            except TimeoutError:
                logger.error("http server did not stop in %ss", STOP_TIMEOUT)
            finally:
                sock.close()
            logger.info("bot stopped")


async def _wait_ready(ready: asyncio.Event, serving: asyncio.Task[None]) -> None:
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait(
        {waiter, serving}, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
    )
    if waiter not in done:
        waiter.cancel()
        if serving in done:
            serving.result()  # re-raise the startup failure
        raise RuntimeError(f"http server not ready within {START_TIMEOUT}s")


async def run(
    settings: Settings,
    http_port: int | None = None,
    *,
    stop: asyncio.Event | None = None,
    startup: Sequence[Hook] | None = None,
    shutdown: Sequence[Hook] | None = None,
    on_started: Callable[[RunningBot], Awaitable[None]] | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or `stop` is set); raise ConfigurationError before touching anything.

    `on_started` is awaited once the bot serves (the demo prints its URL; tests learn the port).
    """
    from cluster.topology_file import TopologyError, load_topology
    from store.connection import open_redis

    problems = missing_settings(settings)
    if problems:
        raise ConfigurationError("cannot start:\n" + "\n".join(f"  - {p}" for p in problems))
    assert settings.clusters is not None
    try:
        topology = load_topology(settings.clusters)
    except TopologyError as e:
        raise ConfigurationError(f"invalid clusters file {settings.clusters}:\n{e}") from e
    register_secrets(
        [*settings.secrets()]
        + [
            u
            for spec in topology.networks.values()
            for s in spec.sequencers
            for u in (s.conductor_rpc_url, s.node_rpc_url)
        ]
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    url = settings.redis_url.get_secret_value() if settings.redis_url is not None else None
    handle = await open_redis(url, settings.state_dir)
    try:
        store = Store(handle.client, Keys(prefix=settings.key_prefix))
        async with serve_bot(
            settings,
            topology,
            redis=handle.client,
            store=store,
            host="0.0.0.0",
            port=settings.http_port if http_port is None else http_port,
            startup=STARTUP_HOOKS if startup is None else startup,
            shutdown=SHUTDOWN_HOOKS if shutdown is None else shutdown,
        ) as bot:
            if on_started is not None:
                await on_started(bot)
            await stop.wait()
            logger.info("stopping")
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await handle.close()


def run_command(
    http_port: Annotated[
        int | None, typer.Option("--http-port", help="Port for /slack/events, /healthz and /metrics.")
    ] = None,
    clusters: Annotated[
        Path | None,
        typer.Option(
            "--clusters", help="Clusters file; default: $CONDUCTOR_BOT_CLUSTERS.", show_default=False
        ),
    ] = None,
) -> None:
    """Run the Slack bot (Socket Mode with SLACK_APP_TOKEN, else HTTP with SLACK_SIGNING_SECRET)."""
    from pydantic import ValidationError

    from store.connection import RedisUnavailable

    try:
        settings = load_settings(clusters)
    except ValidationError as e:
        setup_logging()
        _fail(2, f"invalid settings: {e}")
    setup_logging(settings.log_level, settings.log_format)
    register_secrets(settings.secrets())
    try:
        asyncio.run(run(settings, http_port))
    except ConfigurationError as e:
        _fail(2, str(e))
    except RedisUnavailable as e:
        _fail(1, f"cannot start: {e}")


def _fail(code: int, message: str) -> NoReturn:
    print(f"error: {REDACTOR.redact(message)}", file=sys.stderr)
    raise typer.Exit(code)
