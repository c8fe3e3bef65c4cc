"""Run an approved request exactly once: claim it, lock the network, re-check, run the steps, verify.

    approved ──StartExecution (CAS: one winner)──► executing ──Finish──► succeeded | failed

The claim comes first, so however many clicks or replicas reach this, one proceeds. Then the
per-network lock (`store.locks.hold`: token + TTL, renewed, released only by us) is held for the run
and passed as the guard of the final write, so an executor that lost its lock cannot record over
another's work. Preflight runs again on a fresh snapshot and the approved plan must still be the plan
it gives: approvers approved those exact calls, so if the cluster moved (e.g. a new leader) nothing
runs. If it now finds warnings the approvers did not see, nothing runs either: the request goes back
to pending (`Reconfirm`) with the difference shown. Steps run in order with their own timeouts,
through the typed clients (`commands.steps`); the first failure stops the plan and the outcome says
which steps ran and which did not. Follow-up snapshots verify the step's expectations and that the
chain lives (`commands.outcome`: one leader with quorum, one active sequencer, the head advancing);
the cluster gets a few bounded chances to settle, separated by `settle()` (a sleep of one poll
interval in the bot; tests pass one that advances the simulator's virtual time; all of this is
`commands.verification`). An op-node override the plan set is recorded (`store.marks`), because
op-node cannot report it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import JsonValue
from redis.exceptions import RedisError

from chat.text import escape
from cluster.poller import poll_network
from cluster.rpc import JsonRpcClient, RpcError
from cluster.topology import NetworkSpec
from commands import approval_store, own_operation, steps
from commands.approval import ApprovalRequest, Finish, Reconfirm, StartExecution
from commands.approval_messages import thread_reply, update_message
from commands.checks import new_findings
from commands.operations import StopSequencer
from commands.plans import Plan, RpcStep, StepResult, UnresolvedParamError, resolve_params, tolerated
from commands.preflight import prepare
from commands.progress import Reporter, SlackThread
from commands.verification import (
    ChainCheck,
    Settle,
    outcome_must_live,
    settle_of,
    verified_text,
    verify_outcome,
)
from store import audit, locks, marks
from store.audit import AuditEntry, AuditKind
from store.gateway import Guard, LockLost

if TYPE_CHECKING:
    from chat.context import BotContext

logger = logging.getLogger(__name__)

BOT_ACTOR = "conductor-bot"
# The lock outlives one slow step's timeout only through renewal; a crashed executor frees it soon.
LOCK_TTL_MS = 6_000
RENEW_EVERY = 2.0
DETAIL_LIMIT = 500


@dataclass
class Outcome:
    success: bool
    text: str
    results: list[StepResult] = field(default_factory=list)
    # Set instead of a result when the request goes back to its approvers (nothing ran).
    reconfirm: Reconfirm | None = None


async def execute(
    ctx: BotContext, network: str, request_id: str, *, settle: Settle | None = None
) -> ApprovalRequest | None:
    """Run the approved request; returns it in its final state, or None if another run has it."""
    spec = ctx.topology.network(network)
    if spec is None:
        logger.warning(
            "execution of a request for an unconfigured network network=%s request=%s", network, request_id
        )
        return None
    decision = await approval_store.apply(ctx, network, request_id, StartExecution(), BOT_ACTOR)
    if decision.request is None:
        logger.info("execution not claimed network=%s request=%s rule=%s", network, request_id, decision.rule)
        return None
    request = decision.request
    await update_message(ctx, request)
    outcome = Outcome(success=False, text="")
    try:
        async with locks.hold(ctx.store, ctx.store.keys.lock(network), LOCK_TTL_MS, RENEW_EVERY) as held:
            # Under the lock, so no other operation of the network owns the window meanwhile: from
            # here until shortly after it finishes, the alerts this request causes go to its thread.
            window = own_operation.window_of(request, ctx.clock.now())
            if window is not None:
                await own_operation.open_window(ctx.store, window)
            try:
                outcome = await run_plan(ctx, spec, request, outcome, settle or settle_of(ctx), held.lost)
            except asyncio.CancelledError:
                # Shutdown: record what ran before the lock goes, so the request does not look alive.
                ran = ", ".join(f"{r.index} `{r.method}` on {r.target}" for r in outcome.results) or "none"
                outcome.text = f"interrupted by the bot shutting down; steps that ran: {ran}"
                await asyncio.shield(_finish(ctx, request, outcome, held.lock.guard))
                raise
            finally:
                if window is not None:
                    await asyncio.shield(own_operation.close_window(ctx.store, window, ctx.clock.now()))
            recorded = await _record(ctx, request, _ending(outcome), held.lock.guard)
        # Told only once the lock is free: whoever reads the message or its thread may act at once
        # (approve a reconfirmed request, request the next step) and must not find this run still
        # holding the network's lock.
        if recorded is not None:
            await _tell(ctx, request, recorded, outcome)
        return recorded
    except locks.LockBusy:
        outcome.text = "another operation holds this network's lock, so nothing ran; request it again later"
        return await _finish(ctx, request, outcome, None)
    except (RedisError, LockLost) as e:
        # The record cannot be trusted to reflect what ran; say exactly what we know, once, in Slack.
        logger.error(
            "execution lost its store network=%s request=%s error=%s", network, request_id, type(e).__name__
        )
        await thread_reply(ctx, request, _store_lost_text(request, outcome.results, e))
        return None


async def run(ctx: BotContext, network: str, request_id: str) -> None:
    """`execute` shaped for `ctx.spawn` (background tasks return nothing)."""
    await execute(ctx, network, request_id)


async def _finish(
    ctx: BotContext, request: ApprovalRequest, outcome: Outcome, guard: Guard | None
) -> ApprovalRequest | None:
    """Record how the run ended and tell Slack."""
    recorded = await _record(ctx, request, _ending(outcome), guard)
    if recorded is not None:
        await _tell(ctx, request, recorded, outcome)
    return recorded


def _ending(outcome: Outcome) -> Finish | Reconfirm:
    return outcome.reconfirm or Finish(
        success=outcome.success, outcome=outcome.text, step_results=tuple(outcome.results)
    )


async def _record(
    ctx: BotContext, request: ApprovalRequest, event: Finish | Reconfirm, guard: Guard | None
) -> ApprovalRequest | None:
    """Record `event` on the request under `guard`; None (logged) if refused."""
    decision = await approval_store.apply(ctx, request.network, request.id, event, BOT_ACTOR, guard=guard)
    if decision.request is None:
        logger.warning(
            "%s refused network=%s request=%s rule=%s", event.kind, request.network, request.id, decision.rule
        )
    return decision.request


async def _tell(
    ctx: BotContext, request: ApprovalRequest, recorded: ApprovalRequest, outcome: Outcome
) -> None:
    """Update the request's message and say in its thread how the run ended."""
    await update_message(ctx, recorded)
    if outcome.reconfirm is not None:
        text = reconfirm_text(request, outcome.reconfirm)
    else:
        icon = ":large_green_circle:" if outcome.success else ":red_circle:"
        # The mention tells the requester, who may have left the channel, how their request ended.
        text = f"{icon} <@{recorded.requester}> {escape(outcome.text, keep_user_mentions=True)}"
    await thread_reply(ctx, recorded, text)


def reconfirm_text(request: ApprovalRequest, event: Reconfirm) -> str:
    """What the approvers are told when the request comes back to them."""
    new = new_findings(request.findings, event.findings)
    approvers = ", ".join(f"<@{u}>" for u in request.approvals) or "the approvers"
    lines = [
        f":arrows_counterclockwise: Nothing ran: the cluster changed since {approvers} approved, and "
        "preflight on a fresh snapshot now finds what was not shown then:"
    ]
    lines += [
        f"• {'blocks' if f.level == 'block' else 'new warning'}: {escape(f.message, keep_user_mentions=True)}"
        for f in new
    ]
    lines.append(
        "The request is pending again with the new findings; approve it again only if it is still right."
    )
    return "\n".join(lines)


async def run_plan(
    ctx: BotContext,
    spec: NetworkSpec,
    request: ApprovalRequest,
    outcome: Outcome,
    settle: Settle,
    lock_lost: asyncio.Event,
    reporter: Reporter | None = None,
) -> Outcome:
    """Re-check, run and verify; fills `outcome` as it goes so a crash still knows what ran.
    Progress goes to `reporter` (default: the approval message's Slack thread)."""
    report = reporter or SlackThread(ctx)
    approved = request.plan
    if approved is None:
        outcome.text = "the request has no plan; nothing ran"
        return outcome
    snapshot = await poll_network(spec, ctx.http, ctx.clock, timeout=ctx.settings.rpc_timeout)
    known = await marks.node_overrides(ctx.store, spec.name)
    prepared = prepare(request.operation, snapshot, spec, known)
    if prepared.blocked:
        reasons = "; ".join(f.message for f in prepared.blocking) or "no plan is possible now"
        outcome.text = f"preflight on a fresh snapshot now blocks this: {reasons}. Nothing ran."
        return outcome
    if prepared.plan is None or prepared.plan.steps != approved.steps:
        now = prepared.plan.summary if prepared.plan else "nothing"
        outcome.text = (
            f"the cluster changed since approval: the plan would now be `{now}`, not what was approved. "
            "Nothing ran; request it again."
        )
        return outcome
    if new_findings(request.findings, prepared.findings):
        outcome.reconfirm = Reconfirm(
            findings=prepared.findings,
            plan=prepared.plan,
            expires_at=ctx.clock.now() + spec.request_ttl_seconds,
        )
        return outcome
    total = len(approved.steps)
    await report.rechecked(request, total)
    stored: dict[str, JsonValue] = {}
    for index, step in enumerate(approved.steps, start=1):
        _raise_if_cancelled()
        if lock_lost.is_set():
            outcome.text = _stopped_text(
                approved, outcome.results, index, "the network lock could not be renewed"
            )
            return outcome
        await report.step_started(request, index, step)
        result = await run_step(ctx, spec, step, index, stored)
        outcome.results.append(result)
        await audit.append(ctx.store, spec.name, _step_entry(ctx, request, result))
        await report.step_done(request, result)
        if result.ok and step.method == "admin_overrideLeader":
            await _remember_node_override(ctx, request, step.target)
        if not result.ok:
            outcome.text = _stopped_text(approved, outcome.results, index, "it failed")
            if index > 1 and approved.rollback:
                outcome.text += " " + await roll_back(ctx, spec, request, approved, stored, report)
            return outcome
    # The fresh plan has the same steps; its expectations carry numbers from this snapshot.
    halting = isinstance(request.operation, StopSequencer)
    check = ChainCheck(
        before=snapshot, watch=not halting, must_live=outcome_must_live(snapshot, prepared.plan, known)
    )
    failures = await verify_outcome(ctx, spec, prepared.plan, settle, check)
    await report.verified(request, failures, check.problems)
    outcome.text = verified_text(spec.name, total, failures, check)
    outcome.success = not failures and (not check.problems or not check.must_live)
    return outcome


async def _remember_node_override(ctx: BotContext, request: ApprovalRequest, sequencer: str) -> None:
    mark = marks.NodeOverrideMark(
        sequencer=sequencer,
        request_id=request.id,
        requester=request.requester,
        approvers=request.approvals,
        at=ctx.clock.now(),
    )
    await marks.record_node_override(ctx.store, request.network, mark)


async def roll_back(
    ctx: BotContext,
    spec: NetworkSpec,
    request: ApprovalRequest,
    plan: Plan,
    stored: dict[str, JsonValue],
    reporter: Reporter | None = None,
) -> str:
    """Run the plan's rollback steps after a partial run; returns what they did, for the outcome."""
    done: list[str] = []
    for index, step in enumerate(plan.rollback, start=1):
        result = await run_step(ctx, spec, step, index, stored)
        await audit.append(ctx.store, spec.name, _step_entry(ctx, request, result))
        verdict = "done" if result.ok else f"FAILED ({result.detail})"
        done.append(f"{step.description}: {verdict}")
        await (reporter or SlackThread(ctx)).rolled_back(request, done[-1])
    return "Rollback: " + "; ".join(done) + "."


async def run_step(
    ctx: BotContext, spec: NetworkSpec, step: RpcStep, index: int, stored: dict[str, JsonValue]
) -> StepResult:
    """One RPC call with its own timeout; an error the step tolerates counts as success."""
    seq = spec.sequencer(step.target)
    started = time.monotonic()

    def result(ok: bool, detail: str, *, was_tolerated: bool = False) -> StepResult:
        return StepResult(
            index=index,
            target=step.target,
            method=step.method,
            ok=ok,
            tolerated=was_tolerated,
            detail=detail[:DETAIL_LIMIT],
            seconds=round(time.monotonic() - started, 3),
        )

    if seq is None:
        return result(False, f"{step.target} is not in the topology")
    try:
        params = resolve_params(step, stored)
        value = await steps.call(JsonRpcClient(ctx.http, step.timeout), seq, step, params)
    except UnresolvedParamError as e:
        return result(False, str(e))
    except RpcError as e:
        # The message only: the URL may carry an API key in its path.
        detail = f"{e.kind}: {e.message}"
        return result(tolerated(step, e.message), detail, was_tolerated=tolerated(step, e.message))
    if step.result_key is not None:
        stored[step.result_key] = value
    return result(True, "" if value is None else json.dumps(value))


def _raise_if_cancelled() -> None:
    """Re-raise a cancellation (shutdown) that a library swallowed: redis-py's asyncio client can
    absorb a CancelledError delivered during a command (seen with redis 8.1), leaving the request
    pending on the task; without this the plan would run its next step after being told to stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def step_status(result: StepResult) -> str:
    return "tolerated" if result.tolerated else ("ok" if result.ok else "failed")


def step_entry(
    ctx: BotContext, network: str, request_id: str, message: str, data: dict[str, str]
) -> AuditEntry:
    """The audit line of one call the bot made: a request's step or a procedure's."""
    return AuditEntry(
        at=ctx.clock.now(),
        network=network,
        kind=AuditKind.STEP,
        actor=BOT_ACTOR,
        request_id=request_id,
        message=message,
        data=data,
    )


def _step_entry(ctx: BotContext, request: ApprovalRequest, result: StepResult) -> AuditEntry:
    status = step_status(result)
    message = f"step {result.index} {result.method} on {result.target}: {status}"
    data = {"index": str(result.index), "method": result.method, "target": result.target, "status": status}
    return step_entry(ctx, request.network, request.id, message, data)


def _step_name(plan: Plan, index: int) -> str:
    step = plan.steps[index - 1]
    return f"{index}. `{step.method}` on {step.target}"


def _stopped_text(plan: Plan, results: list[StepResult], index: int, why: str) -> str:
    """Exactly what did and did not happen when the plan stopped at step `index`."""
    ran = [_step_name(plan, r.index) for r in results if r.ok]
    if index <= len(results) and not results[index - 1].ok:
        failed = f"step {_step_name(plan, index)} failed: {results[index - 1].detail}"
        not_run = range(index + 1, len(plan.steps) + 1)
    else:
        failed = f"stopped before step {_step_name(plan, index)} because {why}"
        not_run = range(index, len(plan.steps) + 1)
    skipped = [_step_name(plan, i) for i in not_run]
    return (
        f"{failed}. Ran: {', '.join(ran) or 'none'}. "
        f"Not run: {', '.join(skipped) or 'none'}. The plan stopped there."
    )


def _store_lost_text(request: ApprovalRequest, results: list[StepResult], error: Exception) -> str:
    ran = ", ".join(f"{r.index}. `{r.method}` on {r.target} ({'ok' if r.ok else 'failed'})" for r in results)
    return (
        f":x: Execution of `{request.operation.command}` stopped: the bot lost its store "
        f"({type(error).__name__}), so no further step ran and the request record may still say executing. "
        f"Steps that ran: {ran or 'none'}. Check the cluster with `/conductor status {request.network}`."
    )
