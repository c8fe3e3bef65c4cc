"""Errors a Slack user may see, and the one place that turns any error into a Slack reply.

    BotError                 the message is safe and useful to show the user as is
    ├── UsageError           the command text could not be understood
    ├── NotAuthorized        the user may not do this on this network
    ├── UnknownNetwork       the command names a network that is not configured
    ├── WrongChannel         the command came from a channel not configured for the network
    ├── StaleAction          a button was clicked on a message whose request has moved on
    ├── StoreUnavailable     Redis did not answer, so nothing was recorded or changed
    └── DirectoryUnavailable Slack's user-group lookup failed, so membership is unknown

Every error meant for the user is a `BotError` (command parsing raises `UsageError` too). Anything
else is a bug: the user gets a short apology with a correlation id, and the traceback goes to the
server log under that id, never to Slack.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from redis.exceptions import RedisError
from slack_bolt.response import BoltResponse

from chat import metrics
from chat.text import escape

logger = logging.getLogger(__name__)


class BotError(Exception):
    """Raised when the user should read why their command or click did nothing."""

    @property
    def user_message(self) -> str:
        return str(self)


class UsageError(BotError):
    """Raised when the command text is missing an argument or has one too many."""


class NotAuthorized(BotError):
    """Raised when the user is not among the network's requesters or approvers for this action."""


class UnknownNetwork(BotError):
    """Raised when a command names a network absent from the clusters file."""


class WrongChannel(BotError):
    """Raised when a network's commands are restricted to channels and this is not one of them."""


class StaleAction(BotError):
    """Raised when a button belongs to a request that has already been decided, expired or replaced."""


class StoreUnavailable(BotError):
    """Raised when Redis is unreachable; nothing was recorded, the user may retry."""


class DirectoryUnavailable(BotError):
    """Raised when Slack could not tell who is in a user group, so permission cannot be decided."""


def new_correlation_id() -> str:
    """A short id to quote in Slack and grep in the logs."""
    return secrets.token_hex(4)


def user_message(error: BaseException) -> str | None:
    """The text to show for an expected error, or None when the error is a bug."""
    if isinstance(error, BotError):
        return error.user_message or type(error).__name__
    return None


def describe(error: BaseException, correlation_id: str, *, where: str) -> str:
    """Log the error once under the correlation id and return the Slack text for it."""
    expected = user_message(error)
    metrics.ERRORS.labels(kind="user" if expected is not None else "bug").inc()
    if expected is not None:
        logger.info(
            "user error where=%s kind=%s correlation_id=%s", where, type(error).__name__, correlation_id
        )
        # The words the user typed are in it (`Unknown network `<!channel>``): shown as written.
        return f":warning: {escape(expected, keep_user_mentions=True)}"
    if isinstance(error, RedisError):
        logger.error(
            "store unavailable where=%s correlation_id=%s error=%s",
            where,
            correlation_id,
            type(error).__name__,
        )
        return (
            ":x: The bot's state store (Redis) is not answering, so this could not be recorded. "
            "No operation runs without it; once it is back, check `/conductor requests` before retrying. "
            f"Reference `{correlation_id}`."
        )
    logger.error("unhandled error where=%s correlation_id=%s", where, correlation_id, exc_info=error)
    return (
        ":x: Something went wrong on our side and nothing was changed. "
        f"Quote reference `{correlation_id}` to the bot operators."
    )


async def handle_bolt_error(error: Exception, body: dict[str, Any], respond: Any, response: Any) -> Any:
    """Bolt's global error handler: an ephemeral message with a correlation id, never a traceback.

    Before `ack()` Bolt still owns the HTTP response, so the message goes back in it (status 200, so
    Slack shows it instead of an error); after `ack()` it goes through the `response_url`.
    """
    correlation_id = new_correlation_id()
    kind = body.get("command") or body.get("type") or "request"
    text = describe(error, correlation_id, where=str(kind))
    if response is not None:
        payload = {"response_type": "ephemeral", "text": text}
        return BoltResponse(
            status=200, body=json.dumps(payload), headers={"content-type": ["application/json"]}
        )
    if respond is not None:
        try:
            await respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception:
            # The original error is already logged; a dead response_url must not hide it.
            logger.warning("could not deliver error reply correlation_id=%s", correlation_id)
    return None
