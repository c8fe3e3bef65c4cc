"""The expiry sweep: pending requests past their deadline become `expired`, message updated in place.

Safe to run on every replica at once: each expiry is the same CAS transition a click would make, so
only one replica's write wins and only the winner updates Slack.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.errors import StaleAction
from commands import approval_store
from commands.approval import Expire
from commands.approval_messages import thread_reply, update_message

if TYPE_CHECKING:
    from bot.context import BotContext

logger = logging.getLogger(__name__)

# Bounds one sweep's work; anything left is picked up by the next tick.
SWEEP_LIMIT = 100


async def sweep_expired(ctx: BotContext) -> int:
    """Expire every due pending request of every network; returns how many this call expired."""
    now = ctx.clock.now()
    expired = 0
    for network in ctx.topology.networks:
        for request_id in await ctx.store.due(ctx.store.keys.pending(network), now, limit=SWEEP_LIMIT):
            try:
                decision = await approval_store.apply(ctx, network, request_id, Expire(), None)
            except StaleAction:
                # The record aged out but its index entry stayed; drop the entry so it stops coming due.
                await ctx.store.redis.zrem(ctx.store.keys.pending(network), request_id)
                continue
            if decision.request is None:
                continue
            expired += 1
            await update_message(ctx, decision.request)
            await thread_reply(ctx, decision.request, f":alarm_clock: {decision.message}")
    if expired:
        logger.info("expired requests count=%d", expired)
    return expired
