"""What the rehearsal page shows in its channel, built from what the bot sends to the fake Web API.

Slack's rules for who sees what, applied to the calls the bot makes:
- chat.postMessage / chat.update: a channel message (a thread reply with `thread_ts`), changed in place.
- chat.postEphemeral: a message only the named user sees.
- a response_url post: `delete_original` removes, `replace_original` replaces the message the request
  came from (the clicked message, or the earlier reply to the same slash command); otherwise
  `response_type: in_channel` posts to the channel and anything else is an ephemeral reply to the
  user who typed or clicked.

Every change is broadcast to the page's subscribers as one event: `message` (the whole item, to
upsert by id), `delete` (an id), and whatever else the server publishes (`cluster`, `scenario`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from dataclasses import dataclass
from typing import Any

from sim.slack_api import BOT_USER_ID, FakeMessage

logger = logging.getLogger(__name__)

# A page that stops reading loses its stream rather than growing the server's memory without bound.
QUEUE_LIMIT = 1000

Event = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Origin:
    """Who sent a signed request to the bot, and from which message (None for a slash command)."""

    user: str
    channel: str
    message_id: str | None = None


class Feed:
    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.items: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._origins: dict[str, Origin] = {}
        self._last_reply: dict[str, str] = {}  # response name -> the item its last post made
        self._subscribers: set[asyncio.Queue[Event | None]] = set()

    # --- subscribers -------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[Event | None]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_LIMIT)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        self._subscribers.discard(queue)

    def close(self) -> None:
        """End every stream (a `None` tells the stream's writer to stop)."""
        for queue in list(self._subscribers):
            self._subscribers.discard(queue)
            with contextlib.suppress(asyncio.QueueFull):  # its reader is gone or far behind anyway
                queue.put_nowait(None)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait((kind, data))
            except asyncio.QueueFull:
                logger.warning("rehearsal page stream fell behind; dropping it")
                self._subscribers.discard(queue)

    # --- requests the page sends -------------------------------------------------------------

    def expect(self, response_name: str, origin: Origin) -> None:
        """Remember who a response_url belongs to, before the request that carries it is sent."""
        self._origins[response_name] = origin

    def note(self, origin: Origin, text: str) -> None:
        """An ephemeral note from the page itself (e.g. the bot refused the request)."""
        self._put(self._new_item(text=text, blocks=None, visible_to=origin.user, ephemeral=True))

    # --- what the bot sends ------------------------------------------------------------------

    def on_message(self, method: str, msg: FakeMessage) -> None:
        """The fake Web API's message hook: a channel message was posted or updated."""
        existing = self.items.get(msg.ts)
        item = existing or {
            "id": msg.ts,
            "seq": next(self._ids),
            "channel": msg.channel,
            "ts": msg.ts,
            "thread_ts": msg.thread_ts,
            "user": BOT_USER_ID,
            "visible_to": None,
            "ephemeral": False,
        }
        item.update(text=msg.text, blocks=msg.blocks, updates=msg.updates)
        self._put(item)

    def on_call(self, method: str, params: dict[str, Any]) -> None:
        """The fake Web API's call hook: ephemeral messages and response_url posts."""
        if method == "chat.postEphemeral":
            self._put(
                self._new_item(
                    text=str(params.get("text") or ""),
                    blocks=_blocks(params.get("blocks")),
                    visible_to=str(params.get("user") or "") or None,
                    ephemeral=True,
                    thread_ts=params.get("thread_ts"),
                )
            )
        elif method.startswith("response:"):
            self._on_response(method.removeprefix("response:"), params)

    def _on_response(self, name: str, payload: dict[str, Any]) -> None:
        origin = self._origins.get(name)
        # The one the reply stands in for: the clicked message, or this command's earlier reply.
        target_id = (origin.message_id if origin else None) or self._last_reply.get(name)
        target = self.items.get(target_id) if target_id else None
        text, blocks = str(payload.get("text") or ""), _blocks(payload.get("blocks"))
        if payload.get("delete_original") and target is not None:
            del self.items[target["id"]]
            self.publish("delete", {"id": target["id"]})
            return
        if _true(payload.get("replace_original")) and target is not None:
            target.update(text=text, blocks=blocks, updates=int(target.get("updates", 0)) + 1)
            self._put(target)
            return
        in_channel = payload.get("response_type") == "in_channel"
        # A reply to a request sent outside the page (the demo's tour) is shown to everyone.
        visible_to = None if in_channel or origin is None else origin.user
        item = self._new_item(text=text, blocks=blocks, visible_to=visible_to, ephemeral=not in_channel)
        self._last_reply[name] = item["id"]
        self._put(item)

    # --- helpers -----------------------------------------------------------------------------

    def _new_item(
        self,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None,
        visible_to: str | None,
        ephemeral: bool,
        thread_ts: Any = None,
    ) -> dict[str, Any]:
        seq = next(self._ids)
        return {
            "id": f"local-{seq}",
            "seq": seq,
            "channel": self.channel,
            "ts": None,
            "thread_ts": str(thread_ts) if thread_ts else None,
            "user": BOT_USER_ID,
            "visible_to": visible_to,
            "ephemeral": ephemeral,
            "text": text,
            "blocks": blocks,
            "updates": 0,
        }

    def _put(self, item: dict[str, Any]) -> None:
        self.items[item["id"]] = item
        self.publish("message", item)


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _blocks(value: Any) -> list[dict[str, Any]] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, list) else None
