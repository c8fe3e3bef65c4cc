"""Procedure runs in Redis: one versioned record per run and an index of the unfinished ones per network.

Every change goes through `apply`: the pure `state.transition` decides and `store.records` writes it
(record, index, audit entry and the runner's lock as a guard in one script; a version conflict
re-reads), so a click and the runner, or two replicas, can never both win one version.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chat.errors import StaleAction
from commands.procedures.state import FINAL_PHASES, Decision, Event, ProcedureRun, Rule, transition
from store.audit import AuditEntry, AuditKind
from store.gateway import Guard, Store
from store.records import Keep, Missing, RecordKind, Write

if TYPE_CHECKING:
    from chat.context import BotContext

logger = logging.getLogger(__name__)

# Transitions worth a line in the audit trail (RPC intents and wait observations are not).
_AUDIT_KIND: dict[Rule, AuditKind] = {
    Rule.STEP_DONE: AuditKind.STEP,
    Rule.STEP_SKIPPED: AuditKind.STEP,
    Rule.CHECKPOINT: AuditKind.STEP,
    Rule.CONTINUED: AuditKind.STEP,
    Rule.PAUSE_REQUESTED: AuditKind.STEP,
    Rule.PAUSED: AuditKind.STEP,
    Rule.RESUMED: AuditKind.STEP,
    Rule.ABORT_REQUESTED: AuditKind.STEP,
    Rule.SUCCEEDED: AuditKind.RESULT,
    Rule.FAILED: AuditKind.RESULT,
    Rule.ABORTED: AuditKind.RESULT,
}


RUNS = RecordKind(
    model=ProcedureRun,
    key=lambda keys, network, run_id: keys.procedure(network, run_id),
    index_key=lambda keys, network: keys.procedures(network),
    record_id=lambda run: run.id,
    network=lambda run: run.network,
    score=lambda run: None if run.phase in FINAL_PHASES else run.created_at,
)


async def load(store: Store, network: str, run_id: str) -> tuple[ProcedureRun, int] | None:
    return await RUNS.load(store, network, run_id)


async def create(store: Store, run: ProcedureRun, guard: Guard | None) -> bool:
    """Store a new run (False if one with this id exists: another replica created it first)."""
    return await RUNS.create(store, run, guard=guard)


async def unfinished(store: Store, network: str) -> list[ProcedureRun]:
    return await RUNS.unfinished(store, network)


def _entry(decision: Decision, actor: str | None, now: float) -> AuditEntry | None:
    run = decision.run
    kind = _AUDIT_KIND.get(decision.rule)
    if run is None or kind is None:
        return None
    step = (
        run.outcomes[-1].index + 1
        if run.outcomes and decision.rule in (Rule.STEP_DONE, Rule.STEP_SKIPPED, Rule.SUCCEEDED)
        else None
    )
    prefix = f"procedure {run.procedure.name}" + (f" step {step}" if step else "")
    return AuditEntry(
        at=now,
        network=run.network,
        kind=kind,
        actor=actor,
        request_id=run.id,
        message=f"{prefix}: {decision.message}"[:2000],
        data={"rule": decision.rule.value, "phase": run.phase, "command": run.procedure.command},
    )


async def apply(
    ctx: BotContext,
    network: str,
    run_id: str,
    event: Event,
    actor: str | None,
    *,
    may_approve: bool = False,
    guard: Guard | None = None,
) -> Decision:
    """Move one run with `event`; refusals write nothing. Raises `LockLost` when `guard` is no longer ours."""

    def decide(run: ProcedureRun) -> Write[ProcedureRun, Decision] | Keep[Decision]:
        now = ctx.clock.now()
        decision = transition(run, event, now, may_approve)
        if decision.run is None:
            return Keep(decision)
        return Write(decision.run, decision, _entry(decision, actor, now))

    try:
        decision = await RUNS.update(ctx.store, network, run_id, decide, guard)
    except Missing:
        raise StaleAction("This procedure no longer exists; nothing was done.") from None
    if decision.run is None:
        logger.info("procedure event refused network=%s run=%s rule=%s", network, run_id, decision.rule.value)
        return decision
    logger.info(
        "procedure transition network=%s run=%s rule=%s phase=%s index=%d",
        network,
        run_id,
        decision.rule.value,
        decision.run.phase,
        decision.run.index,
    )
    return decision
