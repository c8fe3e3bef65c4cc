"""`/conductor audit NETWORK [N]`: the newest N entries (default 20, at most 50) of a network's audit trail.

Read from the Redis stream (`store.audit.read`), newest first, one line per entry, packed into as few
sections as Slack's 3,000-character limit allows. READ permission, like `status`. `audit_blocks` is a
pure function of the entries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from chat import authz
from chat.errors import StoreUnavailable, UsageError
from chat.text import HEADER_LIMIT, SECTION_LIMIT, clip, escape, utc_time
from commands.status import find_network
from store import audit
from store.audit import AuditEntry, AuditKind

if TYPE_CHECKING:
    from chat.context import BotContext
    from commands.router import CommandInvocation, Reply, VerbRegistry

logger = logging.getLogger(__name__)

Block = dict[str, Any]

DEFAULT_COUNT = 20
MAX_COUNT = 50
# 50 lines of this size fill at most 9 sections, far from the 50-block limit.
LINE_LIMIT = 320
USAGE = f"Usage: `/conductor audit NETWORK [N]` (N from 1 to {MAX_COUNT}, default {DEFAULT_COUNT})"

KIND_ICON: dict[AuditKind, str] = {
    AuditKind.REQUEST: ":memo:",
    AuditKind.VOTE: ":ballot_box_with_ballot:",
    AuditKind.APPROVE: ":white_check_mark:",
    AuditKind.REJECT: ":no_entry_sign:",
    AuditKind.CANCEL: ":heavy_multiplication_x:",
    AuditKind.EXPIRE: ":alarm_clock:",
    AuditKind.EXECUTE: ":gear:",
    AuditKind.STEP: ":arrow_right:",
    AuditKind.RESULT: ":checkered_flag:",
    AuditKind.LOCK: ":lock:",
    AuditKind.ALERT: ":rotating_light:",
    AuditKind.SILENCE: ":no_bell:",
}


def parse_count(args: Sequence[str]) -> int:
    """N from `audit NETWORK [N]`; a UsageError names the allowed range."""
    if len(args) == 1:
        return DEFAULT_COUNT
    if len(args) != 2:
        raise UsageError(USAGE)
    try:
        count = int(args[1])
    except ValueError:
        raise UsageError(f"`{args[1]}` is not a number. {USAGE}") from None
    if not 1 <= count <= MAX_COUNT:
        raise UsageError(f"N must be from 1 to {MAX_COUNT}, got {count}. {USAGE}")
    return count


def entry_line(entry: AuditEntry) -> str:
    """`time icon kind · who · request · message`, on one line, clipped to `LINE_LIMIT`."""
    parts = [f"`{utc_time(entry.at)}` {KIND_ICON.get(entry.kind, '•')} *{entry.kind.value}*"]
    if entry.actor:
        parts.append(f"<@{entry.actor}>" if entry.actor.startswith(("U", "W")) else entry.actor)
    if entry.request_id:
        parts.append(f"`{entry.request_id}`")
    # Messages are one line in this list; the full text stays in the stream and the CLI's --json.
    # They are plain text that may quote a node's error, so never markup Slack would act on.
    parts.append(escape(" ".join(entry.message.split()), keep_user_mentions=True))
    return clip(" · ".join(parts), LINE_LIMIT)


def _pack(lines: Sequence[str]) -> list[str]:
    """Whole lines into texts of at most `SECTION_LIMIT` characters."""
    texts: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if current and size + 1 + len(line) > SECTION_LIMIT:
            texts.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + (1 if size else 0)
    if current:
        texts.append("\n".join(current))
    return texts


def audit_text(network: str, entries: Sequence[AuditEntry]) -> str:
    """Notification / fallback text for the blocks."""
    if not entries:
        return f"No audit entries for {network} yet."
    return f"Last {len(entries)} audit entr{'y' if len(entries) == 1 else 'ies'} of {network}"


def audit_blocks(network: str, entries: Sequence[AuditEntry], requested: int) -> list[Block]:
    """The reply to `/conductor audit`: header, entries newest first, and a footer with the count."""
    title = f"Audit · {network} · newest first"
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(title, HEADER_LIMIT)}}
    ]
    if not entries:
        text = f"No audit entries for *{network}* yet: nothing has been requested or run."
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
        return blocks
    for text in _pack([entry_line(e) for e in entries]):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    footer = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} shown, times in UTC"
    if len(entries) >= requested:
        # A full page may hide older entries: say where to see them.
        more = (
            f"/conductor audit {network} {MAX_COUNT}"
            if requested < MAX_COUNT
            else f"conductor-bot audit {network}"
        )
        footer += f"; older ones: `{more}`"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    return blocks


async def handle(ctx: BotContext, cmd: CommandInvocation, reply: Reply) -> None:
    if not cmd.args:
        raise UsageError(USAGE)
    count = parse_count(cmd.args)
    spec = find_network(ctx, cmd.args[0])
    await authz.require(ctx, spec, authz.Permission.READ, user_id=cmd.user_id, channel_id=cmd.channel_id)
    try:
        entries = await audit.read(ctx.store, spec.name, count)
    except (RedisError, OSError) as e:
        raise StoreUnavailable(
            "Could not read the audit trail: Redis did not answer. Try again shortly."
        ) from e
    await reply.ephemeral(audit_text(spec.name, entries), audit_blocks(spec.name, entries, count))


def register(registry: VerbRegistry) -> None:
    registry.add("audit", handle)
