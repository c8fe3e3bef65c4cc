"""Break-glass procedures from the terminal: the Slack procedure's runner, without its second approver.

    resolve on a fresh snapshot (`procedures.definitions.resolve`, as `/conductor procedure` does)
    → the caller shows the steps and gets the typed confirmation
    → network lock (same key as Slack) → request entry in the audit trail (OS user, host, reason)
    → a run record (`origin="terminal"`) → `runner.drive_held`: every act re-checked by preflight and
      the invariants on a fresh snapshot, intents and completions recorded, outcomes verified
    → at a checkpoint the lock stays held while the operator is asked (`Checkpointer`): yes is the
      Continue click, no is the Abort click, both recorded under the operator's name
    → result entry in the audit trail

The record is the one the Slack runner writes; a bot replica never drives a terminal run (it has no
checklist nor approval request), and a terminal that is interrupted marks its run failed with the
cluster's state and the next manual step, so no run is left for nobody to finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from cluster.poller import poll_network
from commands.executor import LOCK_TTL_MS, RENEW_EVERY
from commands.procedures import records, runner
from commands.procedures.definitions import resolve, steps_of
from commands.procedures.messages import stopped_text
from commands.procedures.report import RunReporter
from commands.procedures.state import FINAL_PHASES, AbortClick, Continue, Failed, ProcedureRun
from commands.procedures.steps import Checkpoint, Resolution
from commands.request import audit_refused, new_request_id
from commands.terminal import Operator, audit_break_glass
from store import locks
from store.audit import AuditKind
from store.gateway import LockLost

if TYPE_CHECKING:
    from chat.context import BotContext
    from cluster.topology import NetworkSpec
    from commands.operations import Procedure
    from store.locks import HeldLock

logger = logging.getLogger(__name__)

# Asked at a checkpoint with its prompt; True continues, False aborts the run there.
Checkpointer = Callable[[ProcedureRun, Checkpoint], Awaitable[bool]]


@dataclass
class ProcedureResult:
    """How it ended; `verdict`: `succeeded`, `failed`, `aborted`, `busy` or `store_lost`."""

    verdict: str
    text: str
    run: ProcedureRun | None = None


async def resolve_procedure(
    ctx: BotContext, spec: NetworkSpec, name: str, args: tuple[str, ...]
) -> Resolution:
    """Which procedure, with its choices made on a fresh snapshot (the same as from Slack)."""
    snapshot = await poll_network(spec, ctx.http, ctx.clock, timeout=ctx.settings.rpc_timeout)
    return resolve(name, spec.name, args, snapshot, spec)


async def execute(
    ctx: BotContext,
    spec: NetworkSpec,
    proc: Procedure,
    who: Operator,
    out: RunReporter,
    checkpoint: Checkpointer,
) -> ProcedureResult:
    """Take the network's lock and run the procedure to its end (or to a declined checkpoint)."""
    run_id = new_request_id()
    try:
        async with locks.hold(ctx.store, ctx.store.keys.lock(spec.name), LOCK_TTL_MS, RENEW_EVERY) as held:
            await _record(ctx, spec, run_id, proc, who, AuditKind.REQUEST, f"break-glass {proc.command}")
            run = ProcedureRun(
                id=run_id,
                network=spec.name,
                procedure=proc,
                requester=who.actor,
                channel="",
                origin="terminal",
                created_at=ctx.clock.now(),
            )
            await records.create(ctx.store, run, held.lock.guard)
            try:
                run = await _drive(ctx, spec, run_id, held, out, checkpoint, who)
            except asyncio.CancelledError:
                await asyncio.shield(_interrupted(ctx, spec, run_id, held, who))
                raise
            verdict = run.phase if run.phase in FINAL_PHASES else "failed"
            text = run.outcome or run.phase
            await _record(ctx, spec, run_id, proc, who, AuditKind.RESULT, text, {"state": verdict})
            return ProcedureResult(verdict=verdict, text=text, run=run)
    except locks.LockBusy:
        return ProcedureResult(
            verdict="busy",
            text=(
                f"another operation holds `{spec.name}`'s lock (a Slack-approved request or another "
                "terminal), so nothing ran; try again after it"
            ),
        )
    except (RedisError, LockLost) as e:
        logger.error("break-glass procedure lost its store network=%s error=%s", spec.name, type(e).__name__)
        return ProcedureResult(
            verdict="store_lost",
            text=(
                f"the store failed ({type(e).__name__}), so no further step ran and the record may be "
                f"incomplete. Check with `conductor-bot status {spec.name}` and "
                f"`conductor-bot audit {spec.name}`."
            ),
        )


async def _drive(
    ctx: BotContext,
    spec: NetworkSpec,
    run_id: str,
    held: HeldLock,
    out: RunReporter,
    checkpoint: Checkpointer,
    who: Operator,
) -> ProcedureRun:
    while True:
        await runner.drive_held(ctx, spec, run_id, held, out)
        run = await _load(ctx, spec, run_id)
        if run.phase != "checkpoint" or held.lost.is_set():
            return run
        step = steps_of(run.procedure, spec)[run.index]
        assert isinstance(step, Checkpoint)
        if await checkpoint(run, step):
            event: Continue | AbortClick = Continue(user=who.actor)
        else:
            snap = await poll_network(spec, ctx.http, ctx.clock, timeout=ctx.settings.rpc_timeout)
            why = f"Declined at the checkpoint before step {run.index + 1} by {who.actor}"
            event = AbortClick(user=who.actor, outcome=stopped_text(run, spec, why, snap))
        decision = await records.apply(ctx, spec.name, run_id, event, who.actor, guard=held.lock.guard)
        if decision.run is None:
            raise LockLost(decision.message)
        if decision.run.phase in FINAL_PHASES:
            await out.ended(decision.run)
            return decision.run


async def _load(ctx: BotContext, spec: NetworkSpec, run_id: str) -> ProcedureRun:
    loaded = await records.load(ctx.store, spec.name, run_id)
    if loaded is None:
        raise LockLost(f"procedure {run_id} vanished")
    return loaded[0]


async def _interrupted(
    ctx: BotContext, spec: NetworkSpec, run_id: str, held: HeldLock, who: Operator
) -> None:
    """Ctrl-C: end the run as failed, saying where it stopped, so no record waits for a driver."""
    try:
        run = await _load(ctx, spec, run_id)
        if run.phase in FINAL_PHASES:
            return
        why = f"Interrupted from the terminal at step {run.index + 1}"
        outcome = stopped_text(run, spec, why, None)
        await records.apply(
            ctx,
            spec.name,
            run_id,
            Failed(detail="interrupted", outcome=outcome),
            who.actor,
            guard=held.lock.guard,
        )
        await _record(ctx, spec, run_id, run.procedure, who, AuditKind.RESULT, outcome, {"state": "failed"})
    except (RedisError, LockLost) as e:
        logger.error("interrupted procedure not recorded network=%s error=%s", spec.name, type(e).__name__)


async def _record(
    ctx: BotContext,
    spec: NetworkSpec,
    run_id: str,
    proc: Procedure,
    who: Operator,
    kind: AuditKind,
    message: str,
    data: dict[str, str] | None = None,
) -> None:
    await audit_break_glass(ctx, spec.name, run_id, proc.command, who, kind, message, data or {})


async def audit_refusal(ctx: BotContext, spec: NetworkSpec, command: str, text: str, who: Operator) -> None:
    """Record that a break-glass procedure could not start (as Slack records its refusals)."""
    data = {"outcome": "refused", "command": command, **who.audit_data()}
    await audit_refused(ctx, spec.name, who.actor, text, data)
