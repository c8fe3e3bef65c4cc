"""Shared by the runbook walks: the two people (a requester and an approver) and how they ask the bot."""

from __future__ import annotations

import json
from typing import Any

from tests.fixtures.slack import BotHandle

REQ = "U_REQ"
APPR = "U_APPR"
ROLES: dict[str, Any] = {"requesters": (REQ,), "approvers": (APPR,)}
WAIT = 10.0


async def ask(bot: BotHandle, text: str) -> str:
    """Send a slash command as the requester; everything its ephemeral answer shows, as JSON text."""
    sent = await bot.driver.command(text, user=REQ, channel=bot.channel())
    assert sent.status == 200
    [reply] = await bot.fake.wait_for_response(sent.response_name, timeout=WAIT)
    return json.dumps(reply, ensure_ascii=False)
