"""The operation window: what the bot itself is doing to a network, so its own work is not paged as news.

While an approved request executes, `commands.executor.execute` keeps ONE record per network
(`Keys.operation_window`): the request (id, command, requester, where its message is), when it
started, when it finished, and the conditions its plan is expected to cause (`expected_conditions`).
The watcher (`alerts.own_ops`) reads it on a tick that would post an alert, and an alert whose
condition began inside the window and is one of the expected ones goes into the request's thread,
annotated with the request, instead of a new top-level post. Anything else (a node that becomes
unreachable during a pause) alerts as usual: only what the approvers approved is expected.

One record per network is enough: a network runs one operation at a time (its lock). The record is
written by the executor holding that lock, so a plain SET is safe; it expires by itself
(`OPEN_TTL_MS` while running, so an executor that died does not leave it open for long; then
`CLOSED_TTL_MS`, long enough for the alerts that fire late). A procedure's runner does the same for
each act it runs (`act_window`), so the act's alerts go to the checklist's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError
from redis.exceptions import RedisError

from cluster import health as h
from commands.operations import (
    AddNonvoter,
    AddVoter,
    Operation,
    OverrideLeader,
    Pause,
    RemoveServer,
    Resume,
    StartSequencer,
    StopSequencer,
    TransferLeader,
)
from store.gateway import Store

if TYPE_CHECKING:
    from commands.approval import ApprovalRequest
    from commands.procedures.state import ProcedureRun

logger = logging.getLogger(__name__)

# Longer than any execution (steps with their timeouts, then verification): an executor that died
# mid-run stops claiming alerts after this.
OPEN_TTL_MS = 30 * 60 * 1000
# Once finished the record only needs to outlive the late alerts (`alerts.own_ops.SETTLE_SECONDS`
# after the end, plus a rule's `for`); a few minutes covers every rule of the catalogue.
CLOSED_TTL_MS = 10 * 60 * 1000


class ExpectedCondition(BaseModel):
    """A health condition the operation causes: on `subject`, or on any subject when None."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    condition: str
    subject: str | None = None

    def matches(self, condition: str, subject: str) -> bool:
        return condition == self.condition and (self.subject is None or self.subject == subject)


class OperationWindow(BaseModel):
    """The request running on a network (or finished at `finished_at`) and what it is expected to cause."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str
    network: str
    command: str
    requester: str
    channel: str
    ts: str
    started_at: float
    finished_at: float | None = None
    expected: tuple[ExpectedCondition, ...] = ()

    def expects(self, condition: str, subject: str) -> bool:
        return any(e.matches(condition, subject) for e in self.expected)


def expected_conditions(operation: Operation) -> tuple[ExpectedCondition, ...]:
    """The conditions an operation causes by design, as the runbook describes its effect.

    Deliberately narrow: a condition listed here is reported in the request's thread, so listing a
    dangerous one (two leaders, two active sequencers, a node that stops answering) would hide it.
    """
    e = ExpectedCondition
    match operation:
        case Pause():
            # Paused conductors are the point of a pause; one named sequencer, or all of them.
            return (e(condition=h.CONDUCTOR_INACTIVE, subject=operation.sequencer),)
        case Resume():
            # A resumed conductor may take leadership back (it was the healthiest when paused).
            return (e(condition=h.LEADER_CHANGED),)
        case TransferLeader():
            return (e(condition=h.LEADER_CHANGED),)
        case OverrideLeader() if not operation.clear:
            return (
                e(condition=h.LEADER_OVERRIDDEN, subject=operation.sequencer),
                e(condition=h.LEADER_CHANGED),
            )
        case AddVoter() | AddNonvoter():
            # Membership differs from the topology file until it is updated to match.
            return (e(condition=h.MEMBERSHIP_DRIFT),)
        case RemoveServer():
            return (e(condition=h.MEMBERSHIP_DRIFT), e(condition=h.LEADER_CHANGED))
        case StopSequencer():
            # Halting the chain is what stop-sequencer is for; and once the unsafe head stops, every
            # conductor's health check fails (it checks that the head advances).
            return (e(condition=h.NO_ACTIVE), e(condition=h.CHAIN_STALLED), e(condition=h.NODE_UNHEALTHY))
        case StartSequencer():
            # The force-active hand-over stops the old sequencer before starting the new one.
            return (e(condition=h.NO_ACTIVE), e(condition=h.LEADER_CHANGED))
    return ()


def window_of(request: ApprovalRequest, now: float) -> OperationWindow | None:
    """The window for a request about to run; None when it has no Slack message to thread under."""
    if request.message is None:
        return None
    return OperationWindow(
        request_id=request.id,
        network=request.network,
        command=request.operation.command,
        requester=request.requester,
        channel=request.message.channel,
        ts=request.message.ts,
        started_at=now,
        expected=expected_conditions(request.operation),
    )


def act_window(run: ProcedureRun, acts: Sequence[Operation], now: float) -> OperationWindow | None:
    """The window while one of a procedure run's acts runs: what the procedure causes goes to its
    checklist's thread. It spans the run (from its start) and expects what any of its `acts`
    causes, since an earlier act's alert may fire while a later one runs. None for a run without a
    checklist (the terminal's)."""
    if run.message is None:
        return None
    expected = dict.fromkeys(e for op in acts for e in expected_conditions(op))
    return OperationWindow(
        request_id=run.id,
        network=run.network,
        command=run.procedure.command,
        requester=run.requester,
        channel=run.message.channel,
        ts=run.message.ts,
        started_at=min(run.created_at, now),
        expected=tuple(expected),
    )


async def open_window(store: Store, window: OperationWindow) -> None:
    """Best effort: without the record, the operation's alerts are posted as ordinary alerts."""
    await _write(store, window, OPEN_TTL_MS, "recorded")


async def close_window(store: Store, window: OperationWindow, now: float) -> None:
    await _write(store, window.model_copy(update={"finished_at": now}), CLOSED_TTL_MS, "closed")


async def _write(store: Store, window: OperationWindow, ttl_ms: int, what: str) -> None:
    try:
        await store.write_text(store.keys.operation_window(window.network), window.model_dump_json(), ttl_ms)
    except RedisError as e:
        logger.warning(
            "operation window not %s network=%s request=%s error=%s",
            what,
            window.network,
            window.request_id,
            type(e).__name__,
        )


async def read_window(store: Store, network: str) -> OperationWindow | None:
    raw = await store.read_text(store.keys.operation_window(network))
    if raw is None:
        return None
    try:
        return OperationWindow.model_validate_json(raw)
    except ValidationError:
        logger.warning("unreadable operation window ignored network=%s", network)
        return None
