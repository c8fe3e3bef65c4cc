"""Block Kit of a procedure's checklist message, and the texts of its thread. Pure functions.

One message per run, updated in place: every step with its state (done, skipped, failed, running,
waiting with its live number, next), and the buttons that apply now: Continue at a checkpoint, Pause
or Resume, Abort. Buttons carry only the run id and network.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from chat.text import HEADER_LIMIT, SECTION_LIMIT, clip, escape
from cluster.snapshot import NetworkSnapshot
from commands.approval_blocks import button
from commands.procedures.state import FINAL_PHASES, ProcedureRun
from commands.procedures.steps import Act, Checkpoint, SetExecutionMode, Step, Wait

Block = dict[str, Any]


class ProcedureAction(StrEnum):
    """`action_id` of the checklist buttons."""

    CONTINUE = "procedure_continue"
    PAUSE = "procedure_pause"
    RESUME = "procedure_resume"
    ABORT = "procedure_abort"


class ProcedureBlock(StrEnum):
    HEADER = "procedure_header"
    STEPS = "procedure_steps"
    OUTCOME = "procedure_outcome"
    FOOTER = "procedure_footer"
    ACTIONS = "procedure_actions"


class ProcedureButtonValue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    network: str


_TITLE = {
    "running": ":gear: Running",
    "checkpoint": ":raising_hand: Waiting for you",
    "paused": ":double_vertical_bar: Paused",
    "succeeded": ":large_green_circle: Done",
    "failed": ":red_circle: Stopped",
    "aborted": ":octagonal_sign: Aborted",
}
_DONE_ICON = {"done": ":white_check_mark:", "skipped": ":fast_forward:", "failed": ":x:"}


def _label(step: Step) -> str:
    match step:
        case Act():
            return f"{step.title} (`{step.operation.command}`)"
        case Wait():
            return f"wait: {step.until.description}"
        case Checkpoint():
            return f"you: {step.prompt}, then Continue"
        case SetExecutionMode():
            return f"{step.title} (`debug_setExecutionMode`)"


def live_text(run: ProcedureRun) -> str:
    """The wait's number as it moved since the wait began ("lag 120 → 15 blocks")."""
    if not run.live:
        return ""
    return run.live


def _current(run: ProcedureRun, step: Step) -> str:
    match step:
        case Checkpoint():
            return ":raising_hand:"
        case Wait():
            return ":hourglass_flowing_sand:"
        case Act() | SetExecutionMode():
            return ":gear:"


def step_lines(run: ProcedureRun, steps: tuple[Step, ...]) -> list[str]:
    outcomes = {o.index: o for o in run.outcomes}
    lines: list[str] = []
    for i, step in enumerate(steps):
        label = f"{i + 1}. {_label(step)}"
        if i in outcomes:
            o = outcomes[i]
            lines.append(f"{_DONE_ICON[o.status]} {label} — {clip(o.detail, 300)}")
        elif i == run.index and run.phase not in FINAL_PHASES:
            live = live_text(run)
            state = " — paused" if run.phase == "paused" else (f" — {live}" if live else "")
            lines.append(f"{_current(run, step)} *{label}*{state}")
        elif i == run.index + 1 and run.phase not in FINAL_PHASES:
            lines.append(f":arrow_right: {label} _(next)_")
        else:
            lines.append(f":white_circle: {label}")
    return lines


def _buttons(run: ProcedureRun) -> Block | None:
    if run.phase in FINAL_PHASES:
        return None
    value = ProcedureButtonValue(run_id=run.id, network=run.network).model_dump_json()
    elements: list[Block] = []
    if run.phase == "checkpoint":
        elements.append(button("Continue", ProcedureAction.CONTINUE, value, "primary"))
    if run.phase == "paused":
        elements.append(button("Resume", ProcedureAction.RESUME, value, "primary"))
    elif run.phase == "running" and run.pause_requested_by is None:
        elements.append(button("Pause", ProcedureAction.PAUSE, value))
    if run.abort_requested_by is None:
        abort = button("Abort", ProcedureAction.ABORT, value, "danger")
        abort["confirm"] = {
            "title": {"type": "plain_text", "text": "Abort the procedure?"},
            "text": {
                "type": "mrkdwn",
                "text": "It stops before the next step; steps already done stay done.",
            },
            "confirm": {"type": "plain_text", "text": "Abort"},
            "deny": {"type": "plain_text", "text": "Back"},
        }
        elements.append(abort)
    return {"type": "actions", "block_id": ProcedureBlock.ACTIONS.value, "elements": elements}


def checklist_blocks(run: ProcedureRun, steps: tuple[Step, ...]) -> list[Block]:
    title = f"{_TITLE[run.phase]}: {run.procedure.command}"
    blocks: list[Block] = [
        {
            "type": "header",
            "block_id": ProcedureBlock.HEADER.value,
            "text": {"type": "plain_text", "text": clip(title, HEADER_LIMIT), "emoji": True},
        },
        {
            "type": "section",
            "block_id": ProcedureBlock.STEPS.value,
            "text": {"type": "mrkdwn", "text": clip(_mrkdwn(step_lines(run, steps)), SECTION_LIMIT)},
        },
    ]
    notes: list[str] = []
    if run.pause_requested_by and run.phase == "running":
        notes.append(f"pausing after this step (asked by <@{run.pause_requested_by}>)")
    if run.abort_requested_by and run.phase == "running":
        notes.append(f"aborting before the next step (asked by <@{run.abort_requested_by}>)")
    if run.outcome:
        notes.append(run.outcome)
    if notes:
        blocks.append(
            {
                "type": "section",
                "block_id": ProcedureBlock.OUTCOME.value,
                "text": {"type": "mrkdwn", "text": clip(_mrkdwn(notes), SECTION_LIMIT)},
            }
        )
    approvers = ", ".join(f"<@{u}>" for u in run.approvers) or "nobody"
    blocks.append(
        {
            "type": "context",
            "block_id": ProcedureBlock.FOOTER.value,
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": (
                        f"procedure `{run.id}` · requested by <@{run.requester}> · approved by {approvers}"
                    ),
                }
            ],
        }
    )
    buttons = _buttons(run)
    if buttons is not None:
        blocks.append(buttons)
    return blocks


def checklist_text(run: ProcedureRun) -> str:
    return escape(f"{run.phase}: `{run.procedure.command}` (step {min(run.index + 1, 99)})")


def _mrkdwn(lines: list[str]) -> str:
    """Lines with step details and outcomes (node answers, typed commands) made safe for mrkdwn; the
    `<@U…>` mentions are the runner's own."""
    return escape("\n".join(lines), keep_user_mentions=True)


def cluster_state(snap: NetworkSnapshot) -> str:
    """The cluster in one line, for every final message: leader, who sequences, paused, head, members."""
    leader = snap.raft_leader_id or "none"
    active = ", ".join(snap.active_sequencers) or "none"
    paused = ", ".join(n.id for n in snap.nodes if n.paused) or "none"
    dead = ", ".join(n.id for n in snap.nodes if not n.conductor_reachable) or "none"
    overridden = ", ".join(n.id for n in snap.nodes if n.leader_overridden) or "none"
    head = f"#{snap.best_unsafe.number}" if snap.best_unsafe is not None else "unknown"
    servers = snap.membership.servers if snap.membership is not None else None
    members = ", ".join(s.id for s in servers) if servers else "unknown"
    return (
        f"leader {leader}; sequencing: {active}; best head {head}; conductors paused: {paused}; "
        f"conductors not answering: {dead}; overridden: {overridden}; raft members: {members}"
    )
