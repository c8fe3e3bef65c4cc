"""The request timers: pending requests past their deadline become `expired`, and requests orphaned
by a bot that died mid-way (approved or executing, with nobody holding the network's lock) become
`failed` with a message saying so, so they neither block the network forever nor look alive.

Safe to run on every replica at once: each change is the same CAS transition a click would make, so
only one replica's write wins and only the winner updates Slack.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from chat.errors import StaleAction
from commands import approval_store
from commands.approval import Decision, Expire, Finish, StartExecution
from commands.approval_messages import thread_reply, update_message
from store.locks import holder_token

if TYPE_CHECKING:
    from chat.context import BotContext

logger = logging.getLogger(__name__)

# Bounds one sweep's work; anything left is picked up by the next tick.
SWEEP_LIMIT = 100
# An executor claims a request and takes the network's lock a moment later, then holds it (renewed)
# until the outcome is recorded; a dead executor's lock expires within its short TTL
# (`commands.executor.LOCK_TTL_MS`). So an approved/executing request with the lock free for longer
# than this claim-to-lock gap is orphaned: detection takes seconds, not minutes.
ORPHAN_GRACE_SECONDS = 5.0
INTERRUPTED = (
    "interrupted: the bot stopped while this request was {state}. Steps that ran (if any) are in this "
    "thread and in `/conductor audit`; check `/conductor status` before requesting it again."
)


async def _announce(ctx: BotContext, decision: Decision, reply: str) -> int:
    """Show a transition this replica won on the request message and in its thread; 1 if it did."""
    if decision.request is None:
        return 0
    await update_message(ctx, decision.request)
    await thread_reply(ctx, decision.request, reply)
    return 1


async def open_networks(ctx: BotContext) -> list[str]:
    """The networks with an unfinished request or procedure run, in one round trip: most networks
    have none, and five reads per network every sweep were ~10 % of a replica's CPU at 200 networks."""
    networks = list(ctx.topology.networks)
    keys = ctx.store.keys
    found = await ctx.store.nonempty([k for n in networks for k in (keys.pending(n), keys.procedures(n))])
    return [n for i, n in enumerate(networks) if found[2 * i] or found[2 * i + 1]]


async def sweep_expired(ctx: BotContext, networks: Iterable[str] | None = None) -> int:
    """Expire every due pending request of `networks` (default: all); returns how many this call
    expired."""
    now = ctx.clock.now()
    expired = 0
    for network in ctx.topology.networks if networks is None else networks:
        for request_id in await ctx.store.due(ctx.store.keys.pending(network), now, limit=SWEEP_LIMIT):
            try:
                decision = await approval_store.apply(ctx, network, request_id, Expire(), None)
            except StaleAction:
                # The record aged out but its index entry stayed; drop the entry so it stops coming due.
                await ctx.store.forget(ctx.store.keys.pending(network), request_id)
                continue
            expired += await _announce(ctx, decision, f":alarm_clock: {decision.message}")
    if expired:
        logger.info("expired requests count=%d", expired)
    return expired


async def sweep_orphaned(ctx: BotContext, networks: Iterable[str] | None = None) -> int:
    """Fail approved/executing requests of `networks` (default: all) whose executor is gone; returns
    how many this call failed."""
    now = ctx.clock.now()
    failed = 0
    for network in ctx.topology.networks if networks is None else networks:
        orphans = [
            r
            for r in await approval_store.open_requests(ctx.store, network)
            if r.state in ("approved", "executing")
            # A procedure parks (checkpoint, pause) without holding the lock; `procedures.runner` resumes it.
            and r.operation.kind != "procedure"
            and now - (r.decided_at or r.created_at) > ORPHAN_GRACE_SECONDS
        ]
        if not orphans or await holder_token(ctx.store, ctx.store.keys.lock(network)) is not None:
            continue
        for request in orphans:
            if request.state == "approved":
                await approval_store.apply(ctx, network, request.id, StartExecution(), None)
            outcome = INTERRUPTED.format(state=request.state)
            decision = await approval_store.apply(
                ctx, network, request.id, Finish(success=False, outcome=outcome), None
            )
            failed += await _announce(ctx, decision, f":warning: {outcome}")
    if failed:
        logger.warning("orphaned requests failed count=%d", failed)
    return failed
