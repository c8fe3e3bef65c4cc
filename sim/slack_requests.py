"""Requests exactly as Slack sends them, signed, and `SlackDriver` to post them to a running bot.

    driver = SlackDriver(f"{bot.url}/slack/events", secret, fake.response_url_for)
    sent = await driver.command("status mainnet", user="U1", channel="C1")
    sent.status, sent.elapsed                      # the HTTP answer (the ack) and how long it took
    replies = await fake.wait_for_response(sent.response_name)
    await driver.click("status_refresh", "mainnet", user="U1", channel="C1", message_ts="1700000000.000001")

Every call takes `forge=True` (signed with the wrong secret), `timestamp_offset=-600` (a stale
signature) and `retry_num=1` (adds X-Slack-Retry-Num / X-Slack-Retry-Reason like a Slack retry).
`await driver.event({"type": "member_joined_channel", "user": BOT_USER_ID, "channel": "C1"})` delivers
an Events API event. `socket_command(fake, text, name=...)` sends the same command over Socket Mode instead.
Each request gets its own response_url name (`cmd-1`, `act-2`, …), returned as `sent.response_name`.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from sim import slack_checks
from sim.slack_api import BOT_USER_ID, TEAM_ID, FakeSlackApi

COMMAND = "/conductor"


def command_body(text: str, *, user: str, channel: str, response_url: str, trigger_id: str) -> str:
    """The form body of a slash command, with the fields Slack sends."""
    return urlencode(
        command_fields(text, user=user, channel=channel, response_url=response_url, trigger_id=trigger_id)
    )


def command_fields(
    text: str, *, user: str, channel: str, response_url: str, trigger_id: str
) -> dict[str, str]:
    """The fields of a slash command (the form body over HTTP, the envelope payload in Socket Mode)."""
    return {
        "token": "verification-token-unused",
        "team_id": TEAM_ID,
        "team_domain": "fake",
        "channel_id": channel,
        "channel_name": channel.lower(),
        "user_id": user,
        "user_name": user.lower(),
        "command": COMMAND,
        "text": text,
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def block_actions_body(
    action_id: str,
    value: str,
    *,
    user: str,
    channel: str,
    message_ts: str,
    response_url: str,
    trigger_id: str,
    block_id: str = "block",
) -> str:
    """The `payload=` form body of a button click on a channel message."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0001",
        "token": "verification-token-unused",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id,
        "team": {"id": TEAM_ID, "domain": "fake"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel.lower()},
        "message": {"type": "message", "ts": message_ts, "text": "", "user": "UBOT"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": action_id},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return "payload=" + quote(json.dumps(payload))


def event_body(event: dict[str, Any], event_id: str) -> str:
    """The JSON body of an Events API delivery (`event_callback`) carrying `event`."""
    return json.dumps(
        {
            "token": "verification-token-unused",
            "team_id": TEAM_ID,
            "api_app_id": "A0001",
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
    )


def signed_headers(
    body: str,
    secret: str,
    *,
    timestamp_offset: int = 0,
    retry_num: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    # Real time, not a ManualClock: Bolt checks the timestamp against the system clock.
    timestamp = str(int(time.time()) + timestamp_offset)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


@dataclass(frozen=True)
class Sent:
    """What the bot answered on the HTTP request itself (the ack)."""

    status: int
    body: str
    elapsed: float
    response_name: str


class SlackDriver:
    def __init__(self, events_url: str, secret: str, response_url_for: Callable[[str], str]) -> None:
        self.events_url = events_url
        self.secret = secret
        self._response_url_for = response_url_for
        self._ids = itertools.count(1)

    async def command(
        self,
        text: str,
        *,
        user: str = "U1",
        channel: str = "C1",
        forge: bool = False,
        timestamp_offset: int = 0,
        retry_num: int | None = None,
    ) -> Sent:
        name = f"cmd-{next(self._ids)}"
        body = command_body(
            text,
            user=user,
            channel=channel,
            response_url=self._response_url_for(name),
            trigger_id=f"trig.{name}",
        )
        return await self._post(body, name, forge, timestamp_offset, retry_num)

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "U1",
        channel: str = "C1",
        message_ts: str = "1700000000.000001",
        block_id: str = "block",
        forge: bool = False,
        timestamp_offset: int = 0,
        retry_num: int | None = None,
    ) -> Sent:
        name = f"act-{next(self._ids)}"
        body = block_actions_body(
            action_id,
            value,
            user=user,
            channel=channel,
            message_ts=message_ts,
            response_url=self._response_url_for(name),
            trigger_id=f"trig.{name}",
            block_id=block_id,
        )
        return await self._post(body, name, forge, timestamp_offset, retry_num)

    async def event(self, event: dict[str, Any]) -> Sent:
        """Deliver one Events API event (e.g. the bot's own `member_joined_channel`), signed."""
        name = f"evt-{next(self._ids)}"
        return await self._post(event_body(event, f"Ev{name}"), name, False, 0, None, "application/json")

    async def _post(
        self,
        body: str,
        name: str,
        forge: bool,
        timestamp_offset: int,
        retry_num: int | None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> Sent:
        secret = self.secret + "-forged" if forge else self.secret
        headers = signed_headers(
            body, secret, timestamp_offset=timestamp_offset, retry_num=retry_num, content_type=content_type
        )
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as client:
            started = time.perf_counter()
            response = await client.post(self.events_url, content=body.encode(), headers=headers)
            elapsed = time.perf_counter() - started
        if response.headers.get("content-type", "").startswith("application/json"):
            slack_checks.record("ack", response.json())
        return Sent(status=response.status_code, body=response.text, elapsed=elapsed, response_name=name)


async def socket_command(
    fake: FakeSlackApi, text: str, *, user: str = "U1", channel: str = "C1", name: str
) -> str:
    """Send a slash command over Socket Mode; returns the envelope id. Replies go to `name`'s response_url."""
    fields = command_fields(
        text, user=user, channel=channel, response_url=fake.response_url_for(name), trigger_id=f"trig.{name}"
    )
    return await fake.socket_send("slash_commands", dict(fields))
