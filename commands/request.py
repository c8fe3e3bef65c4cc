"""The mutating verbs (`pause`, `resume`, `override-leader`, …): one handler from command to approval message.

    authz (channel, requester) → parse → fresh snapshot → preflight
        blocked  → ephemeral list of the blocking findings, refusal audited, nothing stored
        the bot cannot post in the channel → "I'm not in #ops — `/invite @conductor-bot`", nothing
                   stored (the approval message is where people approve)
        no-op    → (one named sequencer already as asked) answered at once, audited, nothing stored
        ok       → one open operation per network: refuse while another request is open or the
                   network's lock is held → store the request (record + open index + audit, one script)
                   → post the approval message → remember its (channel, ts)

The buttons of that message are handled by `commands.approval_actions`, wired here in
`register_actions` because the router discovers action handlers per verb module.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from chat import authz, channel_check, metrics
from chat.channel_access import UNPOSTABLE
from chat.errors import BotError
from chat.lookup import slack_code
from chat.text import escape
from cluster.poller import poll_network
from commands import approval_actions, approval_store
from commands.approval import ApprovalRequest, Cancel, MessageRef, open_request
from commands.approval_blocks import approval_blocks, approval_text, approvers_ping_text
from commands.approval_messages import thread_reply
from commands.args import OPERATION_VERBS, parse_operation
from commands.checks import PreflightFinding
from commands.preflight import PreparedOperation, prepare
from store import audit, locks, marks
from store.audit import AuditEntry, AuditKind

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from chat.context import BotContext
    from cluster.topology import NetworkSpec
    from commands.router import CommandInvocation, Reply, VerbRegistry

logger = logging.getLogger(__name__)

# Longer than Slack's retry window, so a retried slash command never opens a second request.
SEEN_TTL_MS = 10 * 60 * 1000
_SAFE_ID = re.compile(r"^[^\s{}]{1,200}$")
# Preflight findings saying the named sequencer is already as the operation would leave it. A request
# for nothing would still hold the network's one open operation until it expires.
NO_OP_CODES = frozenset({"not_overridden", "already_paused", "not_paused", "not_active"})


class RequestRefused(BotError):
    """Raised when a request cannot be opened now (another one is open, the network is locked)."""


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


def _shown(finding: PreflightFinding) -> str:
    # A finding may quote a node (an error string) and name users (`<@U…>`): only the users stay live.
    return escape(finding.message, keep_user_mentions=True)


def refusal_text(prepared: PreparedOperation) -> str:
    """What the requester is told when preflight blocks the operation."""
    lines = [f":no_entry: `{prepared.operation.command}` was not submitted: preflight blocks it."]
    lines += [
        f"• {escape(f.message, keep_user_mentions=True)}"
        + (" (overridable with `--force`)" if f.forceable else "")
        for f in prepared.blocking
    ]
    if prepared.plan is None and not prepared.blocking:
        lines.append("• no plan is possible on the current cluster state")
    return "\n".join(lines)


async def audit_refused(ctx: BotContext, network: str, actor: str, text: str, data: dict[str, str]) -> None:
    """Record a refused request: preflight blocked it, or (terminal) a procedure could not start."""
    entry = AuditEntry(
        at=ctx.clock.now(),
        network=network,
        kind=AuditKind.REQUEST,
        actor=actor,
        message=text[:2000],
        data=data,
    )
    await audit.append(ctx.store, network, entry)


def no_op_text(prepared: PreparedOperation) -> str | None:
    """What the requester is told when the operation would change nothing; None when it would."""
    if getattr(prepared.operation, "sequencer", None) is None:
        return None  # several targets: some may still need it
    same = [
        escape(f.message, keep_user_mentions=True)
        for f in prepared.findings
        if f.level == "ok" and f.code in NO_OP_CODES
    ]
    if not same:
        return None
    return (
        f":information_source: `{prepared.operation.command}` would change nothing: {'; '.join(same)}."
        " No request was opened."
    )


async def first_delivery(ctx: BotContext, cmd: CommandInvocation) -> bool:
    """False when Slack delivers the same slash command again (same trigger id)."""
    if cmd.trigger_id is None or not _SAFE_ID.match(cmd.trigger_id):
        return True
    return await ctx.store.claim_once(ctx.store.keys.seen(f"command.{cmd.trigger_id}"), SEEN_TTL_MS)


async def _audit_unopened(
    ctx: BotContext,
    spec: NetworkSpec,
    cmd: CommandInvocation,
    prepared: PreparedOperation,
    text: str,
    outcome: str,
) -> None:
    entry = AuditEntry(
        at=ctx.clock.now(),
        network=spec.name,
        kind=AuditKind.REQUEST,
        actor=cmd.user_id,
        message=text[:2000],
        data={"outcome": outcome, "command": prepared.operation.command},
    )
    await audit.append(ctx.store, spec.name, entry)


async def _refuse_if_busy(ctx: BotContext, spec: NetworkSpec) -> None:
    open_now = await approval_store.open_requests(ctx.store, spec.name)
    if open_now:
        other = open_now[0]
        raise RequestRefused(
            f"`{spec.name}` already has an open request `{other.id}` ({other.state}): "
            f"`{other.operation.command}` by <@{other.requester}>. One operation per network at a time; "
            "wait for it to finish or cancel it."
        )
    if await locks.holder_token(ctx.store, ctx.store.keys.lock(spec.name)) is not None:
        raise RequestRefused(
            f"An operation is running on `{spec.name}` right now (its lock is held); try again after it."
        )


async def handle(ctx: BotContext, cmd: CommandInvocation, reply: Reply) -> None:
    if not await first_delivery(ctx, cmd):
        logger.info("duplicate command dropped verb=%s correlation_id=%s", cmd.verb, cmd.correlation_id)
        return
    named = ctx.topology.network(cmd.args[0]) if cmd.args else None
    if named is not None:
        await authz.require(
            ctx, named, authz.Permission.REQUEST, user_id=cmd.user_id, channel_id=cmd.channel_id
        )
    operation = parse_operation(cmd.verb, cmd.args, ctx.topology)
    spec = ctx.topology.networks[operation.network]
    if named is None:
        await authz.require(
            ctx, spec, authz.Permission.REQUEST, user_id=cmd.user_id, channel_id=cmd.channel_id
        )
    snapshot = await poll_network(spec, ctx.http, ctx.clock, timeout=ctx.settings.rpc_timeout)
    prepared = prepare(operation, snapshot, spec, await marks.node_overrides(ctx.store, spec.name))
    if not prepared.blocked and (text := no_op_text(prepared)) is not None:
        await _audit_unopened(ctx, spec, cmd, prepared, text, "nothing_to_do")
        await reply.ephemeral(text)
        return
    await submit(ctx, cmd, spec, prepared, reply)


async def submit(
    ctx: BotContext, cmd: CommandInvocation, spec: NetworkSpec, prepared: PreparedOperation, reply: Reply
) -> None:
    """Refuse what preflight blocks (audited), else open the request and post its approval message.

    Shared by the single verbs and `procedure`, so both go through the same one-open-request rule."""
    operation = prepared.operation
    if prepared.blocked:
        text = refusal_text(prepared)
        await audit_refused(
            ctx,
            spec.name,
            cmd.user_id,
            text,
            {"outcome": "refused_by_preflight", "command": operation.command},
        )
        await reply.ephemeral(text)
        return
    if (code := await channel_check.postable(ctx, cmd.channel_id)) is not None:
        raise RequestRefused(
            f"{ctx.channels.refusal(cmd.channel_id, code)}, then run the command again. "
            "No request was opened."
        )
    await _refuse_if_busy(ctx, spec)
    request = open_request(new_request_id(), prepared, cmd.user_id, spec, ctx.clock.now())
    entry = AuditEntry(
        at=request.created_at,
        network=spec.name,
        kind=AuditKind.REQUEST,
        actor=cmd.user_id,
        request_id=request.id,
        message=f"requested {operation.command}",
        data={"outcome": "pending", "command": operation.command},
    )
    if not await approval_store.create(ctx.store, request, entry):
        raise RequestRefused("Could not store the request (id clash); please try again.")
    await _withdraw_if_raced(ctx, spec, request)
    await _post(ctx, spec, request, cmd)


async def _withdraw_if_raced(ctx: BotContext, spec: NetworkSpec, request: ApprovalRequest) -> None:
    """Close the gap between the busy check and the create: if another request opened meanwhile,
    withdraw ours. Both racers may withdraw (then both retry), but two can never stay open."""
    others = [r for r in await approval_store.open_requests(ctx.store, spec.name) if r.id != request.id]
    if not others:
        return
    await approval_store.apply(ctx, spec.name, request.id, Cancel(user=request.requester), request.requester)
    raise RequestRefused(
        f"`{spec.name}` got another request `{others[0].id}` at the same moment "
        f"(`{others[0].operation.command}` by <@{others[0].requester}>); yours was withdrawn, nothing ran."
    )


async def _post(ctx: BotContext, spec: NetworkSpec, request: ApprovalRequest, cmd: CommandInvocation) -> None:
    try:
        response = await ctx.slack.chat_postMessage(
            channel=cmd.channel_id, text=approval_text(request), blocks=approval_blocks(request, spec)
        )
        ts = str(response["ts"])
    except Exception as e:
        # Without its message nobody could approve it and it would hold the network until expiry.
        await approval_store.apply(
            ctx, spec.name, request.id, Cancel(user=request.requester), request.requester
        )
        code = slack_code(e) if isinstance(e, SlackApiError) else type(e).__name__
        logger.error(
            "approval message not posted network=%s request=%s channel=%s error=%s",
            spec.name,
            request.id,
            cmd.channel_id,
            code,
        )
        if code in UNPOSTABLE:
            ctx.channels.refused(cmd.channel_id, code)
            why = f"{ctx.channels.refusal(cmd.channel_id, code)}, then run the command again."
        else:
            why = f"Could not post the approval message (Slack said `{code}`)."
        raise RequestRefused(f"{why} The request was withdrawn and nothing ran.") from e
    message = MessageRef(channel=cmd.channel_id, ts=ts)
    await approval_store.attach_message(ctx.store, spec.name, request.id, message)
    metrics.REQUESTS.labels(request.state).inc()
    logger.info("request opened network=%s request=%s verb=%s", spec.name, request.id, cmd.verb)
    # The message mentions the approvers it can; groups named by handle are mentioned in its thread.
    ping = approvers_ping_text(request, spec, await ctx.directory.group_ids(spec.approvers))
    if ping is not None:
        await thread_reply(ctx, request.model_copy(update={"message": message}), ping)


def register(registry: VerbRegistry) -> None:
    for verb in OPERATION_VERBS:
        registry.add(verb, handle)


def register_actions(app: AsyncApp, ctx: BotContext) -> None:
    approval_actions.register(app, ctx)
