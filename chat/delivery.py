"""Delivers a network's Slack outbox (`store.outbox`): in order per message, once, through outages.

Used by the alert notifier and by approval messages alike; any replica may call `flush(network)`.

- **One live flusher per network**: `flush` holds `Keys.flush_lock(net)` through `store.locks.hold`
  (token + fencing epoch, TTL of `LOCK_INTERVALS` poll intervals, renewed in the background), so a
  replica that dies while flushing stops renewing and another delivers within a few intervals.
  Every record it makes (`Outbox.done`) is guarded by its token: a flusher that lost its lock
  during a pause records nothing and stops.
- **In order**: entries are taken oldest first and a transient failure stops the flush, so every
  message's post, updates and replies land in the order they were queued. A reply or update whose
  message was never posted (its post was refused for good) is dropped: there is nothing to attach
  it to.
- **Posted once across crashes**: every post and thread reply carries Slack message metadata naming
  its entry. The attempt is recorded before the call; an entry found with an attempt on record (its
  sender died, or the call timed out) is first looked up in the channel's recent history
  (`conversations.history` / `conversations.replies` with `include_all_metadata`), and the found
  ts is adopted instead of posting again.
- **Outages**: 429 sets a per-network back-off for Retry-After (`Keys.slack_backoff`) that every
  flusher of every replica honours; 5xx, timeouts and refused connections stop this flush and the
  next one (the next watcher tick, or the next write) retries. Permanent refusals
  (`channel_not_found`, `invalid_blocks`, ...) drop the entry with an error log so it cannot block
  the network forever; `message_not_found` on an update is permanent too.
- Several queued updates of one message collapse into the newest: after an outage the message is
  edited once, to its latest content.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from enum import Enum
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict
from slack_sdk.errors import SlackApiError

from chat.context import BotContext
from store import locks
from store.gateway import LockLost
from store.outbox import METADATA_EVENT, MessageRef, Outbox, Pending, SlackWrite

logger = logging.getLogger(__name__)

# Who holds a flush lock, in its token: host and pid.
PROCESS = f"{socket.gethostname()}:{os.getpid()}"

# The flush lock's TTL in poll intervals: a dead flusher is replaced within about this many.
LOCK_INTERVALS = 3
MIN_LOCK_TTL_MS = 1000
DEFAULT_RETRY_AFTER = 5.0
BATCH = 100
# A flush keeps going while writes keep arriving, up to this many batches (then the next tick).
MAX_BATCHES = 5
# How far back in a channel's history a lost post is searched for (seconds before its first try).
LOOKUP_MARGIN_SECONDS = 300
LOOKUP_LIMIT = 200
_TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)


class Outcome(Enum):
    DELIVERED = "delivered"
    DROPPED = "dropped"  # refused for good, or nothing left to attach it to
    RETRY = "retry"  # Slack failed transiently: keep it and stop this flush


class FlushReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    delivered: int = 0
    dropped: int = 0
    remaining: int = 0
    # Slack answered 429 for this network: nobody flushes it before its Retry-After.
    backing_off: bool = False
    # Nothing was flushed: another flusher holds the lock, or a Retry-After is in force.
    busy: bool = False
    # Posts whose ts was found in Slack's history instead of posting again.
    adopted: int = 0


@dataclass
class _Round:
    delivered: int = 0
    dropped: int = 0
    adopted: int = 0
    retry_after: float | None = None
    stop: bool = False


class Deliverer:
    """Flushes network outboxes for one process; any number may run against one Redis."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx
        self.outbox = Outbox(ctx.store)

    @property
    def lock_ttl_ms(self) -> int:
        return max(int(LOCK_INTERVALS * self.ctx.settings.poll_interval * 1000), MIN_LOCK_TTL_MS)

    async def submit(self, network: str, writes: list[SlackWrite]) -> FlushReport:
        await self.outbox.enqueue(network, writes)
        return await self.flush(network)

    async def flush(self, network: str) -> FlushReport:
        """Deliver the network's outbox in order, unless another flusher is at it or Slack said wait."""
        if await self.outbox.length(network) == 0:
            return FlushReport()  # the usual quiet tick: one round trip
        if await self.outbox.backoff_ms(network) > 0:
            return FlushReport(remaining=await self.outbox.length(network), busy=True, backing_off=True)
        done = _Round()
        for _ in range(MAX_BATCHES):
            try:
                await self._locked(network, done)
            except locks.LockBusy:
                if done.delivered or done.dropped:
                    break
                return FlushReport(remaining=await self.outbox.length(network), busy=True)
            except LockLost:
                logger.warning("flush lock lost network=%s; another flusher carries on", network)
                break
            # A writer that found the lock taken while we held it left its entry to us: look again
            # after letting go, so no entry waits for the next tick.
            if done.stop or await self.outbox.length(network) == 0:
                break
        if done.retry_after is not None:
            await self.outbox.back_off(network, done.retry_after)
        return FlushReport(
            delivered=done.delivered,
            dropped=done.dropped,
            adopted=done.adopted,
            remaining=await self.outbox.length(network),
            backing_off=done.retry_after is not None,
        )

    async def _locked(self, network: str, done: _Round) -> None:
        ttl = self.lock_ttl_ms
        key = self.ctx.store.keys.flush_lock(network)
        async with locks.hold(self.ctx.store, key, ttl, ttl / 3000, owner=PROCESS) as held:
            for _ in range(MAX_BATCHES):
                batch = await self.outbox.pending(network, BATCH)
                if not batch:
                    return
                await self._round(network, batch, held, done)
                if done.stop or len(batch) < BATCH:
                    return

    async def _round(self, network: str, batch: list[Pending], held: locks.HeldLock, done: _Round) -> None:
        lock = held.lock
        for i, entry in enumerate(batch):
            if held.lost.is_set():
                raise LockLost(lock.key)
            write = entry.write
            if write is None:
                logger.error("unreadable outbox entry dropped network=%s", network)
                await self.outbox.done(network, entry, lock.key, lock.token)
                continue
            if write.op == "update" and _superseded(write, batch[i + 1 :]):
                await self.outbox.done(network, entry, lock.key, lock.token)
                continue
            outcome, landed = await self._deliver(network, write, done)
            if outcome is Outcome.RETRY:
                done.stop = True
                return
            await self.outbox.done(network, entry, lock.key, lock.token, landed)
            if outcome is Outcome.DELIVERED:
                done.delivered += 1
            else:
                done.dropped += 1
                if write.op == "post":
                    logger.error("message dropped network=%s message=%s", network, write.message)

    # --- one write ---------------------------------------------------------------------------

    async def _deliver(
        self, network: str, write: SlackWrite, done: _Round
    ) -> tuple[Outcome, MessageRef | None]:
        try:
            if write.op == "post":
                return await self._post(network, write, done)
            target = await self._target(network, write)
            if target is None:
                logger.warning(
                    "%s for a message never posted dropped network=%s message=%s",
                    write.op,
                    network,
                    write.message,
                )
                return Outcome.DROPPED, None
            if write.op == "update":
                await self.ctx.slack.chat_update(
                    channel=target.channel, ts=target.ts, text=write.text, blocks=write.blocks
                )
                return Outcome.DELIVERED, None
            return await self._reply(network, write, target, done)
        except SlackApiError as e:
            outcome = self._slack_failed(network, write, e, done)
            if done.retry_after is not None:
                await self.outbox.forget_try(network, write.id)  # a 429 posted nothing
            return outcome, None
        except (aiohttp.ClientError, TimeoutError) as e:
            if isinstance(e, aiohttp.ClientConnectorError):
                # Nothing reached Slack: the retry need not search its history.
                await self.outbox.forget_try(network, write.id)
            logger.warning(
                "slack unreachable network=%s write=%s error=%s", network, write.label, type(e).__name__
            )
            return Outcome.RETRY, None

    async def _target(self, network: str, write: SlackWrite) -> MessageRef | None:
        if write.ts is not None:
            return MessageRef(channel=write.channel, ts=write.ts)
        return await self.outbox.message(network, write.message)

    async def _post(self, network: str, write: SlackWrite, done: _Round) -> tuple[Outcome, MessageRef | None]:
        landed = await self.outbox.message(network, write.message)
        if landed is not None:
            return Outcome.DELIVERED, None  # posted and recorded by a flusher that died before removing it
        first_try = await self.outbox.first_try(network, write.id)
        if first_try is not None:
            found = await self._find(write, first_try, thread_ts=write.thread_ts)
            if found is not None:
                done.adopted += 1
                logger.info("lost post found in history network=%s message=%s", network, write.message)
                return Outcome.DELIVERED, found
        await self.outbox.mark_try(network, write.id)
        response = await self.ctx.slack.chat_postMessage(
            channel=write.channel,
            thread_ts=write.thread_ts,
            text=write.text,
            blocks=write.blocks,
            metadata=write.metadata,
        )
        return Outcome.DELIVERED, MessageRef(channel=write.channel, ts=str(response["ts"]))

    async def _reply(
        self, network: str, write: SlackWrite, target: MessageRef, done: _Round
    ) -> tuple[Outcome, MessageRef | None]:
        first_try = await self.outbox.first_try(network, write.id)
        if first_try is not None and await self._find(write, first_try, thread_ts=target.ts) is not None:
            done.adopted += 1
            return Outcome.DELIVERED, None
        await self.outbox.mark_try(network, write.id)
        await self.ctx.slack.chat_postMessage(
            channel=target.channel, thread_ts=target.ts, text=write.text, metadata=write.metadata
        )
        return Outcome.DELIVERED, None

    async def _find(self, write: SlackWrite, first_try: float, thread_ts: str | None) -> MessageRef | None:
        """The message this write created on an earlier attempt, from the channel's recent history.

        A lookup Slack refuses for good (`missing_scope` on an install without the history scopes,
        `not_in_channel`, ...) counts as not found: posting again risks a duplicate, not a loss.
        """
        try:
            messages = await self._history(write, first_try, thread_ts)
        except SlackApiError as e:
            status = e.response.status_code if e.response is not None else 0
            error = str(e.response.get("error", "unknown")) if e.response is not None else "unknown"
            if status == 429 or status >= 500 or error in _TRANSIENT_ERRORS:
                raise
            logger.warning(
                "cannot look up a post of unknown outcome message=%s error=%s; sending it again",
                write.message,
                error,
            )
            return None
        for message in messages:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == METADATA_EVENT and payload.get("entry") == write.id:
                return MessageRef(channel=write.channel, ts=str(message["ts"]))
        return None

    async def _history(
        self, write: SlackWrite, first_try: float, thread_ts: str | None
    ) -> list[dict[str, Any]]:
        if thread_ts is None:
            oldest = f"{max(first_try - LOOKUP_MARGIN_SECONDS, 0):.6f}"
            response = await self.ctx.slack.conversations_history(
                channel=write.channel, oldest=oldest, limit=LOOKUP_LIMIT, include_all_metadata=True
            )
        else:
            response = await self.ctx.slack.conversations_replies(
                channel=write.channel, ts=thread_ts, limit=LOOKUP_LIMIT, include_all_metadata=True
            )
        return list(response.get("messages") or [])

    def _slack_failed(self, network: str, write: SlackWrite, e: SlackApiError, done: _Round) -> Outcome:
        status = e.response.status_code if e.response is not None else 0
        error = str(e.response.get("error", "unknown")) if e.response is not None else "unknown"
        if status == 429 or error == "ratelimited":
            done.retry_after = _retry_after(e)
            logger.warning("slack rate limited network=%s retry_after=%s", network, done.retry_after)
            return Outcome.RETRY
        if status >= 500 or error in _TRANSIENT_ERRORS:
            logger.warning(
                "slack failed network=%s write=%s status=%s error=%s", network, write.label, status, error
            )
            return Outcome.RETRY
        logger.error(
            "slack refused a write network=%s write=%s message=%s error=%s",
            network,
            write.label,
            write.message,
            error,
        )
        return Outcome.DROPPED


def _superseded(write: SlackWrite, later: list[Pending]) -> bool:
    """A later update of the same message makes this one pointless (it renders newer content)."""
    return any(
        p.write is not None and p.write.op == "update" and p.write.message == write.message for p in later
    )


def _retry_after(e: SlackApiError) -> float:
    headers = e.response.headers if e.response is not None else {}
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(float(raw), 1.0)
            except ValueError:
                break
    return DEFAULT_RETRY_AFTER
