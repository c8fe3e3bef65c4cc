"""The fake Slack's channels: messages as they now stand, thread replies, history and permalinks.

`FakeChannels` holds what `sim.slack_api.FakeSlackApi` answers chat.postMessage, chat.update,
conversations.history, conversations.replies, conversations.info and chat.getPermalink from.

The bot is in every channel unless taken out (`set_member(channel, False)`): then, as in Slack,
posts and updates there answer `not_in_channel` and conversations.info says `is_member: false`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"

Call = dict[str, Any]


@dataclass
class FakeMessage:
    """A message as it now stands in a channel (after any chat.update), with its thread replies."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None = None
    replies: list[FakeMessage] = field(default_factory=list)
    updates: int = 0
    metadata: dict[str, Any] | None = None

    def listing(self, with_metadata: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text, "user": BOT_USER_ID}
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if with_metadata and self.metadata is not None:
            out["metadata"] = self.metadata
        return out


class FakeChannels:
    """Every channel's messages; `changed(method, message)` is called once a message changed."""

    def __init__(self, changed: Callable[[str, FakeMessage], None]) -> None:
        self._channels: dict[str, list[FakeMessage]] = {}
        self._by_ts: dict[str, FakeMessage] = {}
        self._ts = 0.0
        self._changed = changed
        self._outside: set[str] = set()  # channels the bot is not in

    def set_member(self, channel: str, member: bool) -> None:
        if member:
            self._outside.discard(channel)
        else:
            self._outside.add(channel)

    def info(self, p: Call) -> Call:
        cid = str(p.get("channel", ""))
        member = cid not in self._outside
        return {
            "ok": True,
            "channel": {"id": cid, "name": cid.lower(), "is_channel": True, "is_member": member},
        }

    def messages(self, channel: str) -> list[FakeMessage]:
        return list(self._channels.get(channel, []))

    def next_ts(self) -> str:
        self._ts = max(round(time.time(), 6), round(self._ts + 0.000001, 6))
        return f"{self._ts:.6f}"

    def permalink(self, p: Call) -> Call:
        found = self._by_ts.get(str(p.get("message_ts", "")))
        if found is None or found.channel != p.get("channel"):
            return {"ok": False, "error": "message_not_found"}
        link = f"https://fake.slack.test/archives/{found.channel}/p{found.ts.replace('.', '')}"
        return {"ok": True, "channel": found.channel, "permalink": link}

    def history(self, p: Call) -> Call:
        channel = str(p.get("channel", ""))
        oldest = float(p.get("oldest") or 0)
        limit = int(p.get("limit") or 100)
        meta = _flag(p.get("include_all_metadata"))
        found = [m for m in reversed(self._channels.get(channel, [])) if float(m.ts) > oldest][:limit]
        return {"ok": True, "messages": [m.listing(meta) for m in found], "has_more": False}

    def replies(self, p: Call) -> Call:
        parent = self._by_ts.get(str(p.get("ts", "")))
        if parent is None or parent.channel != p.get("channel"):
            return {"ok": False, "error": "thread_not_found"}
        meta = _flag(p.get("include_all_metadata"))
        limit = int(p.get("limit") or 100)
        oldest = float(p.get("oldest") or 0)
        # Slack lists the parent first, then the replies after `oldest`.
        replies = [m for m in parent.replies if float(m.ts) > oldest]
        return {"ok": True, "messages": [m.listing(meta) for m in [parent, *replies][:limit]]}

    def post(self, p: Call) -> Call:
        channel = str(p.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self._outside:
            return {"ok": False, "error": "not_in_channel"}
        thread_ts = p.get("thread_ts")
        msg = FakeMessage(channel, self.next_ts(), str(p.get("text") or ""), _blocks(p), thread_ts)
        metadata = p.get("metadata")
        if isinstance(metadata, str):  # form-encoded requests carry it as a JSON string
            metadata = json.loads(metadata)
        msg.metadata = metadata if isinstance(metadata, dict) else None
        parent = self._by_ts.get(str(thread_ts)) if thread_ts else None
        if parent is not None:
            parent.replies.append(msg)
        else:
            self._channels.setdefault(channel, []).append(msg)
        self._by_ts[msg.ts] = msg
        self._changed("chat.postMessage", msg)
        return {"ok": True, "channel": channel, "ts": msg.ts, "message": {"text": msg.text, "ts": msg.ts}}

    def update(self, p: Call) -> Call:
        if p.get("channel") in self._outside:
            return {"ok": False, "error": "not_in_channel"}
        msg = self._by_ts.get(str(p.get("ts", "")))
        if msg is None or msg.channel != p.get("channel"):
            return {"ok": False, "error": "message_not_found"}
        msg.text = str(p.get("text") or msg.text)
        if "blocks" in p:
            msg.blocks = _blocks(p)
        msg.updates += 1
        self._changed("chat.update", msg)
        return {"ok": True, "channel": msg.channel, "ts": msg.ts, "text": msg.text}


def _flag(value: object) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _blocks(p: Call) -> list[dict[str, Any]] | None:
    blocks = p.get("blocks")
    if isinstance(blocks, str):  # form-encoded requests carry blocks as a JSON string
        blocks = json.loads(blocks)
    return blocks if isinstance(blocks, list) else None
