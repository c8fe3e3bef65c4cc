"""Approval requests in Redis: one versioned record per request, an index of open requests per network.

Every change goes through `apply`: read the record, decide with the pure `commands.approval.transition`,
write it back with `Store.cas` together with the index change and the audit entry (one Lua script), and
on a version conflict re-read and decide again. Two clicks, a Slack retry or two replicas acting on
the same version therefore produce exactly one accepted transition.

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
from store import audit
from store.audit import AuditEntry, AuditKind
from store.gateway import Guard, IndexUpdate, Store

if TYPE_CHECKING:
    from chat.context import BotContext

logger = logging.getLogger(__name__)

# Records outlive their request so a click on an old message can still be explained.
RECORD_TTL_MS = 7 * 24 * 3600 * 1000
# Concurrent writers on one record are a handful of clicks; a bound turns a livelock into an error.
MAX_ATTEMPTS = 50

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


class ConflictLimit(Exception):
    """Raised when a record kept changing under us for `MAX_ATTEMPTS` reads."""


def _key(store: Store, network: str, request_id: str) -> str:
    return store.keys.request(network, request_id)


def index_update(store: Store, request: ApprovalRequest) -> IndexUpdate:
    """Where the request belongs in the open-requests index after a write."""
    key = store.keys.pending(request.network)
    if request.state in FINAL_STATES:
        return IndexUpdate.remove(key, request.id)
    score = request.expires_at if request.state == "pending" else math.inf
    return IndexUpdate.add(key, request.id, score)


async def load(store: Store, network: str, request_id: str) -> tuple[ApprovalRequest, int] | None:
    """The request and its store version, or None when no such record exists (or it aged out)."""
    found = await store.get(_key(store, network, request_id))
    if found is None:
        return None
    return ApprovalRequest.model_validate_json(found.data), found.version


async def create(store: Store, request: ApprovalRequest, entry: AuditEntry) -> bool:
    """Store a new request, index it and audit it in one script; False if the id already exists."""
    return await store.create(
        _key(store, request.network, request.id),
        request.model_dump_json(),
        RECORD_TTL_MS,
        index=index_update(store, request),
        audit=audit.stage(store, entry),
    )


async def open_requests(store: Store, network: str) -> list[ApprovalRequest]:
    """Requests of the network that are pending, approved or executing (oldest expiry first)."""
    found: list[ApprovalRequest] = []
    for request_id in await store.members(store.keys.pending(network)):
        loaded = await load(store, network, request_id)
        if loaded is not None and loaded[0].state not in FINAL_STATES:
            found.append(loaded[0])
    return found


async def attach_message(store: Store, network: str, request_id: str, ref: MessageRef) -> ApprovalRequest:
    """Record where the request's Slack message is (a plain field update, not a state transition)."""
    for _ in range(MAX_ATTEMPTS):
        loaded = await load(store, network, request_id)
        if loaded is None:
            raise StaleAction(f"request `{request_id}` no longer exists")
        request, version = loaded
        updated = request.model_copy(update={"message": ref})
        if await store.cas(
            _key(store, network, request_id), version, updated.model_dump_json(), RECORD_TTL_MS
        ):
            return updated
    raise ConflictLimit(f"request {request_id} kept changing while attaching its message")


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
    store = ctx.store
    for _ in range(MAX_ATTEMPTS):
        loaded = await load(store, network, request_id)
        if loaded is None:
            raise StaleAction(
                "This request no longer exists (it may have been cleaned up); nothing was done."
            )
        request, version = loaded
        now = ctx.clock.now()
        decision = transition(request, event, now, may_approve)
        if decision.request is None:
            logger.info(
                "approval refused network=%s request=%s rule=%s actor=%s",
                network,
                request_id,
                decision.rule.value,
                actor,
            )
            return decision
        entry = _audit_entry(decision, actor, now)
        written = await store.cas(
            _key(store, network, request_id),
            version,
            decision.request.model_dump_json(),
            RECORD_TTL_MS,
            index=index_update(store, decision.request),
            audit=None if entry is None else audit.stage(store, entry),
            guard=guard,
        )
        if written:
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
    raise ConflictLimit(f"request {request_id} kept changing; gave up after {MAX_ATTEMPTS} attempts")
