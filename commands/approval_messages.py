"""The request's Slack message: re-render it in place, and post replies in its thread.

Both go through the network's Slack outbox (`store.outbox`, delivered by `chat.delivery`), like the
alerts: each write is queued with its content rendered from the request as it is now, then the
outbox is flushed. A Slack failure (429, 5xx, timeout, refused connection) leaves the write queued
and the next flush (the next watcher tick of any replica, or the next write) delivers it, in order,
so a recorded outcome always reaches the message eventually. The request's state in Redis is the
truth and is already written when these run, so nothing here raises into the caller.

With Redis itself unreachable nothing can be queued; the write is then tried once straight on Slack
(best effort: that is how a "lost its store" notice still reaches the thread).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import aiohttp
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError

from chat.delivery import Deliverer
from chat.lookup import slack_code
from commands.approval import ApprovalRequest
from commands.approval_blocks import approval_blocks, approval_text
from store.outbox import SlackWrite

if TYPE_CHECKING:
    from chat.context import BotContext

logger = logging.getLogger(__name__)


def message_key(request: ApprovalRequest) -> str:
    return f"request:{request.id}"


async def update_message(ctx: BotContext, request: ApprovalRequest) -> bool:
    """Re-render the approval message for the request's current state (buttons only while pending).

    True when the update is queued (or delivered); False when the request has no message to edit."""
    spec = ctx.topology.network(request.network)
    if request.message is None or spec is None:
        return False
    write = SlackWrite(
        message=message_key(request),
        op="update",
        channel=request.message.channel,
        ts=request.message.ts,
        text=approval_text(request),
        blocks=approval_blocks(request, spec),
        label=f"approval_{request.state}",
        queued_at=ctx.clock.now(),
    )
    return await send(ctx, request.network, write)


async def thread_reply(ctx: BotContext, request: ApprovalRequest, text: str) -> bool:
    """One reply in the approval message's thread (votes, steps, outcome)."""
    if request.message is None:
        return False
    write = SlackWrite(
        message=message_key(request),
        op="reply",
        channel=request.message.channel,
        ts=request.message.ts,
        text=text,
        label="approval_reply",
        queued_at=ctx.clock.now(),
    )
    return await send(ctx, request.network, write)


async def send(ctx: BotContext, network: str, write: SlackWrite) -> bool:
    """Queue one write of a message posted outside the outbox (`write.ts` set) and flush the network.

    Shared by approval and procedure messages; never raises for Slack or Redis trouble."""
    deliverer = Deliverer(ctx)
    try:
        await deliverer.outbox.enqueue(network, [write])
    except RedisError as e:
        logger.warning(
            "message write not queued network=%s message=%s error=%s; trying Slack directly",
            network,
            write.message,
            type(e).__name__,
        )
        return await _direct(ctx, network, write)
    try:
        await deliverer.flush(network)
    except RedisError as e:
        # Queued: whoever flushes the network next delivers it.
        logger.warning(
            "outbox flush failed network=%s message=%s error=%s", network, write.message, type(e).__name__
        )
    return True


async def _direct(ctx: BotContext, network: str, write: SlackWrite) -> bool:
    assert write.ts is not None
    try:
        if write.op == "update":
            await ctx.slack.chat_update(
                channel=write.channel, ts=write.ts, text=write.text, blocks=write.blocks
            )
        else:
            await ctx.slack.chat_postMessage(channel=write.channel, thread_ts=write.ts, text=write.text)
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as e:
        error = slack_code(e) if isinstance(e, SlackApiError) else type(e).__name__
        logger.warning("message write failed network=%s message=%s error=%s", network, write.message, error)
        return False
    return True
