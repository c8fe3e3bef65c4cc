"""The bot's HTTP surface (Starlette under uvicorn).

    POST /slack/events   Slack commands and interactions, signed; HTTP mode only
    GET  /healthz        liveness: 200 while the process serves (no dependency is checked, so a Redis
                         outage never gets every replica restarted at once)
    GET  /readyz         readiness: 200 when every check passes, else 503; the JSON body names each
                         check and what is wrong (`Readiness`)
    GET  /metrics        Prometheus exposition (`chat.metrics`)

The lifespan runs the startup hooks (the watcher scheduler registers one later) once the app is
ready to serve, and at shutdown runs the shutdown hooks and lets in-flight command work finish.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler, to_async_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chat import metrics
from chat.context import BotContext

logger = logging.getLogger(__name__)

Hook = Callable[[BotContext], Awaitable[None]]
HEALTH_PING_TIMEOUT = 2.0


@dataclass
class Readiness:
    """What /readyz checks besides Redis; a check left None does not apply to this process.

    - `slack_connected`: Socket Mode's link is up (HTTP mode: Slack reaches us, nothing to check).
    - `tick_age`: seconds since the watcher last completed a tick (None: no tick yet, measured from
      start); more than `tick_budget` means the watcher is starving.
    - `unpostable`: channels whose last post failed for a reason a retry cannot fix, with Slack's code.
    """

    slack_connected: Callable[[], bool] | None = None
    tick_age: Callable[[], float | None] | None = None
    tick_budget: float = 30.0
    unpostable: Callable[[], Mapping[str, str]] | None = None


def build_server(
    ctx: BotContext,
    bolt_app: AsyncApp | None,
    *,
    startup: Sequence[Hook] = (),
    shutdown: Sequence[Hook] = (),
    ready: asyncio.Event | None = None,
    drain_seconds: float = 10.0,
    readiness: Readiness | None = None,
    signing_secret: str | None = None,
) -> Starlette:
    """The ASGI app; `bolt_app` None (Socket Mode) leaves out /slack/events.

    With `signing_secret`, a signed slash command is acknowledged before Bolt sees it (`_slack_events`).
    """
    routes = [
        Route("/healthz", _healthz(ctx), methods=["GET"]),
        Route("/readyz", _readyz(ctx, readiness or Readiness()), methods=["GET"]),
        Route("/metrics", _metrics, methods=["GET"]),
    ]
    if bolt_app is not None:
        routes.append(
            Route(
                "/slack/events",
                _slack_events(ctx, AsyncSlackRequestHandler(bolt_app), signing_secret),
                methods=["POST"],
            )
        )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        for hook in startup:
            await hook(ctx)
        if ready is not None:
            ready.set()
        logger.info("http server ready slack_events=%s", bolt_app is not None)
        try:
            yield
        finally:
            for hook in reversed(shutdown):
                try:
                    await hook(ctx)
                except Exception:
                    logger.exception("shutdown hook failed hook=%s", getattr(hook, "__name__", hook))
            await ctx.drain(drain_seconds)

    return Starlette(routes=routes, lifespan=lifespan)


# How long a command's work waits after its ack. A burst of commands arrives over a few tens of ms;
# work started at once (Bolt's dispatch, a status poll and render: several ms of CPU each) ran
# between the acks and held the later ones. `bench/bench_ack.py`, bursts of 20 on 2 cores, same
# machine: status ack p99 138 -> 47 ms, pause 71 -> 45 ms (bare Bolt 57-87 ms); the reply comes
# 20 ms later (status one at a time: 7 -> 30 ms), well inside Slack's 30 min response_url window.
_WORK_AFTER_ACK_SECONDS = 0.02


def _slack_events(
    ctx: BotContext, handler: AsyncSlackRequestHandler, signing_secret: str | None
) -> Callable[[Request], Awaitable[Response]]:
    """Slack's requests to Bolt; a signed slash command is answered 200 at once and handed to Bolt after.

    Every `/conductor` listener acks with an empty body and works after the ack (`commands.router`),
    so answering for it loses nothing, and Bolt's own cost (its middleware chain and listener
    dispatch) is off the time Slack waits: one command at a time the ack went from ~19 ms to ~5 ms
    (`bench/bench_ack.py`). The signature is checked before answering (an unsigned or stale request
    goes to Bolt, which refuses it with 401); Bolt checks it again. Interactions (buttons) go through
    Bolt as before, since some answer in the HTTP response.
    """
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def after_ack(request: Request, body: bytes) -> None:
        await asyncio.sleep(_WORK_AFTER_ACK_SECONDS)
        answer = await handler.app.async_dispatch(to_async_bolt_request(request, body))
        if answer.status != 200:
            logger.warning("slash command refused after its ack status=%s", answer.status)

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        try:
            body = await request.body()
            if (
                verifier is not None
                and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
                and b"&command=" in b"&" + body
                and verifier.is_valid_request(body, dict(request.headers))
            ):
                ctx.spawn(after_ack(request, body), name="slash-command")
                return Response(status_code=200)
            response: Response = await handler.handle(request)
            return response
        finally:
            # The ack latency Slack sees (Bolt answers as soon as a listener acks).
            metrics.ACK_SECONDS.observe(time.perf_counter() - started)

    return slack_events


def _healthz(ctx: BotContext) -> Callable[[Request], Awaitable[Response]]:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "networks": len(ctx.topology.networks)})

    return healthz


def _readyz(ctx: BotContext, readiness: Readiness) -> Callable[[Request], Awaitable[Response]]:
    started = time.monotonic()

    async def readyz(_request: Request) -> Response:
        checks: dict[str, str] = {"redis": await _redis_check(ctx)}
        if readiness.slack_connected is not None:
            checks["slack"] = "ok" if readiness.slack_connected() else "error: socket mode not connected"
        if readiness.tick_age is not None:
            age = readiness.tick_age()
            age = time.monotonic() - started if age is None else age
            checks["watcher"] = (
                "ok" if age <= readiness.tick_budget else f"error: no tick completed for {age:.0f}s"
            )
        if readiness.unpostable is not None:
            failing = readiness.unpostable()
            checks["channels"] = (
                "ok"
                if not failing
                else "error: " + ", ".join(f"{c} {code}" for c, code in sorted(failing.items()))
            )
        failed = sorted(name for name, result in checks.items() if result != "ok")
        body = {"status": "ok" if not failed else "unavailable", "failing": failed, "checks": checks}
        return JSONResponse(body, status_code=503 if failed else 200)

    return readyz


async def _redis_check(ctx: BotContext) -> str:
    try:
        async with asyncio.timeout(HEALTH_PING_TIMEOUT):
            await ctx.redis.ping()
    except Exception as e:
        logger.debug("readiness: redis ping failed error=%s", type(e).__name__)
        return f"error: {type(e).__name__}"
    return "ok"


async def _metrics(_request: Request) -> Response:
    payload, content_type = metrics.exposition()
    return Response(payload, media_type=content_type)
