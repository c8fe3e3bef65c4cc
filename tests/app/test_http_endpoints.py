"""/healthz and /metrics of the running bot, over real HTTP."""

from __future__ import annotations

import re
import socket

import httpx
from redis.asyncio import Redis

from bot.main import serve_bot
from cluster.topology import Topology
from sim.slack_api import FakeSlackApi
from store.connection import client_for
from store.gateway import Store
from store.keys import Keys
from tests.fixtures.slack import StartBot, bot_settings


async def test_healthz_reports_ok_when_redis_answers(running_bot: StartBot) -> None:
    async with running_bot() as bot, httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{bot.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"networks": 1, "status": "ok", "redis": "ok"}


async def test_healthz_is_503_when_redis_is_down(fake_slack: FakeSlackApi, redis: Redis, keys: Keys) -> None:
    # A bound but never listening socket: connecting to it is refused, and no other test can take the port.
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        dead = client_for(f"redis://127.0.0.1:{hole.getsockname()[1]}/0")
        settings = bot_settings(SLACK_API_URL=fake_slack.base_url)
        try:
            async with (
                serve_bot(settings, Topology(networks={}), redis=dead, store=Store(redis, keys)) as bot,
                httpx.AsyncClient(timeout=10) as client,
            ):
                response = await client.get(f"{bot.url}/healthz")
        finally:
            await dead.aclose()
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["redis"].startswith("error: ")


def metric(text: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(f"{name}{{{label_text}}}" if labels else name) + r" ([0-9.e+-]+)"
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


async def test_metrics_count_commands_and_ack_latency(running_bot: StartBot) -> None:
    async with running_bot() as bot, httpx.AsyncClient(timeout=5) as client:
        before = (await client.get(f"{bot.url}/metrics")).text
        sent = await bot.driver.command("help", channel=bot.channel())
        await bot.fake.wait_for_response(sent.response_name)
        sent = await bot.driver.command("status nope", channel=bot.channel())
        await bot.fake.wait_for_response(sent.response_name)
        response = await client.get(f"{bot.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    commands = "conductor_bot_commands_total"
    assert (
        metric(after, commands, verb="help", outcome="ok")
        == metric(before, commands, verb="help", outcome="ok") + 1
    )
    assert (
        metric(after, commands, verb="status", outcome="user_error")
        == metric(before, commands, verb="status", outcome="user_error") + 1
    )
    acks = "conductor_bot_slack_ack_seconds_count"
    assert metric(after, acks) >= metric(before, acks) + 2


async def test_unknown_paths_and_methods_are_refused(running_bot: StartBot) -> None:
    async with running_bot() as bot, httpx.AsyncClient(timeout=5) as client:
        assert (await client.get(f"{bot.url}/slack/events")).status_code == 405
        assert (await client.get(f"{bot.url}/admin")).status_code == 404
