"""The rehearsal room's server without a browser: what the page is told, and what it may ask for.

The room runs against the real bot and simulator (`running_bot`); the page's requests are plain HTTP
and its live updates are read from the same server-sent event stream the page reads.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from bot.rehearsal.server import RehearsalRoom, RoomUser
from commands.status_blocks import StatusAction
from sim.config_files import channel_for
from tests.fixtures.slack import SIGNING_SECRET, BotHandle, StartBot

REQUESTER, APPROVER, OUTSIDER = "U0REQ", "U0APP", "U0OUT"
USERS = (
    RoomUser(REQUESTER, "Rita", "requester"),
    RoomUser(APPROVER, "Abe", "approver"),
    RoomUser(OUTSIDER, "Otto", "outsider"),
)
WAIT = 10.0


@asynccontextmanager
async def room_for(bot: BotHandle) -> AsyncIterator[tuple[RehearsalRoom, httpx.AsyncClient]]:
    room = await RehearsalRoom.start(
        bot.fake,
        f"{bot.url}/slack/events",
        SIGNING_SECRET,
        bot.sim.control_url,
        network="sim-1",
        channel=channel_for("sim-1"),
        users=USERS,
    )
    try:
        async with httpx.AsyncClient(base_url=room.url, timeout=httpx.Timeout(WAIT)) as client:
            yield room, client
    finally:
        await room.stop()


Event = tuple[str, dict[str, Any]]


async def _events(
    client: httpx.AsyncClient, until: Callable[[Event], bool], connected: asyncio.Event
) -> list[Event]:
    """The page's stream up to the first event `until` accepts; `connected` is set at the snapshot."""
    events: list[Event] = []
    async with asyncio.timeout(WAIT), client.stream("GET", "/api/events") as response:
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
                connected.set()
                if until(events[-1]):
                    return events
    return events


async def test_a_command_reply_reaches_the_page_only_for_who_typed_it(running_bot: StartBot) -> None:
    async with (
        running_bot(network_overrides={"requesters": (REQUESTER,), "approvers": (APPROVER,)}) as bot,
        room_for(bot) as (room, client),
    ):
        answer = await client.post("/api/command", json={"user": OUTSIDER, "text": "/conductor status sim-1"})
        assert answer.json() == {"ok": True, "status": 200}
        [item] = await _wait_items(room, 1)
        assert item["visible_to"] == OUTSIDER and item["ephemeral"]
        assert any(b["type"] == "header" and "sim-1" in b["text"]["text"] for b in item["blocks"])

        # Its Refresh button replaces that same reply in place (Slack's replace_original).
        [refresh] = [
            e
            for b in item["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == StatusAction.REFRESH
        ]
        clicked = {
            "user": OUTSIDER,
            "message_id": item["id"],
            **{k: refresh[k] for k in ("action_id", "value")},
        }
        assert (await client.post("/api/click", json=clicked)).json() == {"ok": True, "status": 200}
        await bot.fake.wait_for_response("room-act-2", timeout=WAIT)
        assert [(i["id"], i["updates"]) for i in room.feed.items.values()] == [(item["id"], 1)]

        # A new page gets it in its snapshot; what happens next arrives as events.
        connected = asyncio.Event()
        stream = asyncio.create_task(
            _events(client, lambda e: e[0] == "message" and not e[1]["ephemeral"], connected)
        )
        async with asyncio.timeout(WAIT):
            await connected.wait()
        await client.post("/api/command", json={"user": REQUESTER, "text": "/conductor pause sim-1 seq-1"})
        events = await stream
        first, snapshot = events[0]
        assert first == "snapshot" and [m["id"] for m in snapshot["messages"]] == [item["id"]]
        request = events[-1][1]
        assert request["visible_to"] is None and request["ts"]  # a channel message everyone sees
        assert "pause sim-1 seq-1" in request["text"]


async def _wait_items(room: RehearsalRoom, count: int) -> list[dict[str, Any]]:
    queue = room.feed.subscribe()
    try:
        async with asyncio.timeout(WAIT):
            while len(room.feed.items) < count:
                await queue.get()
    finally:
        room.feed.unsubscribe(queue)
    return sorted(room.feed.items.values(), key=lambda i: int(i["seq"]))


async def test_fault_buttons_and_scenarios_change_the_simulated_cluster(running_bot: StartBot) -> None:
    async with running_bot(spare=1) as bot, room_for(bot) as (room, client):
        answer = await client.post("/api/fault", json={"node": "seq-1", "fault": "kill-conductor"})
        assert answer.json() == {"ok": True}
        assert not bot.sim.node("sim-1", "seq-1").conductor_up
        assert room.cluster is not None
        assert not next(n for n in room.cluster["nodes"] if n["id"] == "seq-1")["conductor_up"]

        answer = await client.post("/api/scenario", json={"id": "redeploy"})
        scenario = answer.json()["scenario"]
        assert bot.sim.node("sim-1", "seq-1").conductor_up  # the set-up healed the earlier fault
        assert bot.sim.node("sim-1", "seq-2").paused  # and redeployed the last follower, paused
        assert "/conductor resume sim-1 seq-2" in scenario["goal"]

        answer = await client.post("/api/scenario", json={"id": "quorum-lost"})
        assert answer.status_code == 200
        dead = [n for n in ("seq-0", "seq-1", "seq-2") if not bot.sim.node("sim-1", n).conductor_up]
        assert dead == ["seq-0", "seq-1"]
        assert "override-leader sim-1 seq-2" in answer.json()["scenario"]["goal"]


async def test_the_page_may_ask_only_for_what_it_offers(running_bot: StartBot) -> None:
    async with running_bot() as bot, room_for(bot) as (_room, client):
        refused = {
            "unknown fault": await client.post("/api/fault", json={"node": "seq-1", "fault": "rm -rf"}),
            "unknown node": await client.post("/api/fault", json={"node": "seq-9", "fault": "kill-node"}),
            "not a command": await client.post("/api/command", json={"user": REQUESTER, "text": "hello"}),
            "unknown user": await client.post(
                "/api/command", json={"user": "U0X", "text": "/conductor help"}
            ),
            "not JSON": await client.post(
                "/api/command", data={"user": REQUESTER, "text": "/conductor help"}
            ),
            "other site": await client.post(
                "/api/command",
                json={"user": REQUESTER, "text": "/conductor help"},
                headers={"Origin": "http://evil.example"},
            ),
            "outside static": await client.get("/static/..%2Fserver.py"),
        }
        assert {why: r.status_code for why, r in refused.items()} == {
            "unknown fault": 400,
            "unknown node": 400,
            "not a command": 400,
            "unknown user": 400,
            "not JSON": 400,
            "other site": 403,
            "outside static": 404,
        }
        assert "no node 'seq-9'" in refused["unknown node"].json()["error"]
        # Nothing refused reached the bot: the first request that does is the room's first.
        await client.post("/api/command", json={"user": REQUESTER, "text": "/conductor help"})
        await bot.fake.wait_for_response("room-cmd-1", timeout=WAIT)
        page = await client.get("/")
        assert "default-src 'self'" in page.headers["content-security-policy"]
