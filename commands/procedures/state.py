"""A running procedure and the one function that moves it. Pure: the runner and the buttons call it.

    running ──step done/skipped──► running (next step) ──last step──► succeeded
       │ ├─ wait observed (live number) ─┘      │ checkpoint reached ► checkpoint ──Continue──► running
       │ ├─ Pause click ► pause_requested ──at the next boundary──► paused ──Resume──► running
       │ ├─ Abort click ► abort_requested ──at the next boundary──► aborted   (at once when parked)
       │ └─ failed (step error, invariant, wait timeout) ► failed
       └ act: plan fixed ► rpc j intent ► rpc j done ► … ► step done

Exactly once: before the runner sends the j-th call of an act it records the intent (`rpc_sent = j`),
after it the completion (`rpc_done = j + 1`). A replica resuming a run whose intent is ahead of its
completion does not know whether the call went out, so it checks the cluster before sending again
(`commands.procedures.effects`). The act's plan is fixed when it starts, so the resumed run sends
the calls preflight approved, not a new plan.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from commands.approval import MessageRef
from commands.operations import Procedure
from commands.plans import Plan

Phase = Literal["running", "checkpoint", "paused", "succeeded", "failed", "aborted"]
FINAL_PHASES: frozenset[str] = frozenset({"succeeded", "failed", "aborted"})
StepStatus = Literal["done", "skipped", "failed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepOutcome(_Frozen):
    index: int
    status: StepStatus
    detail: str


class ProcedureRun(_Frozen):
    id: str = Field(min_length=1)
    network: str
    procedure: Procedure
    requester: str
    approvers: tuple[str, ...] = ()
    # Where the checklist message is posted (the approval message's channel; empty from the terminal).
    channel: str
    # A terminal (break-glass) run is driven only by the terminal that started it: it has no
    # checklist or approval request, so a bot replica never picks it up (`lifecycle.resume_unfinished`).
    origin: Literal["slack", "terminal"] = "slack"
    created_at: float
    phase: Phase = "running"
    index: int = 0
    outcomes: tuple[StepOutcome, ...] = ()
    # The act in progress: its plan (fixed when it started), calls done, the call whose intent is recorded.
    plan: Plan | None = None
    rpc_done: int = 0
    rpc_sent: int | None = None
    stored: dict[str, JsonValue] = Field(default_factory=dict)
    # The wait in progress: when it began (its deadline survives a restart), first and latest numbers.
    wait_started_at: float | None = None
    wait_first: int | None = None
    wait_baseline: int | None = None
    live: str = ""
    pause_requested_by: str | None = None
    abort_requested_by: str | None = None
    outcome: str | None = None
    message: MessageRef | None = None
    finished_at: float | None = None


# --- events -----------------------------------------------------------------------------------------


class ActStarted(_Frozen):
    kind: Literal["act_started"] = "act_started"
    plan: Plan


class RpcIntent(_Frozen):
    kind: Literal["rpc_intent"] = "rpc_intent"
    call: int


class RpcDone(_Frozen):
    kind: Literal["rpc_done"] = "rpc_done"
    call: int
    stored: dict[str, JsonValue] = Field(default_factory=dict)


class WaitObserved(_Frozen):
    kind: Literal["wait_observed"] = "wait_observed"
    value: int | None
    text: str
    baseline: int | None = None


class StepFinished(_Frozen):
    kind: Literal["step_finished"] = "step_finished"
    status: Literal["done", "skipped"]
    detail: str
    last: bool
    # For the last step: how the procedure ended, with the cluster's state.
    outcome: str = ""


class CheckpointReached(_Frozen):
    kind: Literal["checkpoint_reached"] = "checkpoint_reached"


class Continue(_Frozen):
    kind: Literal["continue"] = "continue"
    user: str


class PauseClick(_Frozen):
    kind: Literal["pause"] = "pause"
    user: str


class ResumeClick(_Frozen):
    kind: Literal["resume"] = "resume"
    user: str


class AbortClick(_Frozen):
    kind: Literal["abort"] = "abort"
    user: str
    # What the cluster looks like and what to do next, used when the abort takes effect at once.
    outcome: str = ""


class Park(_Frozen):
    """The runner reached a step boundary with a pause or abort requested."""

    kind: Literal["park"] = "park"
    outcome: str = ""


class Failed(_Frozen):
    kind: Literal["failed"] = "failed"
    detail: str
    outcome: str


class MessagePosted(_Frozen):
    kind: Literal["message_posted"] = "message_posted"
    ref: MessageRef


Event = (
    ActStarted
    | RpcIntent
    | RpcDone
    | WaitObserved
    | StepFinished
    | CheckpointReached
    | Continue
    | PauseClick
    | ResumeClick
    | AbortClick
    | Park
    | Failed
    | MessagePosted
)
USER_EVENTS = (Continue, PauseClick, ResumeClick, AbortClick)


class Rule(StrEnum):
    ACT_STARTED = "act_started"
    RPC_INTENT = "rpc_intent"
    RPC_DONE = "rpc_done"
    WAIT_OBSERVED = "wait_observed"
    STEP_DONE = "step_done"
    STEP_SKIPPED = "step_skipped"
    SUCCEEDED = "succeeded"
    CHECKPOINT = "checkpoint_reached"
    CONTINUED = "continued"
    PAUSE_REQUESTED = "pause_requested"
    PAUSED = "paused"
    RESUMED = "resumed"
    ABORT_REQUESTED = "abort_requested"
    ABORTED = "aborted"
    FAILED = "failed"
    MESSAGE_POSTED = "message_posted"
    NOT_ALLOWED = "refused_not_allowed"
    FINISHED_ALREADY = "refused_finished"
    NOT_AT_CHECKPOINT = "refused_not_at_checkpoint"
    NOT_PAUSED = "refused_not_paused"
    NOT_RUNNING = "refused_not_running"


class Decision(_Frozen):
    run: ProcedureRun | None
    rule: Rule
    message: str


def _refuse(rule: Rule, message: str) -> Decision:
    return Decision(run=None, rule=rule, message=message)


def _move(run: ProcedureRun, rule: Rule, text: str, **changes: object) -> Decision:
    return Decision(run=run.model_copy(update=changes), rule=rule, message=text)


_STEP_RESET: dict[str, object] = {
    "plan": None,
    "rpc_done": 0,
    "rpc_sent": None,
    "stored": {},
    "wait_started_at": None,
    "wait_first": None,
    "wait_baseline": None,
    "live": "",
}


def transition(run: ProcedureRun, event: Event, now: float, authz: bool) -> Decision:
    """Apply one event. `authz`: whether a clicking user is an approver of the network."""
    if run.phase in FINAL_PHASES and not isinstance(event, MessagePosted):
        return _refuse(Rule.FINISHED_ALREADY, f"this procedure already {run.phase}")
    if isinstance(event, USER_EVENTS):
        if event.user != run.requester and not authz:
            return _refuse(
                Rule.NOT_ALLOWED, f"only <@{run.requester}> or an approver of {run.network} may do that"
            )
        return _click(run, event, now)
    return _runner(run, event, now)


def _runner(run: ProcedureRun, event: Event, now: float) -> Decision:
    """The runner's own events."""
    match event:
        case ActStarted(plan=plan):
            return _move(run, Rule.ACT_STARTED, "act started", plan=plan, rpc_done=0, rpc_sent=None)
        case RpcIntent(call=call):
            return _move(run, Rule.RPC_INTENT, f"call {call} about to be sent", rpc_sent=call)
        case RpcDone(call=call, stored=stored):
            return _move(run, Rule.RPC_DONE, f"call {call} done", rpc_done=call + 1, stored=stored)
        case WaitObserved():
            return _observed(run, event, now)
        case StepFinished():
            return _step_finished(run, event, now)
        case CheckpointReached():
            return _move(run, Rule.CHECKPOINT, "waiting for Continue", phase="checkpoint")
        case Park(outcome=outcome):
            if run.abort_requested_by is not None:
                return _move(run, Rule.ABORTED, outcome, phase="aborted", outcome=outcome, finished_at=now)
            # A wait starts over on resume: its timeout counts time the procedure was running.
            reset = {k: v for k, v in _STEP_RESET.items() if k.startswith("wait_") or k == "live"}
            text = f"paused (asked by <@{run.pause_requested_by}>)"
            return _move(run, Rule.PAUSED, text, phase="paused", **reset)
        case Failed(detail=detail, outcome=outcome):
            failed = StepOutcome(index=run.index, status="failed", detail=detail)
            return _move(
                run,
                Rule.FAILED,
                outcome,
                phase="failed",
                outcome=outcome,
                outcomes=(*run.outcomes, failed),
                finished_at=now,
            )
        case MessagePosted(ref=ref):
            return _move(run, Rule.MESSAGE_POSTED, "checklist posted", message=ref)
        case _:
            raise TypeError(f"not a runner event: {event.kind}")


def _observed(run: ProcedureRun, event: WaitObserved, now: float) -> Decision:
    # The first observation of a wait fixes its start (the deadline survives a restart) and baseline.
    fresh = run.wait_started_at is None
    return _move(
        run,
        Rule.WAIT_OBSERVED,
        event.text,
        wait_started_at=now if fresh else run.wait_started_at,
        wait_first=event.value if fresh else run.wait_first,
        wait_baseline=event.baseline if fresh else run.wait_baseline,
        live=event.text,
    )


def _step_finished(run: ProcedureRun, event: StepFinished, now: float) -> Decision:
    outcome = StepOutcome(index=run.index, status=event.status, detail=event.detail)
    changes: dict[str, object] = {**_STEP_RESET, "index": run.index + 1, "outcomes": (*run.outcomes, outcome)}
    if event.last:
        return _move(
            run,
            Rule.SUCCEEDED,
            "all steps done",
            phase="succeeded",
            outcome=event.outcome,
            finished_at=now,
            **changes,
        )
    rule = Rule.STEP_DONE if event.status == "done" else Rule.STEP_SKIPPED
    return _move(run, rule, event.detail, **changes)


def _click(
    run: ProcedureRun, event: Continue | PauseClick | ResumeClick | AbortClick, now: float
) -> Decision:
    """A user's button, already authorised."""
    match event:
        case Continue(user=user):
            if run.phase != "checkpoint":
                return _refuse(Rule.NOT_AT_CHECKPOINT, "the procedure is not waiting for Continue")
            outcome = StepOutcome(index=run.index, status="done", detail=f"continued by <@{user}>")
            return _move(
                run,
                Rule.CONTINUED,
                f"<@{user}> pressed Continue",
                phase="running",
                index=run.index + 1,
                outcomes=(*run.outcomes, outcome),
                **{k: v for k, v in _STEP_RESET.items() if k != "stored"},
            )
        case PauseClick(user=user):
            if run.phase != "running":
                return _refuse(Rule.NOT_RUNNING, f"the procedure is {run.phase}, not running")
            return _move(run, Rule.PAUSE_REQUESTED, f"<@{user}> asked to pause", pause_requested_by=user)
        case ResumeClick(user=user):
            if run.phase != "paused":
                return _refuse(Rule.NOT_PAUSED, "the procedure is not paused")
            return _move(run, Rule.RESUMED, f"<@{user}> resumed it", phase="running", pause_requested_by=None)
        case AbortClick(user=user, outcome=outcome):
            if run.phase in ("checkpoint", "paused"):
                # Nothing is running: the abort takes effect at once.
                return _move(
                    run,
                    Rule.ABORTED,
                    f"aborted by <@{user}>",
                    phase="aborted",
                    abort_requested_by=user,
                    outcome=outcome,
                    finished_at=now,
                )
            return _move(run, Rule.ABORT_REQUESTED, f"<@{user}> asked to abort", abort_requested_by=user)
