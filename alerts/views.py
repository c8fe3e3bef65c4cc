"""The `/conductor alerts` list with its "Share in channel" button, and the Timeline button of alerts.

- `/conductor alerts [NETWORK]` answers only the caller (ephemeral): one line per firing, pending or
  silenced alert, and a "Share in channel" button. Share posts a fresh copy of the list for the whole
  channel through the click's `response_url` (so it works wherever the caller could read it), saying
  who shared it, without buttons: the copy records one moment. Same rules as the command (READ: a
  command channel of the network).
- Timeline (on every alert, burst summary and leader change message) draws the network's last
  `commands.timeline.DEFAULT_WINDOW` and uploads it into the message's thread
  (`commands.timeline.post_timeline`). Anyone in the channel may ask (it shows what the channel
  already sees), but only in the network's alert channel or one of its command channels, and one
  picture per message per `TIMELINE_EVERY_SECONDS`: a double click or two people clicking together
  post one picture (claimed once in Redis across replicas), the other clicker is told.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from alerts.alert_store import AlertStore
from alerts.blocks import AlertButtonValue, Block
from alerts.ids import AlertAction, AlertBlock
from alerts.model import AlertState
from alerts.texts import SEVERITY_EMOJI, silence_text
from chat import authz
from chat.errors import BotError, StaleAction, WrongChannel
from chat.text import SECTION_LIMIT, clip, duration, escape
from commands.router import Respond, add_button, button_value
from commands.share import ShareValue, share_block
from commands.status import find_network
from commands.timeline import DEFAULT_WINDOW, load_timeline, post_timeline

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from chat.context import BotContext
    from cluster.topology import NetworkSpec

logger = logging.getLogger(__name__)

TIMELINE_EVERY_SECONDS = 60
NOTHING_FIRING = "No firing, pending or silenced alerts."
# The alert actions this module handles (`alerts.buttons` handles the rest).
VIEW_ACTIONS = frozenset({AlertAction.TIMELINE, AlertAction.SHARE_LIST})
STALE_TEXT = "This button does not belong to a message this bot knows; use `/conductor alerts`."


# --- the list -----------------------------------------------------------------------------------


async def network_lines(alerts: AlertStore, network: str, now: float) -> list[str]:
    """One line per firing, pending or silenced alert of the network (and one for a network silence)."""
    lines: list[str] = []
    silence = await alerts.silence(network, now)
    if silence is not None:
        lines.append(
            f":no_bell: `{network}`: every alert silenced by <@{silence.by}> "
            f"{silence_text(silence.until, now)}"
        )
    states = sorted((s.state for s in (await alerts.load(network)).values()), key=lambda s: s.fingerprint)
    for state in states:
        if state.phase in ("firing", "pending") or state.silenced_at(now):
            lines.append(alert_line(state, now))
    return lines


def alert_line(state: AlertState, now: float) -> str:
    started = state.fired_at if state.phase == "firing" else state.pending_since
    line = (
        f"{SEVERITY_EMOJI[state.severity]} *{state.phase}* {duration(now - (started or state.since))} "
        f"`{state.fingerprint}`: {escape(state.summary)}"
    )
    if state.acked_by:
        line += f" · acknowledged by <@{state.acked_by}>"
    if state.silenced_at(now) and state.silenced_until is not None:
        line += f" · silenced {silence_text(state.silenced_until, now)}"
    if state.cause is not None:
        line += f" · expected: request `{state.cause.request_id}`"
    return line[:600]


def alerts_list_blocks(lines: list[str], network: str | None, shared_by: str | None = None) -> list[Block]:
    """The list as sections of lines, then the Share button (or, on the shared copy, who shared it)."""
    blocks: list[Block] = []
    chunk = ""
    for line in lines or [NOTHING_FIRING]:
        if chunk and len(chunk) + 1 + len(line) > SECTION_LIMIT:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
        if len(blocks) >= 45:
            break
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(chunk, SECTION_LIMIT)}})
    blocks.append(
        share_block(AlertAction.SHARE_LIST.value, network, shared_by, AlertBlock.LIST_ACTIONS.value)
    )
    return blocks


async def alerts_list(ctx: BotContext, network: str | None, user_id: str, channel_id: str) -> list[str]:
    """The lines of the alerts the caller may read here (one network, or every network of the channel)."""
    if network is not None:
        specs = [find_network(ctx, network)]
        await authz.require(ctx, specs[0], authz.Permission.READ, user_id=user_id, channel_id=channel_id)
    else:
        specs = [s for s in ctx.topology.networks.values() if authz.command_allowed_in_channel(s, channel_id)]
    now = ctx.clock.now()
    alerts = AlertStore(ctx.store)
    lines: list[str] = []
    for spec in specs:
        lines.extend(await network_lines(alerts, spec.name, now))
    return lines


async def share_list(ctx: BotContext, body: dict[str, Any], respond: Respond) -> None:
    """Post a fresh copy of the alerts list for the whole channel, saying who shared it."""
    value = button_value(ShareValue, body, STALE_TEXT)
    user_id = str((body.get("user") or {}).get("id", ""))
    channel_id = str((body.get("channel") or {}).get("id", ""))
    lines = await alerts_list(ctx, value.network, user_id, channel_id)
    logger.info("alerts list shared network=%s user=%s", value.network or "*", user_id)
    await respond(
        text="\n".join(lines) if lines else NOTHING_FIRING,
        blocks=alerts_list_blocks(lines, value.network, shared_by=user_id),
        response_type="in_channel",
        replace_original=False,
    )


# --- the Timeline button --------------------------------------------------------------------------


def _where(body: dict[str, Any]) -> tuple[str, str]:
    """The clicked message's channel and the thread to post into (its own, or the one it is in)."""
    channel = str(
        (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id", "")
    )
    message = body.get("message") or {}
    container = body.get("container") or {}
    thread = (
        message.get("thread_ts")
        or container.get("thread_ts")
        or message.get("ts")
        or container.get("message_ts")
    )
    return channel, str(thread or "")


def _may_post_in(spec: NetworkSpec, channel: str) -> bool:
    return channel == spec.alert_channel or channel in spec.command_channels


async def timeline_clicked(ctx: BotContext, body: dict[str, Any], respond: Respond) -> None:
    """Upload the network's recent timeline into the thread of the clicked message."""
    value = button_value(AlertButtonValue, body, STALE_TEXT)
    spec = find_network(ctx, value.network)
    user = str((body.get("user") or {}).get("id", ""))
    channel, thread_ts = _where(body)
    if not channel or not thread_ts:
        raise StaleAction(STALE_TEXT)
    if not _may_post_in(spec, channel):
        raise WrongChannel(f"Timelines of `{spec.name}` are posted only in its alert or command channels.")
    claim = ctx.store.keys.once(spec.name, f"timeline:{channel}:{thread_ts}")
    if not await ctx.store.claim_once(claim, TIMELINE_EVERY_SECONDS * 1000):
        await respond(
            text="A timeline of this was just posted in its thread; look there.",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    now = ctx.clock.now()
    timeline = await load_timeline(ctx.store, spec.name, DEFAULT_WINDOW, now)
    if not timeline.points:
        await ctx.store.delete(claim)
        await respond(
            text=f"No history of `{spec.name}` yet: the watcher records one point per tick.",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    about = f" around `{value.fingerprint}`" if value.fingerprint else ""
    comment = (
        f"<@{user}> asked for the timeline of `{spec.name}`{about}: the last {duration(DEFAULT_WINDOW)}, "
        f"{len(timeline.points)} ticks, {len(timeline.markers)} markers"
    )
    logger.info("timeline requested from a message network=%s user=%s", spec.name, user)
    try:
        await post_timeline(ctx, timeline, channel, comment, thread_ts=thread_ts)
    except BotError:
        await ctx.store.delete(claim)  # nothing was posted: the next click may try again at once
        raise


def register_actions(app: AsyncApp, ctx: BotContext) -> None:
    add_button(
        app, ctx, AlertAction.TIMELINE.value, lambda body, respond: timeline_clicked(ctx, body, respond)
    )
    add_button(app, ctx, AlertAction.SHARE_LIST.value, lambda body, respond: share_list(ctx, body, respond))
