"""The request's Slack message: re-render it in place, and post replies in its thread.

Slack failures here are logged and swallowed on purpose: the request's state in Redis is the truth
and is already written when these run, so a Slack hiccup must not turn a recorded decision into an
error (the next update re-renders the whole message from the record anyway).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import aiohttp
from slack_sdk.errors import SlackApiError

from commands.approval import ApprovalRequest
from commands.approval_blocks import approval_blocks, approval_text

if TYPE_CHECKING:
    from chat.context import BotContext

logger = logging.getLogger(__name__)


async def update_message(ctx: BotContext, request: ApprovalRequest) -> bool:
    """Re-render the approval message for the request's current state (buttons only while pending)."""
    spec = ctx.topology.network(request.network)
    if request.message is None or spec is None:
        return False
    try:
        await ctx.slack.chat_update(
            channel=request.message.channel,
            ts=request.message.ts,
            text=approval_text(request),
            blocks=approval_blocks(request, spec),
        )
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as e:
        logger.warning(
            "approval message update failed network=%s request=%s error=%s",
            request.network,
            request.id,
            type(e).__name__,
        )
        return False
    return True


async def thread_reply(ctx: BotContext, request: ApprovalRequest, text: str) -> bool:
    """One reply in the approval message's thread (votes, steps, outcome)."""
    if request.message is None:
        return False
    try:
        await ctx.slack.chat_postMessage(
            channel=request.message.channel, thread_ts=request.message.ts, text=text
        )
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as e:
        logger.warning(
            "approval thread reply failed network=%s request=%s error=%s",
            request.network,
            request.id,
            type(e).__name__,
        )
        return False
    return True
