"""Where a procedure run begins and where an abandoned one is picked up again.

`start` runs after the approval: it claims the request (one CAS winner), creates the run record and
drives it. `resume_unfinished` runs on every replica (the scheduler's sweep, and start-up): a running
procedure whose network lock is free has lost its runner, and one approved or executing without a
record lost its replica before the record existed; both are driven again from Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from commands import approval_store
from commands.approval import StartExecution
from commands.approval_messages import update_message
from commands.executor import BOT_ACTOR
from commands.operations import Procedure
from commands.procedures import records
from commands.procedures.runner import drive, task_name
from commands.procedures.state import ProcedureRun
from store import locks

if TYPE_CHECKING:
    from chat.context import BotContext

logger = logging.getLogger(__name__)


async def start(ctx: BotContext, network: str, request_id: str) -> None:
    """Claim the approved request (one winner), create its run, drive it."""
    decision = await approval_store.apply(ctx, network, request_id, StartExecution(), BOT_ACTOR)
    request = decision.request
    if request is not None:
        await update_message(ctx, request)
    else:
        # Already claimed: by a replica that may have died before creating the run (then we do).
        loaded = await approval_store.load(ctx.store, network, request_id)
        request = loaded[0] if loaded is not None and loaded[0].state == "executing" else None
    if request is None or not isinstance(request.operation, Procedure) or request.message is None:
        logger.info("procedure not claimed network=%s request=%s rule=%s", network, request_id, decision.rule)
        return
    run = ProcedureRun(
        id=request.id,
        network=network,
        procedure=request.operation,
        requester=request.requester,
        approvers=request.approvals,
        channel=request.message.channel,
        created_at=ctx.clock.now(),
    )
    await records.create(ctx.store, run, None)
    await drive(ctx, network, request.id)


async def resume_unfinished(ctx: BotContext, networks: Iterable[str] | None = None) -> int:
    """Drive every running procedure of `networks` (default: all) whose runner is gone (its lock
    free), and start an approved one whose replica died before its run existed; returns how many
    were started."""
    started = 0
    for network in ctx.topology.networks if networks is None else networks:
        if await locks.holder_token(ctx.store, ctx.store.keys.lock(network)) is not None:
            continue
        runs = {run.id: run for run in await records.unfinished(ctx.store, network)}
        for run in runs.values():
            if run.phase == "running" and run.origin == "slack":
                ctx.spawn(drive(ctx, network, run.id), name=task_name(network, run.id))
                started += 1
        for request in await approval_store.open_requests(ctx.store, network):
            orphan = request.state in ("approved", "executing") and request.operation.kind == "procedure"
            if (
                orphan
                and request.id not in runs
                and await records.load(ctx.store, network, request.id) is None
            ):
                ctx.spawn(start(ctx, network, request.id), name=task_name(network, request.id))
                started += 1
    return started
