"""The bot's HTTP surface (Starlette under uvicorn).

    POST /slack/events   Slack commands and interactions, signed; HTTP mode only
    GET  /healthz        200 with JSON when Redis answers a PING, 503 otherwise
    GET  /metrics        Prometheus exposition (`chat.metrics`)

The lifespan runs the startup hooks (the watcher scheduler registers one later) once the app is
ready to serve, and at shutdown runs the shutdown hooks and lets in-flight command work finish.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chat import metrics
from chat.context import BotContext

logger = logging.getLogger(__name__)

Hook = Callable[[BotContext], Awaitable[None]]
HEALTH_PING_TIMEOUT = 2.0


def build_server(
    ctx: BotContext,
    bolt_app: AsyncApp | None,
    *,
    startup: Sequence[Hook] = (),
    shutdown: Sequence[Hook] = (),
    ready: asyncio.Event | None = None,
    drain_seconds: float = 10.0,
) -> Starlette:
    """The ASGI app; `bolt_app` None (Socket Mode) leaves out /slack/events."""
    routes = [
        Route("/healthz", _healthz(ctx), methods=["GET"]),
        Route("/metrics", _metrics, methods=["GET"]),
    ]
    if bolt_app is not None:
        routes.append(
            Route("/slack/events", _slack_events(AsyncSlackRequestHandler(bolt_app)), methods=["POST"])
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


def _slack_events(handler: AsyncSlackRequestHandler) -> Callable[[Request], Awaitable[Response]]:
    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        try:
            response: Response = await handler.handle(request)
            return response
        finally:
            # Bolt answers as soon as the listener acks, so this is the ack latency Slack sees.
            metrics.ACK_SECONDS.observe(time.perf_counter() - started)

    return slack_events


def _healthz(ctx: BotContext) -> Callable[[Request], Awaitable[Response]]:
    async def healthz(_request: Request) -> Response:
        body: dict[str, object] = {"networks": len(ctx.topology.networks)}
        try:
            async with asyncio.timeout(HEALTH_PING_TIMEOUT):
                await ctx.redis.ping()
        except Exception as e:
            logger.warning("health check: redis ping failed error=%s", type(e).__name__)
            return JSONResponse(
                {**body, "status": "unavailable", "redis": f"error: {type(e).__name__}"}, status_code=503
            )
        return JSONResponse({**body, "status": "ok", "redis": "ok"})

    return healthz


async def _metrics(_request: Request) -> Response:
    payload, content_type = metrics.exposition()
    return Response(payload, media_type=content_type)
