"""What users see when something fails, and where replies go."""

from __future__ import annotations

import json
import logging

import pytest

from chat.errors import BotError, StaleAction, UsageError, user_message
from cluster.topology import Topology
from commands.args import parse_operation
from commands.router import VERB_MODULES
from tests.app.boom_verb import SECRET_DETAIL
from tests.fixtures.redis import eventually
from tests.fixtures.slack import StartBot

TEST_VERBS = (*VERB_MODULES, "tests.app.boom_verb")


def test_user_facing_errors_show_their_message_and_bugs_do_not() -> None:
    assert (
        user_message(StaleAction("This request was already approved."))
        == "This request was already approved."
    )
    assert user_message(RuntimeError(SECRET_DETAIL)) is None

    # Only the error tree is user-facing: a look-alike attribute on another exception is not enough.
    class QuotaExceeded(Exception):
        user_message = "Too many requests today."

    assert user_message(QuotaExceeded()) is None
    assert isinstance(StaleAction("x"), BotError)
    # Command parsing raises the same UsageError as every verb.
    try:
        parse_operation("pause", [], Topology(networks={}))
    except UsageError as exc:
        assert user_message(exc) == str(exc) and "pause takes" in str(exc)
    else:
        raise AssertionError("parse_operation accepted a command without arguments")


async def test_in_channel_reply_posts_to_the_invoking_channel(running_bot: StartBot) -> None:
    async with running_bot(verb_modules=TEST_VERBS) as bot:
        sent = await bot.driver.command('echo "leader moved"', channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        [message] = bot.fake.messages(bot.channel())
        assert message.text == "leader moved"
        assert reply["text"] == f"posted {message.ts}"


async def test_a_reply_slack_refuses_is_logged_with_its_code(
    running_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="commands.router")
    async with running_bot() as bot:
        # A response_url used after its 30 minutes: Slack answers 404 with the reason as text.
        bot.fake.fail_next("response", status=404, retry_after=None, error="expired_url")
        sent = await bot.driver.command("networks", channel=bot.channel())
        await bot.fake.wait_for_response(sent.response_name)

        def lines() -> list[str]:
            return [r.getMessage() for r in caplog.records if "response_url" in r.getMessage()]

        async def logged() -> bool:  # the bot logs once it has read Slack's answer
            return bool(lines())

        await eventually(logged, within=5.0)
        [line] = lines()
        assert "status=404 code=expired_url" in line and "where=command:" in line


async def test_error_before_ack_is_answered_in_the_http_response(running_bot: StartBot) -> None:
    async with running_bot(verb_modules=TEST_VERBS) as bot:
        sent = await bot.driver.click("boom_before_ack", "x", channel=bot.channel())
        assert sent.status == 200  # so Slack shows our message, not a generic failure
        body = json.loads(sent.body)
        assert body["response_type"] == "ephemeral"
        assert "Quote reference `" in body["text"] and SECRET_DETAIL not in body["text"]


async def test_error_after_ack_is_answered_through_the_response_url(running_bot: StartBot) -> None:
    async with running_bot(verb_modules=TEST_VERBS) as bot:
        sent = await bot.driver.click("boom_after_ack", "x", channel=bot.channel())
        assert sent.status == 200
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert "Quote reference `" in reply["text"] and SECRET_DETAIL not in reply["text"]
        assert reply["response_type"] == "ephemeral"
