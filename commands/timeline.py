"""`/conductor timeline NETWORK [WINDOW]`: a PNG of the network's recent past, posted in the channel.

The picture (`commands.timeline_chart`) is drawn from the watcher's per-tick records
(`store.history`) plus the operations that started executing in the window (the audit stream's
EXECUTE entries), then uploaded with `files_upload_v2` (files.getUploadURLExternal, the upload,
files.completeUploadExternal). WINDOW is a span in the one duration grammar (`30m`, `2h`, `1h30m`),
30 minutes by default, at most `MAX_WINDOW`; the history itself holds `store.history.MAX_POINTS`
ticks. READ permission, like `status`. Drawing takes about half a second of CPU, so it runs in a
worker thread, not on the event loop that acks other users' commands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict
from slack_sdk.errors import SlackApiError

from chat import authz
from chat.errors import BotError, UsageError
from chat.suggest import closest_duration
from chat.text import duration, parse_span
from commands.status import find_network
from commands.timeline_chart import Marker, alert_markers, render_png
from store import audit, history
from store.audit import AuditEntry, AuditKind
from store.gateway import Store
from store.history import HistoryPoint

if TYPE_CHECKING:
    from chat.context import BotContext
    from commands.router import CommandInvocation, Reply, VerbRegistry

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = 30 * 60.0
MAX_WINDOW = 24 * 3600.0
# Audit entries read back to find the operations of the window: far more than one window holds.
AUDIT_LOOKBACK = 500
USAGE = "Usage: `/conductor timeline NETWORK [WINDOW]` (e.g. `30m`, `2h`; default 30m)"


class UploadFailed(BotError):
    """Raised when Slack refused the timeline upload; the message names Slack's error code."""


class Timeline(BaseModel):
    """What one picture shows: the points and markers between `start` and `end`."""

    model_config = ConfigDict(frozen=True)

    network: str
    points: tuple[HistoryPoint, ...]
    markers: tuple[Marker, ...]
    start: float
    end: float

    def png(self) -> bytes:
        return render_png(self.network, self.points, self.markers, self.start, self.end)


def parse_window(args: Sequence[str]) -> float:
    """The WINDOW argument in seconds (default 30 minutes); a UsageError guesses what a typo meant."""
    if not args:
        return DEFAULT_WINDOW
    seconds = parse_span(args[0])
    if seconds is None:
        guess = closest_duration(args[0])
        meant = f" — did you mean `{guess}`?" if guess is not None else "."
        raise UsageError(f"`{args[0]}` is not a duration{meant} {USAGE}")
    if not 60 <= seconds <= MAX_WINDOW:
        raise UsageError(f"A timeline covers 1 minute to {duration(MAX_WINDOW)}. {USAGE}")
    return seconds


def operation_markers(entries: Sequence[AuditEntry], start: float, end: float) -> list[Marker]:
    """An operation marker where each approved operation started executing within the window."""
    return [
        Marker(e.at, "operation", e.data.get("command") or e.message)
        for e in entries
        if e.kind is AuditKind.EXECUTE and start <= e.at <= end
    ]


async def load_timeline(store: Store, network: str, window: float, end: float | None) -> Timeline:
    """The timeline of the `window` seconds before `end` (None: before the newest record)."""
    since = end - window if end is not None else 0.0
    points = await history.read(store, network, since)
    if end is None:
        end = points[-1].at if points else 0.0
        points = [p for p in points if p.at >= end - window]
    entries = await audit.read(store, network, AUDIT_LOOKBACK)
    start = end - window
    markers = [*alert_markers(points), *operation_markers(entries, start, end)]
    return Timeline(
        network=network,
        points=tuple(points),
        markers=tuple(sorted(markers, key=lambda m: m.at)),
        start=start,
        end=end,
    )


async def handle(ctx: BotContext, cmd: CommandInvocation, reply: Reply) -> None:
    if not 1 <= len(cmd.args) <= 2:
        raise UsageError(USAGE)
    spec = find_network(ctx, cmd.args[0])
    await authz.require(ctx, spec, authz.Permission.READ, user_id=cmd.user_id, channel_id=cmd.channel_id)
    window = parse_window(cmd.args[1:])
    timeline = await load_timeline(ctx.store, spec.name, window, ctx.clock.now())
    if not timeline.points:
        await reply.ephemeral(
            f"No history of `{spec.name}` in the last {duration(window)} yet: the watcher records one "
            "point per tick, so try again once it has watched the network for a while."
        )
        return
    comment = (
        f"<@{cmd.user_id}> asked for the timeline of `{spec.name}`: the last {duration(window)}, "
        f"{len(timeline.points)} ticks, {len(timeline.markers)} markers"
    )
    await post_timeline(ctx, timeline, cmd.channel_id, comment)


async def post_timeline(
    ctx: BotContext, timeline: Timeline, channel: str, comment: str, thread_ts: str | None = None
) -> str:
    """Draw and upload the picture into `channel` (or a thread of it); returns the file id."""
    png = await asyncio.to_thread(timeline.png)
    try:
        response = await ctx.slack.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            file=png,
            filename=f"{timeline.network}-timeline-{int(timeline.end)}.png",
            title=f"{timeline.network}: the last {duration(timeline.end - timeline.start)}",
            alt_txt=f"Unsafe head, leader and active sequencer of {timeline.network} over time",
            initial_comment=comment,
        )
    except SlackApiError as e:
        code = str(e.response.get("error", "unknown"))
        logger.warning("timeline upload failed network=%s slack_error=%s", timeline.network, code)
        hint = (
            " Invite the bot to this channel (`/invite @conductor-bot`)." if code == "not_in_channel" else ""
        )
        raise UploadFailed(f"Slack refused the timeline upload (`{code}`).{hint}") from e
    file_id = str((response.get("file") or {}).get("id", ""))
    logger.info("timeline posted network=%s bytes=%d file=%s", timeline.network, len(png), file_id)
    return file_id


def register(registry: VerbRegistry) -> None:
    registry.add("timeline", handle)
