"""`/conductor requests [NETWORK]`: the approval requests still open (pending, approved, executing).

Read from Redis (no RPC), through `commands.approval_store.open_requests`: each network's pending
index names the requests, their records hold them; each listed request links to its approval
message (one chat.getPermalink per request, concurrently). Without a network it lists every network
whose commands are accepted in this channel; with one, that network (READ permission, like `status`).
`requests_blocks` is a pure function of the requests and `now`. The list is seen only by the caller;
its "Share in channel" button posts a fresh copy for the whole channel through the click's
`response_url`, saying who shared it and without the button (the copy records one moment).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError

from chat import authz
from chat.errors import StoreUnavailable, UsageError
from chat.text import HEADER_LIMIT, SECTION_LIMIT, clip, duration, escape
from commands.approval import ApprovalRequest
from commands.approval_store import open_requests
from commands.ids import RequestsAction
from commands.router import Respond, add_button, button_value
from commands.share import ShareValue, share_block
from commands.status import find_network

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from chat.context import BotContext
    from commands.router import CommandInvocation, Reply, VerbRegistry

logger = logging.getLogger(__name__)

Block = dict[str, Any]

# One section per request plus header and footer stays well below Slack's 50 blocks.
MAX_LISTED = 40
USAGE = "Usage: `/conductor requests [NETWORK]`"

_STATE_ICON = {
    "pending": ":hourglass_flowing_sand:",
    "approved": ":white_check_mark:",
    "executing": ":gear:",
}


def expiry_text(request: ApprovalRequest, now: float) -> str:
    if request.state != "pending":
        # Approved requests no longer expire: they run (or are cancelled).
        return request.state
    left = request.expires_at - now
    if left <= 0:
        return "expiring now"
    return f"expires in {duration(left)}"


def request_line(request: ApprovalRequest, now: float, link: str | None = None) -> str:
    """One request: id, network, command, requester, approvals so far / required, expiry, and a link
    to its approval message when Slack gave one."""
    icon = _STATE_ICON.get(request.state, ":grey_question:")
    # The command already ends in `--force`; the siren makes it visible at a glance.
    force = " :rotating_light:" if request.operation.force else ""
    message = f" · <{link}|open the request>" if link else ""
    return (
        f"{icon} `{request.id}` *{request.network}* `{escape(request.operation.command)}`{force}\n"
        f"requested by <@{request.requester}> · approvals {len(request.approvals)}/"
        f"{request.approvals_required} · {expiry_text(request, now)}{message}"
    )


def _ordered(requests: Sequence[ApprovalRequest]) -> list[ApprovalRequest]:
    # Soonest to expire first: those are the ones an approver must look at now.
    return sorted(requests, key=lambda r: (r.expires_at, r.network, r.id))


def requests_text(requests: Sequence[ApprovalRequest], network: str | None) -> str:
    """Notification / fallback text for the blocks."""
    where = f" on {network}" if network else ""
    if not requests:
        return f"No open approval requests{where}."
    return f"{len(requests)} open approval request{'s' if len(requests) != 1 else ''}{where}"


def requests_blocks(
    requests: Sequence[ApprovalRequest],
    now: float,
    network: str | None,
    links: Mapping[str, str] | None = None,
    shared_by: str | None = None,
) -> list[Block]:
    """The reply to `/conductor requests`: header, one section per request (linked to its message
    when `links` has the request id), a count of the rest, and the Share button (on the shared
    copy instead: who shared it)."""
    links = links or {}
    title = "Open approval requests" + (f" · {network}" if network else "")
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(title, HEADER_LIMIT)}}
    ]
    if not requests:
        scope = f"on *{network}*" if network else "on the networks of this channel"
        text = f"No open approval requests {scope}."
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
        return [*blocks, share_block(RequestsAction.SHARE.value, network, shared_by)]
    ordered = _ordered(requests)
    for request in ordered[:MAX_LISTED]:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": clip(request_line(request, now, links.get(request.id)), SECTION_LIMIT),
                },
            }
        )
    hidden = len(ordered) - MAX_LISTED
    footer = f"…and {hidden} more, not shown" if hidden > 0 else f"{len(ordered)} open"
    if shared_by is not None:
        footer += f" · shared by <@{shared_by}>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    if shared_by is None:
        blocks.append(share_block(RequestsAction.SHARE.value, network, None))
    return blocks


async def handle(ctx: BotContext, cmd: CommandInvocation, reply: Reply) -> None:
    if len(cmd.args) > 1:
        raise UsageError(USAGE)
    text, blocks = await listing(ctx, cmd.args[0] if cmd.args else None, cmd.user_id, cmd.channel_id)
    await reply.ephemeral(text, blocks)


async def share(ctx: BotContext, body: dict[str, Any], respond: Respond) -> None:
    """Post a fresh copy of the list for the whole channel (same READ rule as the command)."""
    value = button_value(ShareValue, body, "This button does not belong to a list this bot made.")
    user_id = str((body.get("user") or {}).get("id", ""))
    channel_id = str((body.get("channel") or {}).get("id", ""))
    text, blocks = await listing(ctx, value.network, user_id, channel_id, shared=True)
    logger.info("requests list shared network=%s user=%s", value.network or "*", user_id)
    await respond(text=text, blocks=blocks, response_type="in_channel", replace_original=False)


async def listing(
    ctx: BotContext, network: str | None, user_id: str, channel_id: str, *, shared: bool = False
) -> tuple[str, list[Block]]:
    """The list's text and blocks for `user_id` in `channel_id` (one network, or the channel's)."""
    if network is not None:
        spec = find_network(ctx, network)
        await authz.require(ctx, spec, authz.Permission.READ, user_id=user_id, channel_id=channel_id)
        names = [spec.name]
        scope: str | None = spec.name
    else:
        names = [
            name
            for name, spec in ctx.topology.networks.items()
            if authz.command_allowed_in_channel(spec, channel_id)
        ]
        scope = None
    try:
        found = await asyncio.gather(*(open_requests(ctx.store, name) for name in names))
    except (RedisError, OSError) as e:
        raise StoreUnavailable(
            "Could not read approval requests: Redis did not answer. Try again shortly."
        ) from e
    requests = [r for per_network in found for r in per_network]
    links = await permalinks(ctx, _ordered(requests)[:MAX_LISTED])
    blocks = requests_blocks(requests, ctx.clock.now(), scope, links, shared_by=user_id if shared else None)
    return requests_text(requests, scope), blocks


async def permalinks(ctx: BotContext, requests: Sequence[ApprovalRequest]) -> dict[str, str]:
    """Request id → permalink of its approval message (chat.getPermalink), concurrently. A request
    whose link Slack does not give (message deleted, channel archived) is listed without one."""
    posted = [r for r in requests if r.message is not None]

    async def one(request: ApprovalRequest) -> str | None:
        assert request.message is not None
        try:
            response = await ctx.slack.chat_getPermalink(
                channel=request.message.channel, message_ts=request.message.ts
            )
        except SlackApiError as e:
            logger.info(
                "no permalink request=%s slack_error=%s", request.id, e.response.get("error", "unknown")
            )
            return None
        link = response.get("permalink")
        return str(link) if link else None

    found = await asyncio.gather(*(one(r) for r in posted))
    return {r.id: link for r, link in zip(posted, found, strict=True) if link}


def register(registry: VerbRegistry) -> None:
    registry.add("requests", handle)


def register_actions(app: AsyncApp, ctx: BotContext) -> None:
    add_button(app, ctx, RequestsAction.SHARE.value, partial(share, ctx))
