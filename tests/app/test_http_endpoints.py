"""/healthz, /readyz and /metrics of the running bot, over real HTTP."""

from __future__ import annotations

import re
import socket

import httpx
import pytest
from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError

from bot.main import serve_bot
from cluster.topology import Topology
from sim.slack_api import FakeSlackApi
from store.connection import client_for
from store.gateway import Store
from store.keys import Keys
from tests.fixtures.slack import StartBot, bot_settings


async def test_healthz_and_readyz_report_ok_when_everything_answers(running_bot: StartBot) -> None:
    async with running_bot() as bot, httpx.AsyncClient(timeout=5) as client:
        health = await client.get(f"{bot.url}/healthz")
        ready = await client.get(f"{bot.url}/readyz")
    assert health.status_code == 200
    assert health.json() == {"networks": 1, "status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "failing": [],
        "checks": {"redis": "ok", "watcher": "ok", "channels": "ok"},
    }


async def test_readyz_names_redis_when_it_is_down_while_healthz_stays_up(
    fake_slack: FakeSlackApi, redis: Redis, keys: Keys
) -> None:
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
                health = await client.get(f"{bot.url}/healthz")
                ready = await client.get(f"{bot.url}/readyz")
        finally:
            await dead.aclose()
    # Liveness never depends on Redis: an outage must not get every replica restarted.
    assert health.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert ready.json()["failing"] == ["redis"]
    assert ready.json()["checks"]["redis"].startswith("error: ")


async def test_readyz_names_a_channel_the_bot_cannot_post_to_until_a_post_succeeds(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot, httpx.AsyncClient(timeout=5) as client:
        bot.fake.fail_next("chat.postMessage", status=200, retry_after=None, error="not_in_channel")
        with pytest.raises(SlackApiError):
            await bot.ctx.slack.chat_postMessage(channel="C0ALERTS", text="x")
        ready = await client.get(f"{bot.url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["failing"] == ["channels"]
        assert ready.json()["checks"]["channels"] == "error: C0ALERTS not_in_channel"
        await bot.ctx.slack.chat_postMessage(channel="C0ALERTS", text="x")
        assert (await client.get(f"{bot.url}/readyz")).status_code == 200
        text = (await client.get(f"{bot.url}/metrics")).text
    assert (
        metric(text, "conductor_bot_slack_errors_total", method="chat.postMessage", code="not_in_channel")
        >= 1
    )


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
        sent = await bot.driver.command("status sim-1", channel=bot.channel())
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
    assert metric(after, acks) >= metric(before, acks) + 3
    # `status` polled the nodes: each JSON-RPC call is counted by method and outcome.
    assert total(after, "conductor_bot_rpc_calls_total", outcome="ok") > total(
        before, "conductor_bot_rpc_calls_total", outcome="ok"
    )


def total(text: str, name: str, **labels: str) -> float:
    """The sum of `name` over every label set that includes `labels`."""
    found = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            found += float(line.rsplit(" ", 1)[1])
    return found


async def test_unknown_paths_and_methods_are_refused(running_bot: StartBot) -> None:
    async with running_bot() as bot, httpx.AsyncClient(timeout=5) as client:
        assert (await client.get(f"{bot.url}/slack/events")).status_code == 405
        assert (await client.get(f"{bot.url}/admin")).status_code == 404
