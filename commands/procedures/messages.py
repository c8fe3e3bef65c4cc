"""What a procedure run says: its checklist message (posted once, re-rendered in place), thread
replies, step audit entries, and the final texts. Updates and replies go through the network's Slack
outbox (`store.outbox`), so a Slack failure delays them, in order, but loses none; nothing here raises:
the run's record in Redis is the truth."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chat.text import clip, escape
from cluster.snapshot import NetworkSnapshot
from cluster.topology import NetworkSpec
from commands import approval_store
from commands.approval import Finish, MessageRef
from commands.approval_messages import send, update_message
from commands.approval_messages import thread_reply as approval_reply
from commands.executor import BOT_ACTOR, step_entry, step_status
from commands.plans import StepResult
from commands.procedures.blocks import checklist_blocks, checklist_text, cluster_state
from commands.procedures.definitions import steps_of
from commands.procedures.state import ProcedureRun
from store.audit import AuditEntry
from store.outbox import SlackWrite

if TYPE_CHECKING:
    from chat.context import BotContext

logger = logging.getLogger(__name__)


async def post_or_update(ctx: BotContext, spec: NetworkSpec, run: ProcedureRun) -> None:
    """Re-render the checklist in place, through the network's Slack outbox (retried until delivered)."""
    if run.message is None:
        return
    steps = steps_of(run.procedure, spec)
    write = SlackWrite(
        message=f"procedure:{run.id}",
        op="update",
        channel=run.message.channel,
        ts=run.message.ts,
        text=checklist_text(run),
        blocks=checklist_blocks(run, steps),
        label="checklist_update",
        queued_at=ctx.clock.now(),
    )
    await send(ctx, run.network, write)


async def reply(ctx: BotContext, run: ProcedureRun, text: str) -> None:
    """One reply in the checklist's thread, through the outbox, in order with its updates.

    `text` is the runner's plain words (shared with the terminal), with node answers and preflight
    findings in it: escaped here for mrkdwn, its `<@U…>` mentions kept."""
    if run.message is None:
        return
    write = SlackWrite(
        message=f"procedure:{run.id}",
        op="reply",
        channel=run.message.channel,
        ts=run.message.ts,
        text=escape(text, keep_user_mentions=True),
        label="checklist_reply",
        queued_at=ctx.clock.now(),
    )
    await send(ctx, run.network, write)


class SlackChecklist:
    """The Slack front end of a run: the checklist message, its thread, and the approval request."""

    def __init__(self, ctx: BotContext, spec: NetworkSpec) -> None:
        self._ctx, self._spec = ctx, spec

    async def post(self, run: ProcedureRun) -> MessageRef | None:
        steps = steps_of(run.procedure, self._spec)
        response = await self._ctx.slack.chat_postMessage(
            channel=run.channel, text=checklist_text(run), blocks=checklist_blocks(run, steps)
        )
        return MessageRef(channel=run.channel, ts=str(response["ts"]))

    async def update(self, run: ProcedureRun) -> None:
        await post_or_update(self._ctx, self._spec, run)

    async def reply(self, run: ProcedureRun, text: str) -> None:
        await reply(self._ctx, run, text)

    async def ended(self, run: ProcedureRun) -> None:
        await post_or_update(self._ctx, self._spec, run)
        icon = {"succeeded": ":large_green_circle:", "failed": ":red_circle:"}.get(
            run.phase, ":octagonal_sign:"
        )
        await reply(self._ctx, run, f"{icon} <@{run.requester}> {run.outcome}")
        await finish_request(self._ctx, run)


def stopped_text(run: ProcedureRun, spec: NetworkSpec, why: str, snap: NetworkSnapshot | None) -> str:
    """Why it stopped, the cluster's state and the next manual step: every unhappy ending says all three."""
    steps = steps_of(run.procedure, spec)
    state = cluster_state(snap) if snap is not None else "unknown (the cluster could not be read)"
    if run.index < len(steps):
        step = steps[run.index]
        nxt = f"step {run.index + 1} by hand: {step.manual}"
    else:
        nxt = f"check `/conductor status {run.network}`"
    return f"{why}. *Cluster now:* {state}. *Next manual step:* {nxt}."


async def finish_request(ctx: BotContext, run: ProcedureRun) -> None:
    """Close the procedure's approval request, free the network and tell the requester how it ended."""
    success = run.phase == "succeeded"
    event = Finish(success=success, outcome=run.outcome or run.phase)
    decision = await approval_store.apply(ctx, run.network, run.id, event, BOT_ACTOR)
    if decision.request is not None:
        await update_message(ctx, decision.request)
        icon = ":large_green_circle:" if success else ":red_circle:"
        await approval_reply(ctx, decision.request, f"{icon} <@{run.requester}> {run.outcome or run.phase}")


def call_text(result: StepResult) -> str:
    head = f"`{result.method}` on *{result.target}*"
    detail = clip(result.detail, 2500)
    if result.ok and result.tolerated:
        return f":ballot_box_with_check: {head}: already in the wanted state (`{detail}`)"
    if result.ok:
        return f":white_check_mark: {head}" + (f": `{detail}`" if detail else "")
    return f":x: {head} failed: `{detail}`"


def call_entry(ctx: BotContext, run: ProcedureRun, result: StepResult) -> AuditEntry:
    status = step_status(result)
    message = (
        f"procedure {run.procedure.name} step {run.index + 1}: {result.method} on {result.target}: {status}"
    )
    data = {"method": result.method, "target": result.target, "status": status, "step": str(run.index + 1)}
    return step_entry(ctx, run.network, run.id, message, data)
