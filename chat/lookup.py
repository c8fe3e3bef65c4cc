"""Finding a message an earlier send attempt of an outbox entry created, in the channel's history.

Every post and thread reply of the outbox carries message metadata naming its entry (and, for a
merged reply, the entries it also carries), so a send whose outcome is unknown (its sender died,
or the call timed out) is looked up before it is sent again.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from store.outbox import METADATA_EVENT, MessageRef, SlackWrite

logger = logging.getLogger(__name__)

# How far back in a channel's history a lost post is searched for (seconds before its first try).
LOOKUP_MARGIN_SECONDS = 300
LOOKUP_LIMIT = 200
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)


def slack_code(e: SlackApiError) -> str:
    return str(e.response.get("error", "unknown")) if e.response is not None else "unknown"


async def find_sent(
    slack: AsyncWebClient, write: SlackWrite, first_try: float, thread_ts: str | None
) -> tuple[MessageRef, tuple[str, ...]] | None:
    """The message this write created on an earlier attempt, and the ids of entries merged into it.

    A lookup Slack refuses for good (`missing_scope` on an install without the history scopes,
    `not_in_channel`, ...) counts as not found: posting again risks a duplicate, not a loss.
    """
    try:
        messages = await _history(slack, write, first_try, thread_ts)
    except SlackApiError as e:
        status = e.response.status_code if e.response is not None else 0
        error = slack_code(e)
        if status == 429 or status >= 500 or error in TRANSIENT_ERRORS:
            raise
        logger.warning(
            "cannot look up a post of unknown outcome message=%s error=%s; sending it again",
            write.message,
            error,
        )
        return None
    for message in messages:
        meta = message.get("metadata") or {}
        payload = meta.get("event_payload") or {}
        if meta.get("event_type") == METADATA_EVENT and payload.get("entry") == write.id:
            merged = tuple(str(i) for i in payload.get("merged") or ())
            return MessageRef(channel=write.channel, ts=str(message["ts"])), merged
    return None


async def _history(
    slack: AsyncWebClient, write: SlackWrite, first_try: float, thread_ts: str | None
) -> list[dict[str, Any]]:
    oldest = f"{max(first_try - LOOKUP_MARGIN_SECONDS, 0):.6f}"
    if thread_ts is None:
        response = await slack.conversations_history(
            channel=write.channel, oldest=oldest, limit=LOOKUP_LIMIT, include_all_metadata=True
        )
    else:
        # `oldest` too: a request's thread can be long (step reports, caused alerts), and only the
        # replies since the first try can be this write.
        response = await slack.conversations_replies(
            channel=write.channel, ts=thread_ts, oldest=oldest, limit=LOOKUP_LIMIT, include_all_metadata=True
        )
    return list(response.get("messages") or [])
