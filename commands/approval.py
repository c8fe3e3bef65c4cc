"""Approval requests and the one function that moves them between states.

    pending ──approve×N──► approved ──start──► executing ──finish──► succeeded | failed
       ▲                                          │
       └──────────── reconfirm (findings changed since approval; nothing ran) ┘
       │ reject ► rejected    │ cancel ► cancelled
       │ cancel ► cancelled
       └ expire (timer, or any vote after expires_at) ► expired

`transition(request, event, now, authz)` is pure: it returns a `Decision` holding the new request
(None when the event is refused), the named rule that decided, and the message for the user. The
store applies a Decision with compare-and-set on `version`, so two clicks or two replicas acting on
the same version cannot both win.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chat.text import utc_time
from cluster.topology import NetworkSpec
from commands.checks import PreflightFinding
from commands.operations import Operation
from commands.plans import Plan, StepResult
from commands.preflight import PreparedOperation

State = Literal["pending", "approved", "executing", "succeeded", "failed", "rejected", "cancelled", "expired"]
FINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "rejected", "cancelled", "expired"})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MessageRef(_Frozen):
    """Where the request's Slack message lives, so every update edits it in place."""

    channel: str
    ts: str


class ApprovalRequest(_Frozen):
    id: str = Field(min_length=1)
    network: str
    operation: Operation
    requester: str
    created_at: float
    expires_at: float
    approvals_required: int = Field(default=1, ge=1)
    approvals: tuple[str, ...] = ()
    rejections: tuple[str, ...] = ()
    cancelled_by: str | None = None
    state: State = "pending"
    message: MessageRef | None = None
    version: int = 0
    plan: Plan | None = None
    plan_summary: str = ""
    findings: tuple[PreflightFinding, ...] = ()
    outcome: str | None = None
    step_results: tuple[StepResult, ...] = ()
    decided_at: float | None = None
    finished_at: float | None = None

    @property
    def forced(self) -> tuple[PreflightFinding, ...]:
        """Blocking findings that `--force` overrode."""
        if not self.operation.force:
            return ()
        return tuple(f for f in self.findings if f.level == "block" and f.forceable)


def open_request(
    request_id: str, prepared: PreparedOperation, requester: str, spec: NetworkSpec, now: float
) -> ApprovalRequest:
    """A new pending request for a prepared operation that preflight did not block."""
    if prepared.blocked or prepared.plan is None:
        raise ValueError("a blocked operation cannot be submitted for approval")
    return ApprovalRequest(
        id=request_id,
        network=spec.name,
        operation=prepared.operation,
        requester=requester,
        created_at=now,
        expires_at=now + spec.request_ttl_seconds,
        approvals_required=spec.approvals_required,
        plan=prepared.plan,
        plan_summary=prepared.plan.summary,
        findings=prepared.findings,
    )


# --- events ----------------------------------------------------------------------------------------


class Approve(_Frozen):
    kind: Literal["approve"] = "approve"
    user: str


class Reject(_Frozen):
    kind: Literal["reject"] = "reject"
    user: str


class Cancel(_Frozen):
    kind: Literal["cancel"] = "cancel"
    user: str


class Expire(_Frozen):
    """The expiry timer fired."""

    kind: Literal["expire"] = "expire"


class StartExecution(_Frozen):
    kind: Literal["start_execution"] = "start_execution"


class Finish(_Frozen):
    kind: Literal["finish"] = "finish"
    success: bool
    outcome: str
    step_results: tuple[StepResult, ...] = ()


class Reconfirm(_Frozen):
    """The execution-time preflight found what the approvers did not see: ask them again, nothing ran."""

    kind: Literal["reconfirm"] = "reconfirm"
    findings: tuple[PreflightFinding, ...]
    plan: Plan
    expires_at: float


Event = Approve | Reject | Cancel | Expire | StartExecution | Finish | Reconfirm


class Rule(StrEnum):
    """The named branch of `transition` that decided; logged and written to the audit stream."""

    APPROVAL_RECORDED = "approval_recorded"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    EXPIRED_ON_VOTE = "expired_on_vote"
    EXECUTION_STARTED = "execution_started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RECONFIRM = "reconfirm_changed_findings"
    SELF_VOTE = "refused_self_vote"
    NOT_APPROVER = "refused_not_approver"
    NOT_ALLOWED_TO_CANCEL = "refused_not_allowed_to_cancel"
    DUPLICATE_VOTE = "refused_duplicate_vote"
    ALREADY_DECIDED = "refused_already_decided"
    NOT_EXPIRED = "refused_not_expired"
    NOT_APPROVED = "refused_not_approved"
    NOT_EXECUTING = "refused_not_executing"


class Decision(_Frozen):
    request: ApprovalRequest | None
    rule: Rule
    message: str

    @property
    def accepted(self) -> bool:
        return self.request is not None


def _mentions(users: tuple[str, ...]) -> str:
    return ", ".join(f"<@{u}>" for u in users)


def _refuse(rule: Rule, message: str) -> Decision:
    return Decision(request=None, rule=rule, message=message)


def _move(request: ApprovalRequest, rule: Rule, message: str, **changes: object) -> Decision:
    new = request.model_copy(update={**changes, "version": request.version + 1})
    return Decision(request=new, rule=rule, message=message)


def already_decided_message(request: ApprovalRequest) -> str:
    """What a user clicking on a request that is no longer pending is told."""
    match request.state:
        case "approved" | "executing" | "succeeded" | "failed":
            suffix = "" if request.state == "approved" else f" ({request.state})"
            return f"already approved by {_mentions(request.approvals)}{suffix}"
        case "rejected":
            return f"already rejected by {_mentions(request.rejections)}"
        case "cancelled":
            return f"already cancelled by <@{request.cancelled_by}>"
        case "expired":
            # No time here: Slack stamps the reply and the audit its entry; the message shows the date.
            return "this request has expired; nothing ran"
        case _:
            return "this request is still pending"


def transition(request: ApprovalRequest, event: Event, now: float, authz: bool) -> Decision:
    """Apply one event. `authz`: whether the acting user may approve on the request's network."""
    # A click after the deadline expires the request first, even if the timer has not fired yet.
    user_event = isinstance(event, Approve | Reject | Cancel)
    if user_event and request.state == "pending" and now >= request.expires_at:
        return _move(
            request,
            Rule.EXPIRED_ON_VOTE,
            "this request has expired; nothing ran",
            state="expired",
            decided_at=now,
        )
    match event:
        case Approve(user=user):
            return _approve(request, user, now, authz)
        case Reject(user=user):
            return _reject(request, user, now, authz)
        case Cancel(user=user):
            return _cancel(request, user, now, authz)
        case Expire():
            return _expire(request, now)
        case StartExecution():
            if request.state != "approved":
                return _refuse(Rule.NOT_APPROVED, f"cannot execute a request that is {request.state}")
            return _move(request, Rule.EXECUTION_STARTED, "executing", state="executing")
        case Reconfirm(findings=findings, plan=plan, expires_at=expires_at):
            if request.state != "executing":
                return _refuse(Rule.NOT_EXECUTING, f"cannot re-confirm a request that is {request.state}")
            return _move(
                request,
                Rule.RECONFIRM,
                "the cluster changed since approval; approve again",
                state="pending",
                approvals=(),
                findings=findings,
                plan=plan,
                plan_summary=plan.summary,
                expires_at=expires_at,
                decided_at=None,
            )
        case Finish(success=success, outcome=outcome, step_results=results):
            if request.state != "executing":
                return _refuse(Rule.NOT_EXECUTING, f"cannot finish a request that is {request.state}")
            rule, state = (Rule.SUCCEEDED, "succeeded") if success else (Rule.FAILED, "failed")
            return _move(
                request, rule, outcome, state=state, outcome=outcome, step_results=results, finished_at=now
            )


def _vote_refusal(request: ApprovalRequest, user: str, authz: bool, verb: str) -> Decision | None:
    if request.state != "pending":
        return _refuse(Rule.ALREADY_DECIDED, already_decided_message(request))
    if user == request.requester:
        return _refuse(Rule.SELF_VOTE, f"you cannot {verb} your own request")
    if not authz:
        return _refuse(Rule.NOT_APPROVER, f"<@{user}> is not an approver for {request.network}")
    if user in request.approvals:
        return _refuse(Rule.DUPLICATE_VOTE, "you have already approved this request")
    return None


def _approve(request: ApprovalRequest, user: str, now: float, authz: bool) -> Decision:
    if (refusal := _vote_refusal(request, user, authz, "approve")) is not None:
        return refusal
    approvals = (*request.approvals, user)
    if len(approvals) >= request.approvals_required:
        return _move(
            request,
            Rule.APPROVED,
            f"approved by {_mentions(approvals)}",
            approvals=approvals,
            state="approved",
            decided_at=now,
        )
    return _move(
        request,
        Rule.APPROVAL_RECORDED,
        f"approval {len(approvals)} of {request.approvals_required} recorded",
        approvals=approvals,
    )


def _reject(request: ApprovalRequest, user: str, now: float, authz: bool) -> Decision:
    if (refusal := _vote_refusal(request, user, authz, "reject")) is not None:
        return refusal
    rejections = (*request.rejections, user)
    return _move(
        request,
        Rule.REJECTED,
        f"rejected by <@{user}>",
        rejections=rejections,
        state="rejected",
        decided_at=now,
    )


def _cancel(request: ApprovalRequest, user: str, now: float, authz: bool) -> Decision:
    if request.state not in ("pending", "approved"):
        return _refuse(Rule.ALREADY_DECIDED, already_decided_message(request))
    if user != request.requester and not authz:
        return _refuse(
            Rule.NOT_ALLOWED_TO_CANCEL,
            f"only the requester <@{request.requester}> or an approver for {request.network} may cancel",
        )
    return _move(
        request,
        Rule.CANCELLED,
        f"cancelled by <@{user}>",
        state="cancelled",
        cancelled_by=user,
        decided_at=now,
    )


def _expire(request: ApprovalRequest, now: float) -> Decision:
    if request.state != "pending":
        return _refuse(Rule.ALREADY_DECIDED, already_decided_message(request))
    if now < request.expires_at:
        return _refuse(Rule.NOT_EXPIRED, f"expires at {utc_time(request.expires_at)}, not yet")
    return _move(
        request,
        Rule.EXPIRED,
        "expired without enough approvals; nothing ran",
        state="expired",
        decided_at=now,
    )
