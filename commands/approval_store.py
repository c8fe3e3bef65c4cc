"""Approval requests in Redis: one versioned record per request, an index of open requests per network.

Every change goes through `apply`: the pure `commands.approval.transition` decides and `store.records`
writes it (record, index, audit entry in one script; a version conflict re-reads and decides again),
so two clicks, a Slack retry or two replicas acting on one version produce one accepted transition.

The `pending` index (`Keys.pending`) holds every request that is not final: pending ones scored by
their expiry (so `Store.due` finds those to expire), approved and executing ones scored `+inf` (never
due, but still counted when a network allows one open operation at a time).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from chat import metrics
from chat.errors import StaleAction
from commands.approval import (
    FINAL_STATES,
    ApprovalRequest,
    Decision,
    Event,
    MessageRef,
    Rule,
    transition,
)
from store.audit import AuditEntry, AuditKind
from store.gateway import Guard, Store
from store.records import Keep, Missing, RecordKind, Write

if TYPE_CHECKING:
    from chat.context import BotContext

logger = logging.getLogger(__name__)

_AUDIT_KIND: dict[Rule, AuditKind] = {
    Rule.APPROVAL_RECORDED: AuditKind.VOTE,
    Rule.APPROVED: AuditKind.APPROVE,
    Rule.REJECTED: AuditKind.REJECT,
    Rule.CANCELLED: AuditKind.CANCEL,
    Rule.EXPIRED: AuditKind.EXPIRE,
    Rule.EXPIRED_ON_VOTE: AuditKind.EXPIRE,
    Rule.EXECUTION_STARTED: AuditKind.EXECUTE,
    Rule.SUCCEEDED: AuditKind.RESULT,
    Rule.FAILED: AuditKind.RESULT,
    Rule.RECONFIRM: AuditKind.REQUEST,
}


def _score(request: ApprovalRequest) -> float | None:
    if request.state in FINAL_STATES:
        return None
    return request.expires_at if request.state == "pending" else math.inf


REQUESTS = RecordKind(
    model=ApprovalRequest,
    key=lambda keys, network, request_id: keys.request(network, request_id),
    index_key=lambda keys, network: keys.pending(network),
    record_id=lambda request: request.id,
    network=lambda request: request.network,
    score=_score,
)


async def load(store: Store, network: str, request_id: str) -> tuple[ApprovalRequest, int] | None:
    """The request and its store version, or None when no such record exists (or it aged out)."""
    return await REQUESTS.load(store, network, request_id)


async def create(store: Store, request: ApprovalRequest, entry: AuditEntry) -> bool:
    """Store a new request, index it and audit it in one script; False if the id already exists."""
    return await REQUESTS.create(store, request, entry)


async def open_requests(store: Store, network: str) -> list[ApprovalRequest]:
    """Requests of the network that are pending, approved or executing (oldest expiry first)."""
    return await REQUESTS.unfinished(store, network)


async def attach_message(store: Store, network: str, request_id: str, ref: MessageRef) -> ApprovalRequest:
    """Record where the request's Slack message is (a plain field update, not a state transition)."""

    def attach(request: ApprovalRequest) -> Write[ApprovalRequest, ApprovalRequest]:
        updated = request.model_copy(update={"message": ref})
        return Write(updated, updated)

    try:
        return await REQUESTS.update(store, network, request_id, attach)
    except Missing:
        raise StaleAction(f"request `{request_id}` no longer exists") from None


def _audit_entry(decision: Decision, actor: str | None, now: float) -> AuditEntry | None:
    request = decision.request
    kind = _AUDIT_KIND.get(decision.rule)
    if request is None or kind is None:
        return None
    return AuditEntry(
        at=now,
        network=request.network,
        kind=kind,
        actor=actor,
        request_id=request.id,
        message=decision.message[:2000],
        data={"rule": decision.rule.value, "state": request.state, "command": request.operation.command},
    )


async def apply(
    ctx: BotContext,
    network: str,
    request_id: str,
    event: Event,
    actor: str | None,
    *,
    may_approve: bool = False,
    guard: Guard | None = None,
) -> Decision:
    """Move one request with `event`; the returned Decision says what happened (refusals write nothing).

    `may_approve`: whether `actor` is an approver of the network (decided by `chat.authz` beforehand).
    `guard`: the executor's lock, so a holder that lost its lock cannot write (raises `LockLost`).
    Raises `StaleAction` when the request does not exist.
    """

    def decide(request: ApprovalRequest) -> Write[ApprovalRequest, Decision] | Keep[Decision]:
        now = ctx.clock.now()
        decision = transition(request, event, now, may_approve)
        if decision.request is None:
            return Keep(decision)
        return Write(decision.request, decision, _audit_entry(decision, actor, now))

    try:
        decision = await REQUESTS.update(ctx.store, network, request_id, decide, guard)
    except Missing:
        raise StaleAction(
            "This request no longer exists (it may have been cleaned up); nothing was done."
        ) from None
    if decision.request is None:
        logger.info(
            "approval refused network=%s request=%s rule=%s actor=%s",
            network,
            request_id,
            decision.rule.value,
            actor,
        )
        return decision
    metrics.REQUESTS.labels(decision.request.state).inc()
    logger.info(
        "approval transition network=%s request=%s rule=%s state=%s actor=%s",
        network,
        request_id,
        decision.rule.value,
        decision.request.state,
        actor,
    )
    return decision
