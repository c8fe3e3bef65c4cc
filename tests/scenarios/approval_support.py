"""Helpers for the approval and execution scenario tests: request, click, wait, read back.

Everything goes through the running bot's HTTP endpoint (signed requests), the fake Slack records what
users see, and the final state is read from the same Valkey the bot writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from bot.main import serve_bot
from cluster.topology import Topology
from commands import approval_store
from commands.approval import FINAL_STATES, ApprovalRequest
from commands.ids import ApprovalAction, ApprovalBlock
from sim.harness import simulate
from sim.slack_api import FakeMessage, FakeSlackApi
from sim.slack_requests import SlackDriver
from store import audit
from store.audit import AuditEntry
from tests.fixtures.redis import eventually
from tests.fixtures.slack import SIGNING_SECRET, BotHandle, bot_settings

REQUESTER = "U_REQUESTER"
APPROVER = "U_APPROVER"
OTHER_APPROVERS = tuple(f"U_APPROVER{i}" for i in range(20))
STRANGER = "U_STRANGER"
NETWORK = "sim-1"
OVERRIDES: dict[str, Any] = {"approvers": (APPROVER, *OTHER_APPROVERS), "requesters": (REQUESTER,)}
WAIT = 10.0


@asynccontextmanager
async def bot_on_redis(fake_slack: FakeSlackApi, client: Redis) -> AsyncIterator[BotHandle]:
    """The real bot over a 3-node sim (OVERRIDES on every network) on `client`, a Redis the test can stop."""
    async with simulate(nodes=3) as sim:
        topology = Topology(
            networks={n: s.model_copy(update=OVERRIDES) for n, s in sim.topology().networks.items()}
        )
        settings = bot_settings(SLACK_API_URL=fake_slack.base_url)
        async with serve_bot(settings, topology, redis=client, clock=sim.clock) as running:
            driver = SlackDriver(f"{running.url}/slack/events", SIGNING_SECRET, fake_slack.response_url_for)
            yield BotHandle(driver, fake_slack, running.ctx, sim, running.url, running.app)


def use_sim_settle(bot: BotHandle, seconds: float = 2.0) -> None:
    """Verification re-polls advance the simulator's virtual time instead of sleeping."""

    async def settle() -> None:
        await bot.sim.advance(seconds)

    bot.ctx.settle = settle


async def open_request(bot: BotHandle, text: str, *, user: str = REQUESTER) -> FakeMessage:
    """Send the command and return the approval message once its (channel, ts) is stored."""
    before = len(bot.fake.messages(bot.channel()))
    sent = await bot.driver.command(text, user=user, channel=bot.channel())
    assert sent.status == 200

    async def posted() -> bool:
        return len(bot.fake.messages(bot.channel())) > before

    await eventually(posted, within=WAIT)
    message = bot.fake.messages(bot.channel())[before]
    request_id = request_id_of(message)

    async def attached() -> bool:
        loaded = await approval_store.load(bot.ctx.store, NETWORK, request_id)
        return loaded is not None and loaded[0].message is not None

    await eventually(attached, within=WAIT)
    return message


def buttons(message: FakeMessage) -> dict[str, dict[str, Any]]:
    """The message's buttons by action id (empty once the request is decided)."""
    found: dict[str, dict[str, Any]] = {}
    for block in message.blocks or []:
        if block.get("block_id") == ApprovalBlock.ACTIONS:
            found.update({e["action_id"]: e for e in block["elements"]})
    return found


def request_id_of(message: FakeMessage) -> str:
    """The request id from the footer (`request `<id>` · created …`), present in every state."""
    footer = block_text(message, ApprovalBlock.FOOTER)
    match = re.search(r"request `([0-9a-f]+)`", footer)
    assert match is not None, footer
    return match.group(1)


def block_text(message: FakeMessage, block_id: str) -> str:
    for block in message.blocks or []:
        if block.get("block_id") == block_id:
            return json.dumps(block)
    return ""


async def click(
    bot: BotHandle, message: FakeMessage, action: ApprovalAction, user: str, *, value: str | None = None
) -> str:
    """Click a button of the message as `user`; returns the response_url name of the click."""
    raw = (
        value if value is not None else json.dumps({"request_id": request_id_of(message), "network": NETWORK})
    )
    sent = await bot.driver.click(action, raw, user=user, channel=message.channel, message_ts=message.ts)
    assert sent.status == 200
    return sent.response_name


async def ephemeral(bot: BotHandle, response_name: str) -> str:
    [reply] = await bot.fake.wait_for_response(response_name, timeout=WAIT)
    assert reply.get("response_type") == "ephemeral"
    return str(reply["text"])


async def stored(bot: BotHandle, request_id: str) -> ApprovalRequest:
    loaded = await approval_store.load(bot.ctx.store, NETWORK, request_id)
    assert loaded is not None
    return loaded[0]


async def wait_state(bot: BotHandle, request_id: str, *states: str) -> ApprovalRequest:
    wanted = set(states) or set(FINAL_STATES)

    async def reached() -> bool:
        return (await stored(bot, request_id)).state in wanted

    await eventually(reached, within=WAIT)
    return await stored(bot, request_id)


async def wait_message_state(bot: BotHandle, message: FakeMessage, title: str) -> None:
    """Until the message header (updated in place) shows the state title and the buttons are gone."""

    async def shown() -> bool:
        return title in block_text(message, ApprovalBlock.HEADER) and not buttons(message)

    await eventually(shown, within=WAIT)


async def audit_entries(bot: BotHandle, request_id: str | None = None) -> list[AuditEntry]:
    entries = await audit.read(bot.ctx.store, NETWORK, count=500)
    return [e for e in reversed(entries) if request_id is None or e.request_id == request_id]


def thread_texts(message: FakeMessage) -> list[str]:
    return [r.text for r in message.replies]


async def approve_and_finish(
    bot: BotHandle, message: FakeMessage, approver: str = APPROVER
) -> ApprovalRequest:
    request_id = request_id_of(message)
    await click(bot, message, ApprovalAction.APPROVE, approver)
    final = await wait_state(bot, request_id, "succeeded", "failed")
    # The message update and the outcome reply come right after the final write.
    await eventually(lambda: _has_outcome(message), within=WAIT)
    return final


async def approve_slowed_until_rechecked(bot: BotHandle, message: FakeMessage) -> None:
    """Approve with seq-0's conductor answering slowly (0.4 s), and wait for preflight to pass again.

    The slow first step leaves the test time to break something after the re-check and before a later step.
    """
    await bot.sim.latency(NETWORK, "seq-0", "conductor", 0.4)
    await click(bot, message, ApprovalAction.APPROVE, APPROVER)

    async def rechecked() -> bool:
        return any(t.startswith(":mag: preflight passed again") for t in thread_texts(message))

    await eventually(rechecked, within=5.0)


async def refused(bot: BotHandle, text: str) -> str:
    """The ephemeral answer to a command that preflight blocks; no approval message is posted."""
    before = len(bot.fake.messages(bot.channel()))
    sent = await bot.driver.command(text, user=REQUESTER, channel=bot.channel())
    answer = await ephemeral(bot, sent.response_name)
    assert "preflight blocks it" in answer, answer
    assert len(bot.fake.messages(bot.channel())) == before
    return answer


async def _has_outcome(message: FakeMessage) -> bool:
    return any(t.startswith((":large_green_circle:", ":red_circle:")) for t in thread_texts(message))
