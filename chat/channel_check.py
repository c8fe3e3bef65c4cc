"""Checking that the bot can post in every configured channel, and letting held writes go once it can.

    watch(ctx)          from start-up: `check_all`, then every `RECHECK_SECONDS` a re-check of the
                        channels it cannot post to (so /readyz clears once someone invites it)
    check_all(ctx)      `conversations.info` (`is_member`) for every alert and command channel of the
                        topology; one ERROR line per channel the bot cannot post to, with Slack's code
                        and the `/invite` to run
    postable(ctx, ch)   a command's check before it opens anything: the known refusal, else Slack
                        asked (at most once per `MEMBER_TTL_SECONDS` per channel and process)
    joined(ctx, ch)     the bot is in the channel now (its `member_joined_channel` event, or a check
                        passed): forget the refusal, release every network's writes held for the
                        channel and flush them, in the order they were queued

A check Slack cannot answer (an outage, `missing_scope` on an install without `channels:read`)
changes nothing: the next write finds out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import aiohttp
from slack_sdk.errors import SlackApiError

from chat.channel_access import UNPOSTABLE
from chat.context import BotContext
from chat.delivery import Deliverer
from chat.lookup import slack_code
from cluster.topology import Topology
from store.outbox import Outbox

logger = logging.getLogger(__name__)

RECHECK_SECONDS = 60.0
# conversations.info is a tier-3 method (about 50 a minute): a few at a time.
CHECK_CONCURRENCY = 4
# Slack did not say (outage, missing scope): neither a refusal nor a pass.
UNKNOWN = "unknown"


def configured_channels(topology: Topology) -> dict[str, list[str]]:
    """Every alert and command channel of the topology -> the networks using it."""
    found: dict[str, list[str]] = defaultdict(list)
    for name, spec in topology.networks.items():
        for channel in (spec.alert_channel, *spec.command_channels):
            if channel and name not in found[channel]:
                found[channel].append(name)
    return dict(found)


async def probe(ctx: BotContext, channel: str) -> str | None:
    """Slack's reason the bot cannot post in `channel`; None when it can; `UNKNOWN` if Slack did not say."""
    try:
        answer = await ctx.slack.conversations_info(channel=channel)
    except SlackApiError as e:
        code = slack_code(e)
        if code in UNPOSTABLE:
            ctx.channels.refused(channel, code)
            return code
        logger.warning("channel check failed channel=%s error=%s", channel, code)
        return UNKNOWN
    except (aiohttp.ClientError, TimeoutError) as e:
        logger.warning("channel check failed channel=%s error=%s", channel, type(e).__name__)
        return UNKNOWN
    info = answer.get("channel") or {}
    if info.get("name"):
        ctx.channels.names[channel] = str(info["name"])
    refusal: str | None = "is_archived" if info.get("is_archived") else None
    if refusal is None and info.get("is_member") is False:
        refusal = "not_in_channel"  # absent (a DM) means nothing to join
    if refusal is not None:
        ctx.channels.refused(channel, refusal)
    return refusal


async def check_all(ctx: BotContext) -> dict[str, str]:
    """Check every configured channel; returns those the bot cannot post to, with Slack's code."""
    channels = configured_channels(ctx.topology)
    gate = asyncio.Semaphore(CHECK_CONCURRENCY)

    async def one(channel: str) -> tuple[str, str | None]:
        async with gate:
            return channel, await probe(ctx, channel)

    failing: dict[str, str] = {}
    for channel, code in await asyncio.gather(*(one(c) for c in channels)):
        if code is None:
            await joined(ctx, channel, networks=channels[channel], quiet=True)
        elif code != UNKNOWN:
            failing[channel] = code
            logger.error(
                "cannot post to channel=%s name=%s networks=%s error=%s; invite the bot there: %s",
                channel,
                ctx.channels.shown(channel),
                ",".join(channels[channel]),
                code,
                ctx.channels.invite_hint(),
            )
    logger.info("channel access checked channels=%d failing=%d", len(channels), len(failing))
    return failing


async def postable(ctx: BotContext, channel: str) -> str | None:
    """Slack's reason the bot cannot post in `channel` (known, or asked now), else None."""
    known = ctx.channels.unpostable.get(channel)
    if known is not None:
        return known
    if ctx.channels.known_member(channel):
        return None
    code = await probe(ctx, channel)
    if code is None:
        ctx.channels.joined(channel)
    return None if code == UNKNOWN else code


async def joined(
    ctx: BotContext, channel: str, *, networks: list[str] | None = None, quiet: bool = False
) -> None:
    """The bot can post in `channel` now: release and flush the writes held for it (of `networks`,
    default every network: an approval message may be in any channel a command came from)."""
    was_refused = ctx.channels.unpostable.get(channel)
    ctx.channels.joined(channel)
    outbox = Outbox(ctx.store)
    gate = asyncio.Semaphore(16)

    async def release(network: str) -> str | None:
        async with gate:
            return network if await outbox.release(network, channel) else None

    released = [
        n for n in await asyncio.gather(*(release(n) for n in networks or ctx.topology.networks)) if n
    ]
    if was_refused or released or not quiet:
        logger.info(
            "bot can post in channel=%s name=%s; released networks=%s",
            channel,
            ctx.channels.shown(channel),
            ",".join(released) or "-",
        )
    for network in released:
        ctx.spawn(_flush(ctx, network), name=f"released-flush-{network}")


async def _flush(ctx: BotContext, network: str) -> None:
    await Deliverer(ctx).flush(network)


async def watch(ctx: BotContext, interval: float = RECHECK_SECONDS) -> None:
    """The start-up check, then a re-check of the failing channels every `interval` (until cancelled).

    A round that fails (Redis away while releasing, an unexpected Slack answer) is logged and the
    next one runs: a dead checker would leave a channel failing in /readyz until the next invite.
    """
    try:
        await check_all(ctx)
    except Exception as e:
        logger.warning("channel check failed error=%s; retrying in %.0fs", type(e).__name__, interval)
    while True:
        await asyncio.sleep(interval)
        try:
            for channel, code in list(ctx.channels.unpostable.items()):
                # conversations.info cannot tell a posting restriction is gone: the held write that
                # probes the channel each minute finds out instead.
                if code == "restricted_action":
                    continue
                if await probe(ctx, channel) is None:
                    await joined(ctx, channel)
        except Exception as e:
            logger.warning("channel re-check failed error=%s; retrying in %.0fs", type(e).__name__, interval)
