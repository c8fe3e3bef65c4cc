"""Break-glass execution from the terminal: the Slack path's safety, without its second approver.

    parse (commands.args) → fresh snapshot → preflight (commands.preflight, same --force rules)
        blocked → refusal audited, nothing runs
        ok      → the caller shows plan and findings and gets the typed confirmation
    → network lock (same key as Slack: `store.keys.lock`) → request entry in the audit trail
      (OS user, host, reason) → `commands.executor.run_plan` (re-check, steps, rollback, verification)
    → result entry in the audit trail

The only thing the terminal replaces is the approval: an operator who says why (`reason`) and who
is recorded. Everything after it is the executor's own code, so a break-glass run cannot be less
careful than an approved one. The request is never stored as an `ApprovalRequest`: nobody can vote
on it, and it holds the network only while its lock does.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError
from redis.exceptions import RedisError

from cluster.poller import poll_network
from commands import approval_store
from commands.approval import ApprovalRequest, open_request
from commands.checks import PreflightFinding, new_findings
from commands.executor import LOCK_TTL_MS, RENEW_EVERY, Outcome, run_plan
from commands.preflight import PreparedOperation, prepare
from commands.progress import Reporter
from commands.request import audit_refused, new_request_id, refusal_text
from commands.verification import Settle, settle_of
from store import audit, locks, marks
from store.audit import AuditEntry, AuditKind
from store.gateway import LockLost

if TYPE_CHECKING:
    from chat.context import BotContext
    from cluster.topology import NetworkSpec
    from commands.operations import Operation

logger = logging.getLogger(__name__)

REASON_LIMIT = 500
Verdict = Literal["succeeded", "failed", "blocked", "busy", "changed", "store_lost"]


@dataclass(frozen=True)
class Operator:
    """Who runs a break-glass operation and why; `actor` is how the audit trail names them."""

    user: str
    host: str
    reason: str

    @property
    def actor(self) -> str:
        return f"{self.user}@{self.host} (terminal)"

    def audit_data(self) -> dict[str, str]:
        return {"os_user": self.user, "host": self.host, "reason": self.reason, "break_glass": "true"}

    def problem(self) -> str | None:
        """Why the audit trail would refuse this operator's entries (checked before anything runs)."""
        if len(self.reason) > REASON_LIMIT:
            return f"the reason is {len(self.reason)} characters; keep it under {REASON_LIMIT}"
        try:
            AuditEntry(at=0.0, network="-", kind=AuditKind.REQUEST, message="-", data=self.audit_data())
        except ValidationError:
            return "the reason or user looks like it contains a credential; say why without it"
        return None


@dataclass
class TerminalResult:
    """How a break-glass run ended; `outcome.results` lists the steps that ran."""

    verdict: Verdict
    text: str
    request_id: str | None = None
    outcome: Outcome = field(default_factory=lambda: Outcome(success=False, text=""))


async def preflight(ctx: BotContext, spec: NetworkSpec, operation: Operation) -> PreparedOperation:
    """The plan and findings on a fresh snapshot, exactly as a Slack request gets them."""
    snapshot = await poll_network(spec, ctx.http, ctx.clock, timeout=ctx.settings.rpc_timeout)
    return prepare(operation, snapshot, spec, await marks.node_overrides(ctx.store, spec.name))


async def audit_refusal(
    ctx: BotContext, spec: NetworkSpec, prepared: PreparedOperation, who: Operator
) -> str:
    """Record that preflight blocked a break-glass attempt (as Slack records its refusals)."""
    text = refusal_text(prepared).replace(" was not submitted", " was not run from the terminal")
    data = {"outcome": "refused_by_preflight", "command": prepared.operation.command, **who.audit_data()}
    await audit_refused(ctx, spec.name, who.actor, text, data)
    return text


async def lock_holder(ctx: BotContext, spec: NetworkSpec) -> bool:
    """Whether an operation (from Slack or another terminal) holds the network's lock right now."""
    return await locks.holder_token(ctx.store, ctx.store.keys.lock(spec.name)) is not None


async def open_slack_requests(ctx: BotContext, spec: NetworkSpec) -> list[ApprovalRequest]:
    """Slack requests of the network still pending, approved or executing (shown before confirming)."""
    return await approval_store.open_requests(ctx.store, spec.name)


async def execute(
    ctx: BotContext,
    spec: NetworkSpec,
    prepared: PreparedOperation,
    who: Operator,
    reporter: Reporter,
    *,
    settle: Settle | None = None,
) -> TerminalResult:
    """Take the network's lock and run the confirmed plan through the executor's core."""
    request = open_request(new_request_id(), prepared, who.actor, spec, ctx.clock.now())
    result = TerminalResult(verdict="failed", text="", request_id=request.id)
    try:
        async with locks.hold(ctx.store, ctx.store.keys.lock(spec.name), LOCK_TTL_MS, RENEW_EVERY) as held:
            await _record(
                ctx,
                request,
                who,
                AuditKind.REQUEST,
                f"break-glass {request.operation.command}",
                {
                    "outcome": "executing",
                    "forced": ",".join(f.code for f in request.forced),
                },
            )
            try:
                result.outcome = await run_plan(
                    ctx, spec, request, result.outcome, settle or settle_of(ctx), held.lost, reporter
                )
            except asyncio.CancelledError:
                ran = ", ".join(f"{r.index} `{r.method}` on {r.target}" for r in result.outcome.results)
                result.outcome.text = f"interrupted from the terminal; steps that ran: {ran or 'none'}"
                await asyncio.shield(_finish(ctx, request, who, result))
                raise
            _judge(request, result)
            await _finish(ctx, request, who, result)
            return result
    except locks.LockBusy:
        result.verdict = "busy"
        result.text = (
            f"another operation holds `{spec.name}`'s lock (a Slack-approved request or another terminal), "
            "so nothing ran; try again after it"
        )
        return result
    except (RedisError, LockLost) as e:
        logger.error("break-glass run lost its store network=%s error=%s", spec.name, type(e).__name__)
        ran = ", ".join(f"{r.index} {r.method} on {r.target}" for r in result.outcome.results)
        result.verdict = "store_lost"
        result.text = (
            f"the store failed ({type(e).__name__}), so no further step ran and the audit trail may be "
            f"incomplete. Steps that ran: {ran or 'none'}. Check with `conductor-bot status {spec.name}`."
        )
        return result


def _judge(request: ApprovalRequest, result: TerminalResult) -> None:
    outcome = result.outcome
    if outcome.reconfirm is not None:
        new = new_findings(request.findings, outcome.reconfirm.findings)
        result.verdict = "changed"
        outcome.text = (
            "the cluster changed since you confirmed and preflight now finds what you were not shown: "
            + "; ".join(f.message for f in new)
            + ". Nothing ran; look again and run it again only if it is still right."
        )
    elif outcome.success:
        result.verdict = "succeeded"
    elif not outcome.results:
        result.verdict = "changed"
    result.text = outcome.text


async def _finish(ctx: BotContext, request: ApprovalRequest, who: Operator, result: TerminalResult) -> None:
    outcome = result.outcome
    state = "succeeded" if outcome.success else "failed"
    await _record(
        ctx,
        request,
        who,
        AuditKind.RESULT,
        outcome.text or state,
        {
            "state": state,
            "steps": ",".join(f"{r.index}:{'ok' if r.ok else 'failed'}" for r in outcome.results),
        },
    )


async def _record(
    ctx: BotContext,
    request: ApprovalRequest,
    who: Operator,
    kind: AuditKind,
    message: str,
    data: dict[str, str],
) -> None:
    await audit_break_glass(
        ctx, request.network, request.id, request.operation.command, who, kind, message, data
    )


async def audit_break_glass(
    ctx: BotContext,
    network: str,
    request_id: str,
    command: str,
    who: Operator,
    kind: AuditKind,
    message: str,
    data: dict[str, str],
) -> None:
    """An audit line of a break-glass run from the terminal: the command, who ran it, where and why."""
    entry = AuditEntry(
        at=ctx.clock.now(),
        network=network,
        kind=kind,
        actor=who.actor,
        request_id=request_id,
        message=message[:2000],
        data={"command": command, **who.audit_data(), **data},
    )
    await audit.append(ctx.store, network, entry)


def shown_findings(prepared: PreparedOperation) -> list[tuple[str, PreflightFinding]]:
    """Findings with the word the terminal shows for each: blocks, overridden (by --force) or warning."""
    blocking = set(prepared.blocking)
    shown: list[tuple[str, PreflightFinding]] = []
    for f in prepared.findings:
        if f.level == "block":
            shown.append(("blocks" if f in blocking else "overridden by --force", f))
        elif f.level == "warn":
            shown.append(("warning", f))
    return shown
