"""The approval state machine: one story, then each rule on its own."""

from __future__ import annotations

import pytest

from cluster.clock import ManualClock
from commands.approval import (
    ApprovalRequest,
    Approve,
    Cancel,
    Decision,
    Event,
    Expire,
    Finish,
    Reject,
    Rule,
    StartExecution,
    open_request,
    transition,
)
from commands.operations import Pause, StopSequencer
from commands.plans import StepResult
from commands.preflight import prepare
from tests.commands.test_preflight import NET, SPEC, cluster

REQUESTER, ALICE, BOB, MALLORY = "UREQUESTER", "UAPPROVER1", "UAPPROVER2", "UMALLORY"
APPROVERS = set(SPEC.approvers)


def new_request(clock: ManualClock, required: int = 1) -> ApprovalRequest:
    spec = SPEC.model_copy(update={"approvals_required": required})
    prepared = prepare(Pause(network=NET, sequencer="seq-2"), cluster(), spec)
    return open_request("req-1", prepared, REQUESTER, spec, clock.now())


def act(request: ApprovalRequest, event: Event, clock: ManualClock) -> Decision:
    user = getattr(event, "user", None)
    return transition(request, event, clock.now(), authz=user in APPROVERS)


def test_story_request_approve_execute_succeed() -> None:
    clock = ManualClock()
    req = new_request(clock)
    assert (req.state, req.version, req.expires_at) == ("pending", 0, clock.now() + 900)
    assert req.plan_summary == "pause the conductor of seq-2"

    clock.advance(30)
    d = act(req, Approve(user=ALICE), clock)
    assert d.request is not None and d.rule is Rule.APPROVED
    assert d.message == "approved by <@UAPPROVER1>"
    req = d.request
    assert (req.state, req.approvals, req.version, req.decided_at) == ("approved", (ALICE,), 1, clock.now())

    late = act(req, Approve(user=BOB), clock)
    assert not late.accepted and late.message == "already approved by <@UAPPROVER1>"

    started = act(req, StartExecution(), clock)
    assert started.request is not None and started.request.state == "executing"
    # A second executor (another replica, a retried click) cannot start it again.
    assert not act(started.request, StartExecution(), clock).accepted

    result = StepResult(index=1, target="seq-2", method="conductor_pause", ok=True)
    done = act(started.request, Finish(success=True, outcome="seq-2 paused", step_results=(result,)), clock)
    assert done.request is not None
    assert (done.request.state, done.request.outcome, done.request.version) == (
        "succeeded",
        "seq-2 paused",
        3,
    )
    assert done.request.step_results == (result,)
    assert (
        act(done.request, Cancel(user=REQUESTER), clock).message
        == "already approved by <@UAPPROVER1> (succeeded)"
    )


def test_requester_can_never_vote_on_own_request_even_as_approver() -> None:
    clock = ManualClock()
    req = new_request(clock).model_copy(update={"requester": ALICE})
    for event in (Approve(user=ALICE), Reject(user=ALICE)):
        d = act(req, event, clock)
        assert not d.accepted and d.rule is Rule.SELF_VOTE
    assert act(req, Approve(user=ALICE), clock).message == "you cannot approve your own request"


def test_only_approvers_may_vote() -> None:
    clock = ManualClock()
    d = act(new_request(clock), Approve(user=MALLORY), clock)
    assert not d.accepted and d.rule is Rule.NOT_APPROVER
    assert d.message == "<@UMALLORY> is not an approver for op-test"
    assert not act(new_request(clock), Reject(user=MALLORY), clock).accepted


def test_n_of_m_needs_distinct_approvers() -> None:
    clock = ManualClock()
    req = new_request(clock, required=2)
    first = act(req, Approve(user=ALICE), clock)
    assert first.request is not None and first.request.state == "pending"
    assert first.message == "approval 1 of 2 recorded"
    again = act(first.request, Approve(user=ALICE), clock)
    assert not again.accepted and again.rule is Rule.DUPLICATE_VOTE
    second = act(first.request, Approve(user=BOB), clock)
    assert second.request is not None and second.request.state == "approved"
    assert second.message == "approved by <@UAPPROVER1>, <@UAPPROVER2>"


def test_one_rejection_ends_the_request() -> None:
    clock = ManualClock()
    d = act(new_request(clock, required=2), Reject(user=BOB), clock)
    assert d.request is not None and d.request.state == "rejected" and d.request.rejections == (BOB,)
    assert act(d.request, Approve(user=ALICE), clock).message == "already rejected by <@UAPPROVER2>"
    assert not act(d.request, StartExecution(), clock).accepted


@pytest.mark.parametrize("user", [REQUESTER, ALICE])
def test_requester_or_approver_may_cancel(user: str) -> None:
    clock = ManualClock()
    d = act(new_request(clock), Cancel(user=user), clock)
    assert d.request is not None and d.request.state == "cancelled" and d.request.cancelled_by == user
    assert act(d.request, Approve(user=BOB), clock).message == f"already cancelled by <@{user}>"


def test_others_may_not_cancel_and_running_requests_cannot_be_cancelled() -> None:
    clock = ManualClock()
    d = act(new_request(clock), Cancel(user=MALLORY), clock)
    assert not d.accepted and d.rule is Rule.NOT_ALLOWED_TO_CANCEL
    assert "only the requester <@UREQUESTER> or an approver" in d.message
    approved = act(new_request(clock), Approve(user=ALICE), clock).request
    assert approved is not None
    assert act(approved, Cancel(user=REQUESTER), clock).request is not None  # not started yet: allowed
    executing = act(approved, StartExecution(), clock).request
    assert executing is not None
    assert not act(executing, Cancel(user=REQUESTER), clock).accepted


def test_timer_expires_only_after_the_deadline() -> None:
    clock = ManualClock()
    req = new_request(clock)
    clock.advance(899)
    early = act(req, Expire(), clock)
    assert not early.accepted and early.rule is Rule.NOT_EXPIRED
    clock.advance(1)
    d = act(req, Expire(), clock)
    assert d.request is not None and d.request.state == "expired" and d.rule is Rule.EXPIRED
    assert act(d.request, Approve(user=ALICE), clock).message == "this request has expired; nothing ran"


def test_a_vote_after_the_deadline_expires_the_request_first() -> None:
    clock = ManualClock()
    req = new_request(clock)
    clock.advance(901)
    d = act(req, Approve(user=ALICE), clock)
    assert d.rule is Rule.EXPIRED_ON_VOTE
    assert d.request is not None and d.request.state == "expired" and d.request.approvals == ()
    assert "expired" in d.message


def test_failure_is_recorded_with_outcome() -> None:
    clock = ManualClock()
    req = new_request(clock)
    executing = act(act(req, Approve(user=ALICE), clock).request or req, StartExecution(), clock).request
    assert executing is not None
    d = act(executing, Finish(success=False, outcome="conductor_pause timed out"), clock)
    assert d.request is not None and d.request.state == "failed" and d.rule is Rule.FAILED
    assert not act(req, Finish(success=True, outcome="x"), clock).accepted  # pending: nothing to finish


def test_blocked_operations_cannot_be_submitted() -> None:
    prepared = prepare(
        StopSequencer(network=NET, sequencer="seq-1"), cluster(seq_1={"errors": (), "paused": True}), SPEC
    )
    assert not prepared.blocked
    blocked = prepare(Pause(network=NET, sequencer="seq-2"), cluster(seq_2={"stopped": True}), SPEC)
    assert blocked.blocked
    with pytest.raises(ValueError, match="blocked"):
        open_request("r", blocked, REQUESTER, SPEC, 0.0)


def test_request_round_trips_through_json() -> None:
    req = new_request(ManualClock())
    assert ApprovalRequest.model_validate_json(req.model_dump_json()) == req
