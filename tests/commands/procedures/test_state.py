"""The procedure state machine: one story from request to success, and each refusal and ending."""

from __future__ import annotations

from commands.operations import Procedure
from commands.plans import Plan, RpcStep
from commands.procedures.state import (
    AbortClick,
    ActStarted,
    CheckpointReached,
    Continue,
    Event,
    Failed,
    Park,
    PauseClick,
    ProcedureRun,
    ResumeClick,
    RpcDone,
    RpcIntent,
    Rule,
    StepFinished,
    WaitObserved,
    transition,
)

REQ, APPR, STRANGER = "U_REQ", "U_APPR", "U_X"
PLAN = Plan(
    summary="add",
    steps=(
        RpcStep(target="seq-0", endpoint="conductor", method="conductor_addServerAsVoter", description="add"),
    ),
)


def fresh() -> ProcedureRun:
    proc = Procedure(network="net", name="add-sequencer", sequencer="seq-1")
    return ProcedureRun(id="r1", network="net", procedure=proc, requester=REQ, channel="C1", created_at=100.0)


def step(run: ProcedureRun, event: Event, now: float = 200.0, authz: bool = False) -> ProcedureRun:
    decision = transition(run, event, now, authz)
    assert decision.run is not None, decision.message
    return decision.run


def test_story_wait_act_then_success() -> None:
    run = step(fresh(), WaitObserved(value=120, text="lag 120 blocks"), now=200.0)
    run = step(run, WaitObserved(value=15, text="lag 120 → 15 blocks"), now=260.0)
    # The first observation fixes the wait's start and first number; later ones only move the live text.
    assert (run.wait_started_at, run.wait_first, run.live) == (200.0, 120, "lag 120 → 15 blocks")
    run = step(run, StepFinished(status="done", detail="synced", last=False))
    assert run.index == 1 and run.wait_started_at is None and run.live == ""
    run = step(run, ActStarted(plan=PLAN))
    run = step(run, RpcIntent(call=0))
    assert (run.rpc_sent, run.rpc_done) == (0, 0)  # sent or not: a resumed runner must check the cluster
    run = step(run, RpcDone(call=0, stored={"k": "v"}))
    assert (run.rpc_sent, run.rpc_done, run.stored) == (0, 1, {"k": "v"})
    decision = transition(
        run, StepFinished(status="done", detail="added", last=True, outcome="all done"), 300.0, False
    )
    assert decision.rule is Rule.SUCCEEDED and decision.run is not None
    assert (decision.run.phase, decision.run.outcome, decision.run.plan) == ("succeeded", "all done", None)
    assert [o.status for o in decision.run.outcomes] == ["done", "done"]


def test_only_the_requester_or_an_approver_may_click() -> None:
    decision = transition(fresh(), PauseClick(user=STRANGER), 1.0, False)
    assert decision.run is None and decision.rule is Rule.NOT_ALLOWED
    assert transition(fresh(), PauseClick(user=REQ), 1.0, False).run is not None
    assert transition(fresh(), PauseClick(user=APPR), 1.0, True).run is not None


def test_pause_takes_effect_at_a_boundary_and_resume_restarts_the_wait() -> None:
    run = step(fresh(), WaitObserved(value=5, text="lag 5 blocks"))
    run = step(run, PauseClick(user=APPR), authz=True)
    assert run.phase == "running" and run.pause_requested_by == APPR
    run = step(run, Park())
    assert run.phase == "paused" and run.wait_started_at is None  # the timeout counts running time only
    assert transition(run, Continue(user=REQ), 1.0, False).rule is Rule.NOT_AT_CHECKPOINT
    run = step(run, ResumeClick(user=REQ))
    assert run.phase == "running" and run.pause_requested_by is None


def test_abort_while_running_waits_for_the_runner_but_while_parked_ends_at_once() -> None:
    running = step(fresh(), AbortClick(user=REQ))
    assert running.phase == "running" and running.abort_requested_by == REQ
    ended = step(running, Park(outcome="aborted: cluster X; next Y"))
    assert ended.phase == "aborted" and ended.outcome == "aborted: cluster X; next Y"

    parked = step(fresh(), CheckpointReached())
    decision = transition(parked, AbortClick(user=APPR, outcome="state; next"), 5.0, True)
    assert decision.rule is Rule.ABORTED and decision.run is not None
    assert (decision.run.phase, decision.run.outcome, decision.run.finished_at) == (
        "aborted",
        "state; next",
        5.0,
    )


def test_continue_only_at_a_checkpoint_and_moves_past_it() -> None:
    assert transition(fresh(), Continue(user=REQ), 1.0, False).rule is Rule.NOT_AT_CHECKPOINT
    run = step(step(fresh(), CheckpointReached()), Continue(user=REQ))
    assert run.phase == "running" and run.index == 1
    assert run.outcomes[-1].detail == f"continued by <@{REQ}>"


def test_a_finished_run_refuses_everything() -> None:
    failed = step(fresh(), Failed(detail="boom", outcome="stopped: state; next"))
    assert failed.phase == "failed" and failed.outcomes[-1].status == "failed"
    for event in (RpcIntent(call=0), Continue(user=REQ), AbortClick(user=REQ)):
        assert transition(failed, event, 1.0, True).rule is Rule.FINISHED_ALREADY
