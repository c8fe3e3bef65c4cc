"""Socket Mode's link is supervised: a drop is reconnected, a token refused on reconnect stops the bot."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from redis.asyncio import Redis

from bot.main import RunningBot, serve_bot
from bot.slack_connect import BACKOFF_CAP, backoff
from sim.harness import simulate
from sim.slack_api import FakeSlackApi
from sim.slack_requests import socket_command
from store.gateway import Store
from store.keys import Keys
from tests.fixtures.slack import bot_settings

SOCKET_MODE = {"SLACK_APP_TOKEN": "xapp-test-token", "SLACK_SIGNING_SECRET": None}
RECONNECT_WITHIN = 15.0


def connections(fake: FakeSlackApi) -> int:
    return len(fake.calls("socket:connected"))


@asynccontextmanager
async def socket_mode_bot(fake_slack: FakeSlackApi, redis: Redis, keys: Keys) -> AsyncIterator[RunningBot]:
    """The real bot in Socket Mode against the fake Slack, over a 3-node sim."""
    settings = bot_settings(SLACK_API_URL=fake_slack.base_url, **SOCKET_MODE)
    async with (
        simulate(nodes=3) as sim,
        serve_bot(settings, sim.topology(), redis=redis, store=Store(redis, keys), clock=sim.clock) as bot,
    ):
        yield bot


async def test_a_dropped_link_is_reconnected_and_commands_flow_again(
    fake_slack: FakeSlackApi, redis: Redis, keys: Keys
) -> None:
    async with (
        socket_mode_bot(fake_slack, redis, keys) as bot,
        httpx.AsyncClient(timeout=5) as client,
    ):
        await fake_slack.wait_for("socket:connected")
        await fake_slack.drop_sockets()
        async with asyncio.timeout(RECONNECT_WITHIN):
            await fake_slack.wait_for("socket:connected", predicate=lambda _c: connections(fake_slack) >= 2)
        # A fresh URL was asked for: Slack's tickets are single-use.
        assert len(fake_slack.calls("apps.connections.open")) == 2
        envelope = await socket_command(fake_slack, "status sim-1", channel="C0SIM1", name="after-drop")
        await fake_slack.wait_for("socket:ack", predicate=lambda ack: ack["envelope_id"] == envelope)
        assert bot.socket is not None and bot.socket.connected
        assert (await client.get(f"{bot.url}/readyz")).json()["checks"]["slack"] == "ok"


async def test_a_token_refused_on_reconnect_is_reported_as_fatal(
    fake_slack: FakeSlackApi, redis: Redis, keys: Keys
) -> None:
    async with socket_mode_bot(fake_slack, redis, keys) as bot:
        await fake_slack.wait_for("socket:connected")
        fake_slack.fail_next("apps.connections.open", status=200, retry_after=None, error="token_revoked")
        await fake_slack.drop_sockets()
        refused = await asyncio.wait_for(bot.wait_fatal(), RECONNECT_WITHIN)
    assert refused.code == "token_revoked"
    assert str(refused) == "token_revoked: SLACK_APP_TOKEN was revoked: generate a new app-level token"


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    delays = list(itertools.islice(backoff(base=1.0, cap=BACKOFF_CAP), 12))
    for attempt, delay in enumerate(delays):
        ceiling = min(BACKOFF_CAP, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= BACKOFF_CAP
