"""Socket Mode: the same commands arrive over a WebSocket; /healthz and /metrics stay on HTTP."""

from __future__ import annotations

import httpx

from sim.slack_requests import socket_command
from tests.fixtures.slack import StartBot

SOCKET_MODE = {"SLACK_APP_TOKEN": "xapp-test-token", "SLACK_SIGNING_SECRET": None}


async def test_commands_over_socket_mode_are_acked_and_answered(running_bot: StartBot) -> None:
    async with running_bot(settings_env=SOCKET_MODE) as bot:
        await bot.fake.wait_for("socket:connected")
        envelope = await socket_command(bot.fake, "status sim-1", channel=bot.channel(), name="sock-1")
        await bot.fake.wait_for("socket:ack", predicate=lambda ack: ack["envelope_id"] == envelope)
        [reply] = await bot.fake.wait_for_response("sock-1")
        assert reply["blocks"][0]["text"]["text"] == "sim-1: healthy"
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(f"{bot.url}/healthz")).status_code == 200
            # No signing secret, no HTTP entry point for Slack requests.
            assert (await client.post(f"{bot.url}/slack/events", content=b"x")).status_code == 404
