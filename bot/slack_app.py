"""Bolt wiring: the `AsyncApp` with our Web API client, the `/conductor` router and the error handler.

Served over HTTP by `bot.server` (signed requests on /slack/events) or over Socket Mode by `bot.main`.
`process_before_response`: Bolt runs a listener inline and answers when it returns. Every listener
acks and hands its work to a background task before returning (`commands.router`), so Slack gets its
answer as soon as the ack (§3.2 of the Slack reference) without Bolt's 10 ms polling for it; slow RPCs
never cause Slack retries. Slash commands are acked even before Bolt sees them (`bot.server`).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from chat import channel_check, metrics
from chat.channel_access import UNPOSTABLE
from chat.context import BotContext
from chat.errors import handle_bolt_error
from commands import router

logger = logging.getLogger(__name__)

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class _SameTokenNotice(logging.Filter):
    """Drops Bolt's "As you gave `client` as well, `token` will be unused" warning.

    Bolt reads SLACK_BOT_TOKEN from the environment whenever `token` is not passed, then warns that
    our `client` wins; the client holds that very token, so the warning only alarms operators.
    """

    message = warning_client_prioritized_and_token_skipped()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.message


_SAME_TOKEN_NOTICE = _SameTokenNotice()


def build_web_client(token: str, api_url: str | None = None) -> CountingWebClient:
    """The one Web API client of the process.

    Only connection errors are retried (the SDK default); rate limits surface as `SlackApiError` so the
    caller decides (the notifier backs off per alert source instead of sleeping in a handler).
    """
    base_url = api_url or DEFAULT_SLACK_API_URL
    return CountingWebClient(token=token, base_url=base_url if base_url.endswith("/") else base_url + "/")


_POSTS = frozenset({"chat.postMessage", "chat.update"})


class CountingWebClient(AsyncWebClient):
    """The Web API client, counting failures by method and Slack error code
    (`conductor_bot_slack_errors_total`) and remembering channels the bot cannot post to (/readyz)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unpostable: dict[str, str] = {}

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        params = kwargs.get("json") or kwargs.get("data") or kwargs.get("params") or {}
        channel = params.get("channel") if api_method in _POSTS and isinstance(params, dict) else None
        try:
            response: AsyncSlackResponse = await super().api_call(api_method, **kwargs)
        except SlackApiError as e:
            code = str(e.response.get("error") or "unknown")
            metrics.SLACK_ERRORS.labels(api_method, code).inc()
            logger.debug("slack call failed method=%s error=%s", api_method, code)
            if channel and code in UNPOSTABLE:
                self.unpostable[str(channel)] = code
            raise
        except (OSError, TimeoutError):
            metrics.SLACK_ERRORS.labels(api_method, "connection").inc()
            raise
        if channel:
            self.unpostable.pop(str(channel), None)
        return response


def build_app(
    ctx: BotContext, *, signing_secret: str | None, verb_modules: tuple[str, ...] = router.VERB_MODULES
) -> AsyncApp:
    """The Bolt app for `ctx`; `signing_secret` None means Socket Mode (Bolt skips verification there)."""
    bolt_logger = logging.getLogger("slack_bolt")
    bolt_logger.addFilter(_SAME_TOKEN_NOTICE)  # idempotent: one filter object
    app = AsyncApp(
        client=ctx.slack,
        signing_secret=signing_secret or "",
        request_verification_enabled=signing_secret is not None,
        process_before_response=True,
        logger=bolt_logger,
    )
    app.error(handle_bolt_error)
    router.register(app, ctx, verb_modules)

    @app.event("member_joined_channel")
    async def bot_joined(event: dict[str, Any], context: dict[str, Any]) -> None:
        # Slack sends it for every member; only the bot's own join releases anything.
        user = event.get("user")
        if user and user in (ctx.channels.bot_user_id, context.get("bot_user_id")):
            channel = str(event.get("channel", ""))
            logger.info("bot joined channel=%s", channel)
            ctx.spawn(channel_check.joined(ctx, channel), name=f"joined-{channel}")

    @app.event("member_left_channel")
    async def bot_left(event: dict[str, Any], context: dict[str, Any]) -> None:
        # Removed from a channel: hold its writes and answer commands with the invite hint now,
        # instead of learning it from the next refused post.
        user = event.get("user")
        if user and user in (ctx.channels.bot_user_id, context.get("bot_user_id")):
            channel = str(event.get("channel", ""))
            logger.warning(
                "bot removed from channel=%s; invite it back: %s", channel, ctx.channels.invite_hint()
            )
            ctx.channels.refused(channel, "not_in_channel")

    return app
