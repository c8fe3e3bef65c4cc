"""`conductor-bot run`: the bot process from settings to a clean exit.

    settings → topology → Redis (REDIS_URL, or embedded Valkey) → httpx client → Bolt app →
    startup hooks (by default the watcher's scheduler, `bot.scheduler`) → uvicorn on --http-port,
    plus the Socket Mode connection when SLACK_APP_TOKEN is set (/healthz and /metrics stay on HTTP)

Start-up checks fail fast: `auth.test` (bot token) and, in Socket Mode, `apps.connections.open` (app
token) run before anything starts; a refusal is one line naming Slack's error code and what to do.

SIGTERM/SIGINT stop the bot in every state. While starting (e.g. Slack unreachable) the start is
abandoned. Once serving, in this order: close Socket Mode and stop accepting HTTP requests (no new
work), stop the scheduler (running ticks finish, watcher leases are released), let in-flight commands
and executions finish (bounded; an execution cut short stays `executing` and is swept as an orphan),
close the HTTP client, close Redis and stop the embedded Valkey last.

Exit codes of `conductor-bot run`:
    0  stopped by SIGTERM/SIGINT
    1  could not run: Redis unavailable at start, or an unexpected error (logged with its traceback)
    2  refused to start: missing/invalid settings or clusters file, or Slack rejected a token

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

import typer
import uvicorn
from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp

from bot import gc_policy
from bot.logs import REDACTOR, register_secrets, setup_logging
from bot.scheduler import start_scheduler, stop_scheduler, tick_age
from bot.server import Hook, Readiness, build_server
from bot.settings import Settings, load_settings
from bot.slack_app import build_app, build_web_client
from bot.slack_connect import SlackRefused, SocketModeSupervisor, check_bot_token, open_socket_url
from chat import channel_check
from chat.authz import UserGroupDirectory
from chat.channel_access import ChannelAccess
from chat.context import BotContext
from cluster.clock import Clock, SystemClock
from cluster.http_pool import HttpPool
from cluster.poller import polling_client
from cluster.topology import Topology
from commands.router import VERB_MODULES
from store.gateway import Store
from store.keys import Keys

logger = logging.getLogger(__name__)

START_TIMEOUT = 15.0
STOP_TIMEOUT = 20.0
# /readyz calls the watcher starving when no tick completed for this many intervals (or MIN seconds).
TICK_BUDGET_INTERVALS = 10
MIN_TICK_BUDGET = 30.0


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
    socket: SocketModeSupervisor | None = None

    async def wait_fatal(self) -> SlackRefused:
        """Returns when Slack refuses the app token on a reconnect (never in HTTP mode)."""
        if self.socket is None:
            await asyncio.Event().wait()
        assert self.socket is not None
        return await self.socket.wait_fatal()


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
    # Fail fast, before anything starts: a token Slack refuses raises SlackRefused (exit 2).
    bot_user_id, bot_name = await check_bot_token(slack)
    first_socket_url = (
        await open_socket_url(slack, settings.slack_app_token.get_secret_value())
        if settings.slack_app_token is not None
        else None
    )
    # The same client `conductor-bot status` uses, so the clusters file's `cert_path` is trusted here too.
    async with (
        polling_client(topology, settings.rpc_timeout) as http,
        HttpPool(topology) as http_pool,
    ):
        ctx = BotContext(
            settings=settings,
            topology=topology,
            http=http,
            clock=clock,
            slack=slack,
            directory=UserGroupDirectory(slack, clock),
            redis=redis,
            store=store if store is not None else Store(redis, Keys(prefix=settings.key_prefix)),
            http_pool=http_pool,
            channels=ChannelAccess(slack.unpostable),
        )
        ctx.channels.bot_user_id = bot_user_id
        # The invite hint names the bot as this workspace knows it.
        ctx.channels.bot_name = bot_name or ctx.channels.bot_name
        http_secret = None if socket_mode or secret is None else secret.get_secret_value()
        app = build_app(ctx, signing_secret=http_secret, verb_modules=verb_modules)
        ready = asyncio.Event()
        supervisor = (
            SocketModeSupervisor(app, settings.slack_app_token.get_secret_value())
            if settings.slack_app_token is not None
            else None
        )
        readiness = Readiness(
            slack_connected=(lambda: supervisor.connected) if supervisor is not None else None,
            tick_age=lambda: tick_age(ctx),
            tick_budget=max(TICK_BUDGET_INTERVALS * settings.poll_interval, MIN_TICK_BUDGET),
            unpostable=lambda: ctx.channels.unpostable,
        )
        asgi = build_server(
            ctx,
            None if socket_mode else app,
            startup=startup,
            shutdown=shutdown,
            ready=ready,
            readiness=readiness,
            signing_secret=http_secret,
        )
        # Bound and listening before uvicorn starts, so the port is known at once and early
        # connections wait in the backlog instead of being refused.
        sock = socket.create_server((host, port), reuse_port=False)
        bound_port = sock.getsockname()[1]
        server = _Server(uvicorn.Config(asgi, log_config=None, access_log=False, lifespan="on"))
        serving = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
        checking: asyncio.Task[None] | None = None
        try:
            await _wait_ready(ready, serving)
            # In the background: one conversations.info per channel must not delay serving.
            checking = asyncio.create_task(channel_check.watch(ctx), name="channel-check")
            if supervisor is not None and first_socket_url is not None:
                await supervisor.start(first_socket_url)
            url_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
            logger.info(
                "bot started port=%s socket_mode=%s networks=%d",
                bound_port,
                socket_mode,
                len(topology.networks),
            )
            yield RunningBot(
                ctx=ctx,
                app=app,
                url=f"http://{url_host}:{bound_port}",
                socket_mode=socket_mode,
                socket=supervisor,
            )
        finally:
            # Stop taking work first: no new Socket Mode payloads, then no new HTTP requests; the
            # server's lifespan then stops the scheduler (leases back) and lets in-flight work finish.
            if checking is not None:
                checking.cancel()
            if supervisor is not None:
                await supervisor.close()
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
    serving = asyncio.Event()
    body = asyncio.create_task(
        _serve_until_stopped(
            settings,
            topology,
            stop,
            serving,
            port=settings.http_port if http_port is None else http_port,
            startup=(start_scheduler,) if startup is None else startup,
            shutdown=(stop_scheduler,) if shutdown is None else shutdown,
            on_started=on_started,
        ),
        name="bot",
    )
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({body, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not body.done() and not serving.is_set():
            # Stopped while starting (e.g. Slack does not answer): nothing runs yet that could be
            # handed over, so the start is abandoned; its cleanup still closes what it opened.
            logger.info("stopping during start-up")
            body.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await body
    finally:
        stopped.cancel()
        for sig in signals:
            loop.remove_signal_handler(sig)


async def _serve_until_stopped(
    settings: Settings,
    topology: Topology,
    stop: asyncio.Event,
    serving: asyncio.Event,
    *,
    port: int,
    startup: Sequence[Hook],
    shutdown: Sequence[Hook],
    on_started: Callable[[RunningBot], Awaitable[None]] | None,
) -> None:
    from store.connection import open_redis

    url = settings.redis_url.get_secret_value() if settings.redis_url is not None else None
    handle = await open_redis(
        url,
        settings.state_dir,
        max_connections=settings.redis_max_connections,
        pool_timeout=settings.redis_pool_timeout,
    )
    fatal: SlackRefused | None = None
    try:
        store = Store(handle.client, Keys(prefix=settings.key_prefix))
        async with serve_bot(
            settings,
            topology,
            redis=handle.client,
            store=store,
            host="0.0.0.0",
            port=port,
            startup=startup,
            shutdown=shutdown,
        ) as bot:
            serving.set()
            if on_started is not None:
                await on_started(bot)
            refused = asyncio.create_task(bot.wait_fatal())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({refused, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if refused.done():
                fatal = refused.result()
            else:
                refused.cancel()
            logger.info("stopping")
    finally:
        # Last: the embedded Valkey outlives everything that writes to it.
        await handle.close()
    if fatal is not None:
        raise fatal


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

    async def started(_bot: RunningBot) -> None:
        gc_policy.apply()

    try:
        asyncio.run(run(settings, http_port, on_started=started))
    except ConfigurationError as e:
        _fail(2, str(e))
    except SlackRefused as e:
        _fail(2, f"Slack refused a token: {e}")
    except RedisUnavailable as e:
        _fail(1, f"cannot start: {e}")
    except Exception:
        logger.critical("the bot stopped on an unexpected error", exc_info=True)
        raise typer.Exit(1) from None


def _fail(code: int, message: str) -> NoReturn:
    print(f"error: {REDACTOR.redact(message)}", file=sys.stderr)
    raise typer.Exit(code)
