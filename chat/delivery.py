"""Delivers a network's Slack outbox (`store.outbox`): in order per message, once, through outages.

Used by the alert notifier and by approval messages alike; any replica may call `flush(network)`.

- **One live flusher per network**: `flush` holds `Keys.flush_lock(net)` through `store.locks.hold`
  (token + fencing epoch, TTL of `LOCK_INTERVALS` poll intervals, renewed in the background), so a
  replica that dies while flushing stops renewing and another delivers within a few intervals.
  Every record it makes (`Outbox.done`) is guarded by its token: a flusher that lost its lock
  during a pause records nothing and stops.
- **In order**: entries are taken oldest first; a transient failure stops the flush, and a write
  left waiting (its channel held or paced) keeps every later write to its channel waiting too, so
  every message's post, updates and replies land in the order they were queued. A reply or update whose
  message was never posted (its post was refused for good) is dropped: there is nothing to attach
  it to.
- **Posted once across crashes**: every post and thread reply carries Slack message metadata naming
  its entry. The attempt is recorded before the call; an entry found with an attempt on record (its
  sender died, or the call timed out) is first looked up in the channel's recent history
  (`conversations.history` / `conversations.replies` with `include_all_metadata`), and the found
  ts is adopted instead of posting again.
- **Outages**: 429 sets a per-network back-off for Retry-After (`Keys.slack_backoff`) that every
  flusher of every replica honours; 5xx, timeouts and refused connections stop this flush and the
  next one (the next watcher tick, or the next write) retries.
- **Channels the bot cannot post to** (`not_in_channel`, `channel_not_found`, `is_archived`,
  `restricted_action`): the write and every later write of the network to that channel wait in the
  outbox (`Outbox.hold`), while other channels go on. One write probes the channel again after
  `refusals.HOLD_PROBE_SECONDS`; an invite (`chat.channel_check.joined`) releases them at once, in order.
  A write still waiting after `refusals.HOLD_MAX_AGE_SECONDS` is given up (logged, counted).
- `message_not_found` on an update (an edit can reach Slack before its message is readable) is
  retried on later flushes (`NOT_FOUND_TRIES` tries and `NOT_FOUND_MIN_SECONDS` since it was
  queued), then reported: logged, counted (`slack_writes_lost_total`), and the message's latest
  text posted anew with a warning. Other refusals (`invalid_blocks`, ...) drop the entry with an
  error log naming Slack's code.
- **Pacing** (`slack_channel_rate` posts a second per channel, 0: off): each post or reply takes
  the channel's next slot (`Outbox.pace`, shared by every replica); a channel whose slot is not
  free waits for a flush scheduled when it is, other channels are not held up. Replies queued for
  one message are merged into one reply, so a burst (an approval's steps) costs one slot.
- Several queued updates of one message collapse into the newest: after an outage the message is
  edited once, to its latest content.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass, field

import aiohttp
from pydantic import BaseModel, ConfigDict
from slack_sdk.errors import SlackApiError

from chat import refusals
from chat.context import BotContext
from chat.lookup import TRANSIENT_ERRORS, find_sent, slack_code
from chat.refusals import Outcome
from store import locks
from store.gateway import LockLost
from store.outbox import MessageRef, Outbox, Pending, SlackWrite

logger = logging.getLogger(__name__)

# Who holds a flush lock, in its token: host and pid.
PROCESS = f"{socket.gethostname()}:{os.getpid()}"

# The flush lock's TTL in poll intervals: a dead flusher is replaced within about this many.
LOCK_INTERVALS = 3
MIN_LOCK_TTL_MS = 1000
BATCH = 100
# A flush keeps going while writes keep arriving, up to this many batches (then the next tick).
MAX_BATCHES = 5
# A merged reply stays well under Slack's text limits and readable.
MERGE_MAX_CHARS = 3000
MERGE_MAX_REPLIES = 20


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
    # Entries left waiting for their channel (the bot cannot post there, or its pace).
    waiting: int = 0


@dataclass
class _Round:
    delivered: int = 0
    dropped: int = 0
    adopted: int = 0
    retry_after: float | None = None
    stop: bool = False
    # Channels whose writes wait this flush: Slack's code, or "paced".
    waiting: dict[str, str] = field(default_factory=dict)
    # Channels found without a hold this flush.
    open: set[str] = field(default_factory=set)
    pace_ms: int | None = None
    # Entries left in the list ahead of the cursor, in this pass over it.
    left: int = 0


class Deliverer:
    """Flushes network outboxes for one process; any number may run against one Redis."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx
        self.outbox = Outbox(ctx.store)

    @property
    def lock_ttl_ms(self) -> int:
        return max(int(LOCK_INTERVALS * self.ctx.settings.poll_interval * 1000), MIN_LOCK_TTL_MS)

    @property
    def pace_ms(self) -> int:
        """Milliseconds between two posts to one channel (0: not paced)."""
        rate = self.ctx.settings.slack_channel_rate
        return int(1000 / rate) if rate > 0 else 0

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
            if done.stop or await self.outbox.length(network) <= done.left:
                break
        if done.retry_after is not None:
            await self.outbox.back_off(network, done.retry_after)
        if done.pace_ms is not None:
            self._flush_later(network, done.pace_ms)
        return FlushReport(
            delivered=done.delivered,
            dropped=done.dropped,
            adopted=done.adopted,
            remaining=await self.outbox.length(network),
            backing_off=done.retry_after is not None,
            waiting=done.left,
        )

    def _flush_later(self, network: str, ms: int) -> None:
        """Flush again once a paced channel's slot is free (one such flush per network at a time)."""
        if network in self.ctx.later_flushes:
            return
        self.ctx.later_flushes.add(network)

        async def later() -> None:
            try:
                await asyncio.sleep(ms / 1000)
            finally:
                self.ctx.later_flushes.discard(network)
            await Deliverer(self.ctx).flush(network)

        self.ctx.spawn(later(), name=f"paced-flush-{network}")

    async def _locked(self, network: str, done: _Round) -> None:
        ttl = self.lock_ttl_ms
        key = self.ctx.store.keys.flush_lock(network)
        done.left = 0
        async with locks.hold(self.ctx.store, key, ttl, ttl / 3000, owner=PROCESS) as held:
            for _ in range(MAX_BATCHES):
                batch = await self.outbox.pending(network, BATCH, done.left)
                if not batch:
                    return
                await self._round(network, batch, held, done)
                if done.stop or len(batch) < BATCH:
                    return

    async def _round(self, network: str, batch: list[Pending], held: locks.HeldLock, done: _Round) -> None:
        lock = held.lock
        taken: set[str] = set()  # entries a merged reply already delivered
        for i, entry in enumerate(batch):
            if held.lost.is_set():
                raise LockLost(lock.key)
            write = entry.write
            if write is None:
                logger.error("unreadable outbox entry dropped network=%s", network)
                await self.outbox.done(network, entry, lock.key, lock.token)
                continue
            if write.id in taken:
                continue
            if await self._waits(network, write, done):
                await self._keep_waiting(network, [entry], held, done)
                continue
            if write.op == "update" and _superseded(write, batch[i + 1 :]):
                await self.outbox.done(network, entry, lock.key, lock.token)
                continue
            if (wait := await self._pace(write)) > 0:
                done.waiting[write.channel] = refusals.PACED
                done.pace_ms = min(wait, done.pace_ms or wait)
                done.left += 1
                continue
            group = self._merge(entry, batch[i + 1 :])
            outcome, landed, group = await self._deliver(network, group, done)
            if outcome is Outcome.RETRY:
                done.stop = True
                return
            if outcome is Outcome.WAIT:
                # The write that probes a held channel ages out like those waiting behind it.
                await self._keep_waiting(network, group, held, done)
                continue
            await self.outbox.done(network, group, lock.key, lock.token, landed)
            taken.update(p.write.id for p in group if p.write is not None)
            if outcome is Outcome.DELIVERED:
                done.delivered += len(group)
            else:
                done.dropped += 1
                if write.op == "post":
                    logger.error("message dropped network=%s message=%s", network, write.message)

    async def _keep_waiting(
        self, network: str, group: list[Pending], held: locks.HeldLock, done: _Round
    ) -> None:
        """Leave a waiting write in the outbox, unless it has waited too long for its channel."""
        write = group[0].write
        assert write is not None
        if refusals.expired(self.ctx, network, write, done.waiting.get(write.channel, "")):
            await self.outbox.done(network, group, held.lock.key, held.lock.token)
            done.dropped += len(group)
        else:
            done.left += 1

    async def _waits(self, network: str, write: SlackWrite, done: _Round) -> bool:
        """Whether the write must wait: its channel is held, or an earlier write to it waits."""
        channel = write.channel
        if channel in done.waiting:
            return True
        if channel in done.open:
            return False
        code = await self.outbox.held(network, channel)
        if code is None:
            done.open.add(channel)
            return False
        done.waiting[channel] = code
        return True

    async def _pace(self, write: SlackWrite) -> int:
        # Updates edit in place (another Slack method and limit) and collapse on their own.
        if write.op == "update" or self.pace_ms == 0:
            return 0
        return await self.outbox.pace(write.channel, self.pace_ms)

    def _merge(self, entry: Pending, later: list[Pending]) -> list[Pending]:
        """The entry, with the replies to the same message queued right after it when paced."""
        write = entry.write
        group = [entry]
        if write is None or write.op != "reply" or self.pace_ms == 0:
            return group
        size = len(write.text)
        for p in later:
            other = p.write
            if other is None or other.channel != write.channel:
                continue  # another channel's writes are independent of this one's order
            if other.op != "reply" or other.message != write.message:
                break
            size += len(other.text) + 1
            if size > MERGE_MAX_CHARS or len(group) >= MERGE_MAX_REPLIES:
                break
            group.append(p)
        return group

    # --- one write ---------------------------------------------------------------------------

    async def _deliver(
        self, network: str, group: list[Pending], done: _Round
    ) -> tuple[Outcome, MessageRef | None, list[Pending]]:
        write = group[0].write
        assert write is not None
        try:
            if write.op == "post":
                outcome, landed = await self._post(network, write, done)
                return outcome, landed, group
            target = await self._target(network, write)
            if target is None:
                logger.warning(
                    "%s for a message never posted dropped network=%s message=%s",
                    write.op,
                    network,
                    write.message,
                )
                return Outcome.DROPPED, None, group
            if write.op == "update":
                await self.ctx.slack.chat_update(
                    channel=target.channel, ts=target.ts, text=write.text, blocks=write.blocks
                )
                return Outcome.DELIVERED, None, group
            return await self._reply(network, group, target, done)
        except SlackApiError as e:
            outcome = await self._slack_failed(network, write, e, done)
            if done.retry_after is not None:
                await self.outbox.forget_try(network, write.id)  # a 429 posted nothing
            return outcome, None, group
        except (aiohttp.ClientError, TimeoutError) as e:
            if isinstance(e, aiohttp.ClientConnectorError):
                # Nothing reached Slack: the retry need not search its history.
                await self.outbox.forget_try(network, write.id)
            logger.warning(
                "slack unreachable network=%s write=%s error=%s", network, write.label, type(e).__name__
            )
            return Outcome.RETRY, None, group

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
            found = await find_sent(self.ctx.slack, write, first_try, thread_ts=write.thread_ts)
            if found is not None:
                done.adopted += 1
                logger.info("lost post found in history network=%s message=%s", network, write.message)
                return Outcome.DELIVERED, found[0]
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
        self, network: str, group: list[Pending], target: MessageRef, done: _Round
    ) -> tuple[Outcome, MessageRef | None, list[Pending]]:
        """One thread reply carrying the group's texts; its metadata names every entry it carries."""
        write = group[0].write
        assert write is not None
        first_try = await self.outbox.first_try(network, write.id)
        if first_try is not None:
            found = await find_sent(self.ctx.slack, write, first_try, thread_ts=target.ts)
            if found is not None:
                done.adopted += 1
                carried = {write.id, *found[1]}
                return Outcome.DELIVERED, None, [p for p in group if p.write and p.write.id in carried]
        await self.outbox.mark_try(network, write.id)
        merged = tuple(p.write.id for p in group[1:] if p.write is not None)
        await self.ctx.slack.chat_postMessage(
            channel=target.channel,
            thread_ts=target.ts,
            text="\n".join(p.write.text for p in group if p.write is not None),
            metadata=write.merged_metadata(merged),
        )
        return Outcome.DELIVERED, None, group

    async def _slack_failed(self, network: str, write: SlackWrite, e: SlackApiError, done: _Round) -> Outcome:
        status = e.response.status_code if e.response is not None else 0
        error = slack_code(e)
        if status == 429 or error == "ratelimited":
            done.retry_after = refusals.retry_after(e)
            logger.warning("slack rate limited network=%s retry_after=%s", network, done.retry_after)
            return Outcome.RETRY
        if status >= 500 or error in TRANSIENT_ERRORS:
            logger.warning(
                "slack failed network=%s write=%s status=%s error=%s", network, write.label, status, error
            )
            return Outcome.RETRY
        outcome = await refusals.refused(self.ctx, self.outbox, network, write, error)
        if outcome is Outcome.WAIT:
            done.waiting[write.channel] = error
        return outcome


def _superseded(write: SlackWrite, later: list[Pending]) -> bool:
    """A later update of the same message makes this one pointless (it renders newer content)."""
    return any(
        p.write is not None and p.write.op == "update" and p.write.message == write.message for p in later
    )
