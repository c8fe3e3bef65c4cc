"""Procedure runs in Redis: one versioned record per run and an index of the unfinished ones per network.

Every change goes through `apply`: read, decide with the pure `state.transition`, write back with
`Store.cas` (one Lua script: record, index, audit entry, and the runner's lock as a guard), re-read on
a version conflict. A click and the runner, or two replicas, can therefore never both win one version.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chat.errors import StaleAction
from commands.procedures.state import FINAL_PHASES, Decision, Event, ProcedureRun, Rule, transition
from store import audit
from store.audit import AuditEntry, AuditKind
from store.gateway import Guard, IndexUpdate, Store

if TYPE_CHECKING:
    from chat.context import BotContext

logger = logging.getLogger(__name__)

RECORD_TTL_MS = 7 * 24 * 3600 * 1000
MAX_ATTEMPTS = 50

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


def _key(store: Store, network: str, run_id: str) -> str:
    return store.keys.procedure(network, run_id)


def _index(store: Store, run: ProcedureRun) -> IndexUpdate:
    key = store.keys.procedures(run.network)
    if run.phase in FINAL_PHASES:
        return IndexUpdate.remove(key, run.id)
    return IndexUpdate.add(key, run.id, run.created_at)


async def load(store: Store, network: str, run_id: str) -> tuple[ProcedureRun, int] | None:
    found = await store.get(_key(store, network, run_id))
    if found is None:
        return None
    return ProcedureRun.model_validate_json(found.data), found.version


async def create(store: Store, run: ProcedureRun, guard: Guard | None) -> bool:
    """Store a new run (False if one with this id exists: another replica created it first)."""
    return await store.create(
        _key(store, run.network, run.id),
        run.model_dump_json(),
        RECORD_TTL_MS,
        index=_index(store, run),
        guard=guard,
    )


async def unfinished(store: Store, network: str) -> list[ProcedureRun]:
    found: list[ProcedureRun] = []
    for run_id in await store.members(store.keys.procedures(network)):
        loaded = await load(store, network, run_id)
        if loaded is not None and loaded[0].phase not in FINAL_PHASES:
            found.append(loaded[0])
    return found


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
    store = ctx.store
    for _ in range(MAX_ATTEMPTS):
        loaded = await load(store, network, run_id)
        if loaded is None:
            raise StaleAction("This procedure no longer exists; nothing was done.")
        run, version = loaded
        now = ctx.clock.now()
        decision = transition(run, event, now, may_approve)
        if decision.run is None:
            logger.info(
                "procedure event refused network=%s run=%s rule=%s", network, run_id, decision.rule.value
            )
            return decision
        entry = _entry(decision, actor, now)
        if await store.cas(
            _key(store, network, run_id),
            version,
            decision.run.model_dump_json(),
            RECORD_TTL_MS,
            index=_index(store, decision.run),
            audit=None if entry is None else audit.stage(store, entry),
            guard=guard,
        ):
            logger.info(
                "procedure transition network=%s run=%s rule=%s phase=%s index=%d",
                network,
                run_id,
                decision.rule.value,
                decision.run.phase,
                decision.run.index,
            )
            return decision
    raise RuntimeError(f"procedure {run_id} kept changing; gave up after {MAX_ATTEMPTS} attempts")
