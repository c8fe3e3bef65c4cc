"""Bolt wiring: the `AsyncApp` with our Web API client, the `/conductor` router and the error handler.

Served over HTTP by `bot.server` (signed requests on /slack/events) or over Socket Mode by `bot.main`.
Not `process_before_response`: listeners ack first and Bolt answers Slack as soon as they do (§3.2 of
the Slack reference), so slow RPCs never cause Slack retries.
"""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from chat.context import BotContext
from chat.errors import handle_bolt_error
from commands import router

logger = logging.getLogger(__name__)

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


def build_web_client(token: str, api_url: str | None = None) -> AsyncWebClient:
    """The one Web API client of the process.

    Only connection errors are retried (the SDK default); rate limits surface as `SlackApiError` so the
    caller decides (the notifier backs off per alert source instead of sleeping in a handler).
    """
    base_url = api_url or DEFAULT_SLACK_API_URL
    return AsyncWebClient(token=token, base_url=base_url if base_url.endswith("/") else base_url + "/")


def build_app(
    ctx: BotContext, *, signing_secret: str | None, verb_modules: tuple[str, ...] = router.VERB_MODULES
) -> AsyncApp:
    """The Bolt app for `ctx`; `signing_secret` None means Socket Mode (Bolt skips verification there)."""
    app = AsyncApp(
        client=ctx.slack,
        signing_secret=signing_secret or "",
        request_verification_enabled=signing_secret is not None,
        process_before_response=False,
        logger=logging.getLogger("slack_bolt"),
    )
    app.error(handle_bolt_error)
    router.register(app, ctx, verb_modules)
    return app
