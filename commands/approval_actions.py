"""Approve / Reject / Cancel buttons of an approval message.

Each click is acked at once; the rest runs in a background task (`spawn_after_ack`). The button value
is validated (a foreign, malformed or stale value gets a clear ephemeral answer, never a traceback),
a Slack retry of the same delivery is dropped (`Keys.seen` on the trigger id), the event goes through
`approval_store.apply` (one CAS transition), the message is re-rendered in place with a thread reply
per vote, and a request that became approved is handed to the executor.
"""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import TYPE_CHECKING, Any

from chat import authz
from chat.errors import DirectoryUnavailable, StaleAction
from commands import approval_store, executor
from commands.approval import Approve, Cancel, Event, Reject, Rule
from commands.approval_blocks import ApprovalButtonValue
from commands.approval_messages import thread_reply, update_message
from commands.ids import ApprovalAction
from commands.procedures import lifecycle, runner
from commands.router import Respond, add_button, button_value

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from chat.context import BotContext

logger = logging.getLogger(__name__)

# Longer than Slack's retry window (three retries within about a minute).
SEEN_TTL_MS = 10 * 60 * 1000
_SAFE_ID = re.compile(r"^[^\s{}]{1,200}$")

_VOTE_ICON: dict[Rule, str] = {
    Rule.APPROVAL_RECORDED: ":ballot_box_with_check:",
    Rule.APPROVED: ":white_check_mark:",
    Rule.REJECTED: ":no_entry_sign:",
    Rule.CANCELLED: ":heavy_multiplication_x:",
    Rule.EXPIRED_ON_VOTE: ":alarm_clock:",
}

STALE_TEXT = (
    "This button does not belong to a request this bot knows; it may be from an old or foreign message."
)


def register(app: AsyncApp, ctx: BotContext) -> None:
    """Wire the three approval buttons; called once at start-up by `commands.request.register_actions`."""
    for action in ApprovalAction:
        add_button(app, ctx, action.value, partial(handle_click, ctx, action))


def _event(action: ApprovalAction, user: str) -> Event:
    match action:
        case ApprovalAction.APPROVE:
            return Approve(user=user)
        case ApprovalAction.REJECT:
            return Reject(user=user)
        case ApprovalAction.CANCEL:
            return Cancel(user=user)


async def first_click(ctx: BotContext, body: dict[str, Any]) -> bool:
    """False when this exact interaction was handled already (a Slack retry or a replayed request)."""
    trigger = str(body.get("trigger_id") or "")
    if not _SAFE_ID.match(trigger):
        return True
    return await ctx.store.claim_once(ctx.store.keys.seen(f"action.{trigger}"), SEEN_TTL_MS)


async def handle_click(
    ctx: BotContext, action: ApprovalAction, body: dict[str, Any], respond: Respond
) -> None:
    """Apply one click; refusals and stale buttons become an ephemeral answer to the clicker."""
    value = button_value(ApprovalButtonValue, body, STALE_TEXT)
    spec = ctx.topology.network(value.network)
    if spec is None:
        raise StaleAction(STALE_TEXT)
    if not await first_click(ctx, body):
        logger.info("duplicate click dropped action=%s request=%s", action.value, value.request_id)
        return
    user = str((body.get("user") or {}).get("id", ""))
    try:
        may_approve = await authz.may_approve(ctx, spec, user)
    except DirectoryUnavailable:
        if action is not ApprovalAction.CANCEL:
            raise
        may_approve = False  # a requester can still withdraw their own request while the lookup is down
    decision = await approval_store.apply(
        ctx, spec.name, value.request_id, _event(action, user), user, may_approve=may_approve
    )
    request = decision.request
    if request is None:
        await respond(text=f":warning: {decision.message}", response_type="ephemeral", replace_original=False)
        return
    await update_message(ctx, request)
    icon = _VOTE_ICON.get(decision.rule, "")
    who = "" if f"<@{user}>" in decision.message else f"<@{user}>: "
    await thread_reply(ctx, request, f"{icon} {who}{decision.message}".strip())
    if decision.rule is Rule.EXPIRED_ON_VOTE:
        await respond(text=f":warning: {decision.message}", response_type="ephemeral", replace_original=False)
    if request.state == "approved" and request.operation.kind == "procedure":
        ctx.spawn(lifecycle.start(ctx, spec.name, request.id), name=runner.task_name(spec.name, request.id))
    elif request.state == "approved":
        ctx.spawn(executor.run(ctx, spec.name, request.id), name=f"execute-{spec.name}-{request.id}")
