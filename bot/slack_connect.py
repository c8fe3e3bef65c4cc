"""Getting and staying connected to Slack: start-up token checks and a supervised Socket Mode link.

    check_bot_token          auth.test with SLACK_BOT_TOKEN before anything starts
    open_socket_url          apps.connections.open with SLACK_APP_TOKEN (its URL is the first connection's)
    SocketModeSupervisor     owns slack_sdk's Socket Mode client: connects, watches, reconnects

A token Slack refuses is fatal: `SlackRefused` carries Slack's error code and what to do, printed as one
line by `conductor-bot run`, exit code 2. Anything else (no route, a timeout, 5xx, `ratelimited`) is
transient: retried with capped exponential back-off and full jitter (`backoff`), one log line per
attempt, at most one a minute once the cap is reached.

slack_sdk's own reconnect loop is switched off: it retries `apps.connections.open` (Slack tier 1) every
few seconds whatever the error, logs a traceback each time and cannot be interrupted while connecting.
Every wait here is bounded and cancellable, so SIGTERM/SIGINT stop the bot in any state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterator
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from chat import metrics

logger = logging.getLogger(__name__)

# Per attempt: an unanswered call or WebSocket handshake is abandoned after this long.
ATTEMPT_TIMEOUT = 10.0
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
# How often the live connection is checked (slack_sdk pings every `ping_interval` and marks the link
# stale after four missed pongs).
WATCH_INTERVAL = 2.0
PING_INTERVAL = 5.0

_BOT_TOKEN_ADVICE = {
    "invalid_auth": "SLACK_BOT_TOKEN is not a valid bot token (xoxb-…) for this workspace: copy the "
    "Bot User OAuth Token from the app's OAuth & Permissions page",
    "not_authed": "SLACK_BOT_TOKEN is empty or was not sent",
    "token_revoked": "SLACK_BOT_TOKEN was revoked: reinstall the app and use its new bot token",
    "account_inactive": "the app behind SLACK_BOT_TOKEN was uninstalled: reinstall it",
    "not_allowed_token_type": "SLACK_BOT_TOKEN must be a bot token (xoxb-…)",
}
_APP_TOKEN_ADVICE = {
    "invalid_auth": "SLACK_APP_TOKEN is not an app-level token (xapp-…) with connections:write",
    "not_authed": "SLACK_APP_TOKEN is empty or was not sent",
    "not_allowed_token_type": "SLACK_APP_TOKEN must be an app-level token (xapp-…), not a bot or user token",
    "missing_scope": "SLACK_APP_TOKEN lacks the connections:write scope: add it under Basic Information "
    "→ App-Level Tokens",
    "token_revoked": "SLACK_APP_TOKEN was revoked: generate a new app-level token",
    "account_inactive": "the app behind SLACK_APP_TOKEN was uninstalled: reinstall it",
}
_TRANSIENT_CODES = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable"})


class SlackRefused(Exception):
    """Raised when Slack rejects a token: retrying cannot help; the message says what to do."""

    def __init__(self, code: str, advice: str) -> None:
        self.code = code
        super().__init__(f"{code}: {advice}")


def backoff(base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> Iterator[float]:
    """Delays before each retry: exponential, capped, with full jitter (replicas spread out)."""
    attempt = 0
    while True:
        yield random.uniform(0.5, 1.0) * min(cap, base * 2**attempt)
        attempt += 1


def _refusal(error: SlackApiError, advice: dict[str, str], variable: str) -> SlackRefused | None:
    code = str(error.response.get("error") or "unknown_error")
    if code in _TRANSIENT_CODES or error.response.status_code >= 500:
        return None
    return SlackRefused(code, advice.get(code, f"Slack refused {variable}"))


async def _retrying(what: str, attempt: Any, advice: dict[str, str], variable: str) -> Any:
    """`await attempt()` until it answers; a refusal raises `SlackRefused`, the rest is retried."""
    delays = backoff()
    while True:
        try:
            async with asyncio.timeout(ATTEMPT_TIMEOUT):
                return await attempt()
        except SlackApiError as e:
            refused = _refusal(e, advice, variable)
            if refused is not None:
                raise refused from None
            problem = str(e.response.get("error") or f"HTTP {e.response.status_code}")
        except (OSError, TimeoutError) as e:
            problem = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        except Exception as e:  # aiohttp's client errors are not all OSErrors
            problem = f"{type(e).__name__}: {e}"
        delay = next(delays)
        logger.warning("slack %s failed error=%s; retrying in %.1fs", what, problem, delay)
        await asyncio.sleep(delay)


async def check_bot_token(client: AsyncWebClient) -> tuple[str, str]:
    """auth.test with the bot token; returns the bot's user id and name. Raises `SlackRefused`."""
    answer = await _retrying("auth.test", client.auth_test, _BOT_TOKEN_ADVICE, "SLACK_BOT_TOKEN")
    logger.info("slack bot token ok team=%s user=%s", answer.get("team_id"), answer.get("user_id"))
    return str(answer.get("user_id") or ""), str(answer.get("user") or "")


async def open_socket_url(client: AsyncWebClient, app_token: str) -> str:
    """apps.connections.open with the app token; returns the WebSocket URL. Raises `SlackRefused`."""

    async def attempt() -> str:
        answer = await client.apps_connections_open(app_token=app_token)
        return str(answer["url"])

    url: str = await _retrying("apps.connections.open", attempt, _APP_TOKEN_ADVICE, "SLACK_APP_TOKEN")
    return url


class SocketModeSupervisor:
    """One Socket Mode link to Slack for `app`, re-established with back-off whenever it drops.

    `fatal` is set (and `on_fatal` called) when Slack refuses the app token on a reconnect.
    """

    def __init__(self, app: AsyncApp, app_token: str) -> None:
        self.handler = AsyncSocketModeHandler(app, app_token, ping_interval=PING_INTERVAL)
        self.client = self.handler.client
        self.client.default_auto_reconnect_enabled = False
        self.client.auto_reconnect_enabled = False
        self.app_token = app_token
        self.fatal: SlackRefused | None = None
        self.connected = False
        self._watch: asyncio.Task[None] | None = None
        self._fatal_event = asyncio.Event()

    async def start(self, first_url: str) -> None:
        """Connect with the URL the start-up check obtained, then keep the link up in the background."""
        await self._connect(first_url)
        self._watch = asyncio.create_task(self._keep_connected(), name="socket-mode")

    async def wait_fatal(self) -> SlackRefused:
        await self._fatal_event.wait()
        assert self.fatal is not None
        return self.fatal

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        self._set_connected(False)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await self.client.close()  # type: ignore[no-untyped-call]

    def _set_connected(self, up: bool) -> None:
        self.connected = up
        metrics.SOCKET_MODE_CONNECTED.set(1 if up else 0)

    async def _connect(self, url: str) -> None:
        self.client.wss_uri = url
        async with asyncio.timeout(ATTEMPT_TIMEOUT):
            await self.client.connect()  # type: ignore[no-untyped-call]
        self.client.auto_reconnect_enabled = False
        self._set_connected(True)
        logger.info("slack socket mode connected")

    async def _keep_connected(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            if await self.client.is_connected():
                continue
            self._set_connected(False)
            logger.warning("slack socket mode disconnected; reconnecting")
            try:
                await self._reconnect()
            except SlackRefused as e:
                self.fatal = e
                self._fatal_event.set()
                return

    async def _reconnect(self) -> None:
        delays = backoff()
        while True:
            url = await open_socket_url(self.client.web_client, self.app_token)
            try:
                await self._connect(url)
                return
            except Exception as e:  # a timeout, a refused or reset WebSocket, an aiohttp error
                delay = next(delays)
                logger.warning(
                    "slack socket mode connect failed error=%s; retrying in %.1fs", type(e).__name__, delay
                )
                await asyncio.sleep(delay)


class _QuietSdkConnectErrors(logging.Filter):
    """slack_sdk logs each failed connect with a traceback; the supervisor logs one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(("Failed to connect (error:", "Failed to retrieve WSS URL"))


logging.getLogger("slack_bolt").addFilter(_QuietSdkConnectErrors())
logging.getLogger("slack_sdk.socket_mode").addFilter(_QuietSdkConnectErrors())
