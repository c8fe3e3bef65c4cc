"""How the outbox (`chat.delivery`) answers a Slack refusal that retrying at once cannot fix.

    channel refusals (`UNPOSTABLE`)   WAIT: the channel is held for the network, the write and every
                                      later one to that channel wait; one probes it again later
    message_not_found on an update    WAIT for `NOT_FOUND_TRIES - 1` more flushes, then reported
    anything else                     DROPPED, logged with Slack's code and counted

Every refusal is logged with Slack's error code.
"""

from __future__ import annotations

import logging
from enum import Enum

from slack_sdk.errors import SlackApiError

from chat import metrics
from chat.channel_access import UNPOSTABLE
from chat.context import BotContext
from store.outbox import Outbox, SlackWrite

logger = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER = 5.0
# A channel the bot cannot post to is probed with one write this often (an invite releases it sooner).
HOLD_PROBE_SECONDS = 60.0
# A write waiting that long for its channel is given up: the outbox must not grow for ever.
HOLD_MAX_AGE_SECONDS = 24 * 3600.0
# Attempts of an update Slack answers `message_not_found` before it is reported as lost, and the
# least time since it was queued: flushes can run back to back, and the point of retrying is to give
# Slack time to make a new message readable.
NOT_FOUND_TRIES = 3
NOT_FOUND_MIN_SECONDS = 10.0
PACED = "paced"


class Outcome(Enum):
    DELIVERED = "delivered"
    DROPPED = "dropped"  # refused for good, or nothing left to attach it to
    RETRY = "retry"  # Slack failed transiently: keep it and stop this flush
    WAIT = "wait"  # keep it, and every later write to its channel, for a later flush


async def refused(ctx: BotContext, outbox: Outbox, network: str, write: SlackWrite, error: str) -> Outcome:
    """What becomes of `write` after Slack refused it with `error` (not a rate limit, not a 5xx)."""
    if error in UNPOSTABLE:
        await outbox.hold(network, write.channel, error, int(HOLD_PROBE_SECONDS * 1000))
        ctx.channels.refused(write.channel, error)
        logger.error(
            "slack refused a write network=%s channel=%s write=%s error=%s; it waits in the outbox "
            "until the bot can post there (/invite @%s)",
            network,
            write.channel,
            write.label,
            error,
            ctx.channels.bot_name,
        )
        return Outcome.WAIT
    if error == "message_not_found" and write.op == "update":
        tries = await outbox.failed(network, write.id)
        young = bool(write.queued_at) and ctx.clock.now() - write.queued_at < NOT_FOUND_MIN_SECONDS
        if tries < NOT_FOUND_TRIES or young:
            logger.warning(
                "slack could not find a message to update network=%s message=%s error=%s try=%d; "
                "retrying on the next flush",
                network,
                write.message,
                error,
                tries,
            )
            return Outcome.WAIT
        await _report_lost_update(outbox, network, write, error)
        return Outcome.DROPPED
    metrics.SLACK_WRITES_LOST.labels(write.label or write.op, error).inc()
    logger.error(
        "slack refused a write network=%s write=%s message=%s error=%s",
        network,
        write.label,
        write.message,
        error,
    )
    return Outcome.DROPPED


def expired(ctx: BotContext, network: str, write: SlackWrite, why: str) -> bool:
    """Whether a write waiting for its channel (`why`: Slack's code) has waited too long: given up."""
    if why == PACED or not write.queued_at:
        return False
    if ctx.clock.now() - write.queued_at < HOLD_MAX_AGE_SECONDS:
        return False
    metrics.SLACK_WRITES_LOST.labels(write.label or write.op, why).inc()
    logger.error(
        "write given up after waiting a day for its channel network=%s channel=%s message=%s error=%s",
        network,
        write.channel,
        write.message,
        why,
    )
    return True


async def _report_lost_update(outbox: Outbox, network: str, write: SlackWrite, error: str) -> None:
    """An update Slack never found its message for: say so where people look, with its content."""
    metrics.SLACK_WRITES_LOST.labels(write.label or write.op, error).inc()
    logger.error(
        "message could not be updated network=%s message=%s error=%s tries=%d; posting its content anew",
        network,
        write.message,
        error,
        NOT_FOUND_TRIES,
    )
    # Text only: the old message's buttons must not come back to life in a copy.
    notice = SlackWrite(
        message=f"{write.message}:unreachable:{write.id}",
        op="post",
        channel=write.channel,
        text=f":warning: I could not update an earlier message (Slack said `{error}`; it may have "
        f"been deleted). Where it stands now:\n{write.text}",
        label="update_lost",
        queued_at=write.queued_at,
    )
    await outbox.enqueue(network, [notice])


def retry_after(e: SlackApiError) -> float:
    headers = e.response.headers if e.response is not None else {}
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(float(raw), 1.0)
            except ValueError:
                break
    return DEFAULT_RETRY_AFTER
