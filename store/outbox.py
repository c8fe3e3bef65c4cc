"""The Slack outbox in Redis: every Slack write the bot makes about a network, as an immutable entry.

An entry (`SlackWrite`) carries everything needed to deliver it: the message it is about (a message
key such as `alert:<fp>:<episode>` or `request:<id>`), the operation (post the message, update it,
reply in its thread), the channel, and the text and blocks rendered when it was queued. Nothing is
re-rendered at delivery, so an entry queued for one alert episode can only ever land on that
episode's message, showing that episode's state.

Keys (see `store.keys.Keys`): the list `outbox(net)` (oldest first), the hash `outbox_tries(net)`
(entries whose send was attempted: their outcome is unknown until recorded), and one
`slack_message(net, message)` record per delivered message holding its (channel, ts).

Removing a delivered entry (or the several entries one merged reply delivered), forgetting its try
and recording where its message landed is one Lua script (`outbox_done.lua`) guarded by the
flusher's lock token: a flusher whose lock expired during a pause cannot record anything over the
next holder's work.

Also here: per-network channel holds (`channel_hold`: writes to a channel the bot cannot post to
wait instead of being dropped), `message_not_found` counts per entry (`outbox_failures`), and the
per-channel posting pace shared by every replica (`pace.lua`).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from store.gateway import LockLost, Store, text

logger = logging.getLogger(__name__)

# How long a delivered message stays addressable for later updates and replies (renewed on use).
MESSAGE_TTL_MS = 3 * 24 * 3600 * 1000
# The Slack message metadata event type every top-level post and reply of the outbox carries.
METADATA_EVENT = "conductor_bot_write"

Op = Literal["post", "update", "reply"]


class MessageRef(BaseModel):
    """Where a message landed in Slack."""

    model_config = ConfigDict(frozen=True)

    channel: str
    ts: str


class SlackWrite(BaseModel):
    """One Slack write waiting in the outbox; `id` is unique and tags the Slack message it creates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    message: str = Field(min_length=1)
    op: Op
    channel: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    # What it is, for logs and metrics: alert_post, resolved, reminder, approval_update, ...
    label: str = ""
    queued_at: float = 0.0
    # The message's ts when it was posted outside the outbox (an approval message); else looked up.
    ts: str | None = None
    # A post that goes into this thread (an alert caused by an approved request, under the request).
    thread_ts: str | None = None

    @model_serializer(mode="wrap")
    def _without_unset_thread(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Entries that are not thread posts stay readable by a replica on the previous version.
        data: dict[str, Any] = handler(self)
        if data.get("thread_ts", "") is None:
            del data["thread_ts"]
        return data

    @property
    def metadata(self) -> dict[str, Any]:
        """Slack message metadata tagging what this write creates, to find it again after a crash."""
        return self.merged_metadata(())

    def merged_metadata(self, merged: tuple[str, ...]) -> dict[str, Any]:
        """The metadata of one reply that also carries the entries `merged` (their ids)."""
        payload: dict[str, Any] = {"message": self.message, "entry": self.id, "queued_at": self.queued_at}
        if merged:
            payload["merged"] = list(merged)
        return {"event_type": METADATA_EVENT, "event_payload": payload}


class Pending(BaseModel):
    """An entry as read from the list: its raw text (to remove exactly it) and, if it parses, itself."""

    model_config = ConfigDict(frozen=True)

    raw: str
    write: SlackWrite | None


class Outbox:
    """Typed access to one deployment's outbox keys."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.keys = store.keys

    async def enqueue(self, network: str, writes: list[SlackWrite]) -> None:
        if writes:
            await self.store.redis.rpush(self.keys.outbox(network), *(w.model_dump_json() for w in writes))

    async def pending(self, network: str, limit: int = 0, start: int = 0) -> list[Pending]:
        """The oldest `limit` entries (0: all) from position `start` (past entries left waiting)."""
        raw = await self.store.redis.lrange(self.keys.outbox(network), start, start + limit - 1)
        out: list[Pending] = []
        for item in raw:
            body = text(item)
            try:
                out.append(Pending(raw=body, write=SlackWrite.model_validate_json(body)))
            except ValidationError:
                out.append(Pending(raw=body, write=None))
        return out

    async def length(self, network: str) -> int:
        return int(await self.store.redis.llen(self.keys.outbox(network)))

    async def message(self, network: str, message: str) -> MessageRef | None:
        raw = await self.store.redis.get(self.keys.slack_message(network, message))
        return None if raw is None else MessageRef.model_validate_json(text(raw))

    async def first_try(self, network: str, entry_id: str) -> float | None:
        """Wall time of the entry's first send attempt, or None if it was never attempted."""
        raw = await self.store.redis.hget(self.keys.outbox_tries(network), entry_id)
        return None if raw is None else float(text(raw))

    async def mark_try(self, network: str, entry_id: str) -> None:
        # Written before the Slack call: from here on, a crash leaves an unknown outcome behind.
        await self.store.redis.hsetnx(self.keys.outbox_tries(network), entry_id, repr(time.time()))

    async def forget_try(self, network: str, entry_id: str) -> None:
        """Slack certainly did not take it (refused connection, 429): a retry need not look it up."""
        await self.store.redis.hdel(self.keys.outbox_tries(network), entry_id)

    async def done(
        self,
        network: str,
        entries: Pending | list[Pending],
        lock_key: str,
        token: str,
        landed: MessageRef | None = None,
    ) -> None:
        """Remove delivered (or dropped) entries; `landed`: where the message the first one posted is.

        Raises `LockLost` when the flush lock is no longer ours (nothing is written then).
        """
        group = entries if isinstance(entries, list) else [entries]
        write = group[0].write
        message_key = self.keys.slack_message(network, write.message) if write is not None else ""
        pairs: list[str] = []
        for entry in group:
            pairs += [entry.raw, entry.write.id if entry.write is not None else ""]
        result = await self.store.run_script(
            "outbox_done",
            [
                self.keys.outbox(network),
                self.keys.outbox_tries(network),
                lock_key,
                message_key or lock_key,
                self.keys.outbox_failures(network),
            ],
            [
                token,
                landed.model_dump_json() if landed is not None else "",
                MESSAGE_TTL_MS if write is not None else 0,
                *pairs,
            ],
        )
        if int(result) < 0:
            raise LockLost(f"flush lock {lock_key} is no longer held by this flusher")

    async def failed(self, network: str, entry_id: str) -> int:
        """Count one more `message_not_found` for an entry; returns how many so far."""
        return int(await self.store.redis.hincrby(self.keys.outbox_failures(network), entry_id, 1))

    async def hold(self, network: str, channel: str, code: str, ms: int) -> None:
        """The network's writes to `channel` wait for `ms` (then one probes it): Slack said `code`."""
        await self.store.redis.set(self.keys.channel_hold(network, channel), code, px=max(ms, 1))

    async def held(self, network: str, channel: str) -> str | None:
        """Slack's error code while the network's writes to `channel` wait, else None."""
        raw = await self.store.redis.get(self.keys.channel_hold(network, channel))
        return None if raw is None else text(raw)

    async def release(self, network: str, channel: str) -> bool:
        """Let the network's writes to `channel` go (the bot was invited); True if they were held."""
        return bool(await self.store.redis.delete(self.keys.channel_hold(network, channel)))

    async def pace(self, channel: str, interval_ms: int) -> int:
        """Take the channel's next posting slot: 0 to post now, else the ms until one is free."""
        return int(await self.store.run_script("pace", [self.keys.channel_pace(channel)], [interval_ms]))

    async def backoff_ms(self, network: str) -> int:
        """Milliseconds left of a Slack Retry-After for this network (0: none)."""
        left = int(await self.store.redis.pttl(self.keys.slack_backoff(network)))
        return max(left, 0)

    async def back_off(self, network: str, seconds: float) -> None:
        await self.store.redis.set(self.keys.slack_backoff(network), "1", px=max(int(seconds * 1000), 1))
