"""Channels the bot is not in, edits Slack cannot find, and per-channel pacing, against the fake Web
API answering as Slack does (`not_in_channel`, `message_not_found`): nothing is lost or half-created,
and what goes wrong is said where people look."""

from __future__ import annotations

import asyncio
import itertools
import logging

import httpx
import pytest

from chat import channel_check
from chat.delivery import Deliverer
from chat.refusals import NOT_FOUND_MIN_SECONDS, NOT_FOUND_TRIES
from commands import approval_store
from sim.config_files import channel_for
from sim.slack_api import BOT_USER_ID, FakeSlackApi
from store.outbox import Outbox, SlackWrite
from tests.alerts.test_watcher_helpers import NET, posts, run, started_watcher
from tests.fixtures.redis import eventually
from tests.fixtures.slack import BotHandle, StartBot
from tests.scenarios.approval_support import OVERRIDES, REQUESTER, ephemeral, open_request, request_id_of

INVITE = "`/invite @conductor-bot`"
# Posts a second per channel in the pacing tests: Slack's pace, sped up so the test waits little.
RATE = 10.0


async def readyz(bot: BotHandle) -> dict[str, object]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        answer = await client.get(f"{bot.url}/readyz")
    body: dict[str, object] = answer.json()
    return body


async def channel_check_failing(bot: BotHandle) -> bool:
    return "channels" in (await readyz(bot))["failing"]  # type: ignore[operator]


async def invite(bot: BotHandle, channel: str) -> None:
    """Someone runs /invite: Slack adds the bot and sends it its own `member_joined_channel`."""
    bot.fake.set_member(channel, True)
    sent = await bot.driver.event({"type": "member_joined_channel", "user": BOT_USER_ID, "channel": channel})
    assert sent.status == 200


async def not_failing(bot: BotHandle) -> bool:
    return not await channel_check_failing(bot)


async def test_a_channel_the_bot_is_not_in_is_named_at_start_and_a_command_there_says_invite_me(
    running_bot: StartBot, fake_slack: FakeSlackApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chat.channel_check")
    channel = channel_for(NET)
    fake_slack.set_member(channel, False)
    async with running_bot(network_overrides=OVERRIDES) as bot:
        await eventually(lambda: channel_check_failing(bot), within=5.0)
        assert (await readyz(bot))["checks"] == {
            "redis": "ok",
            "watcher": "ok",
            "channels": f"error: {channel} not_in_channel",
        }
        [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert f"channel={channel}" in line and "error=not_in_channel" in line and INVITE.strip("`") in line
        sent = await bot.driver.command(f"pause {NET} seq-2", user=REQUESTER, channel=channel)
        answer = await ephemeral(bot, sent.response_name)
        assert answer == (
            f":warning: I'm not in #c0sim1 — {INVITE}, then run the command again. No request was opened."
        )
        # Nothing half-created: no message, no request holding the network.
        assert bot.fake.calls("chat.postMessage") == []
        assert await approval_store.open_requests(bot.ctx.store, NET) == []
        await invite(bot, channel)
        await eventually(lambda: not_failing(bot), within=5.0)
        message = await open_request(bot, f"pause {NET} seq-2")
        assert request_id_of(message)


async def test_a_command_in_a_channel_the_bot_was_removed_from_withdraws_its_request_and_says_invite_me(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        channel = channel_for(NET)
        await eventually(lambda: _checked(bot, channel), within=5.0)
        # Removed after the start-up check: the bot learns it from the approval post itself.
        bot.fake.set_member(channel, False)
        sent = await bot.driver.command(f"pause {NET} seq-2", user=REQUESTER, channel=channel)
        answer = await ephemeral(bot, sent.response_name)
        assert answer == (
            f":warning: I'm not in #c0sim1 — {INVITE}, then run the command again. "
            "The request was withdrawn and nothing ran."
        )
        assert await approval_store.open_requests(bot.ctx.store, NET) == []
        assert await channel_check_failing(bot)


async def test_the_bot_removed_from_a_channel_says_so_at_once_and_holds_it_until_invited_back(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        channel = channel_for(NET)
        await eventually(lambda: _checked(bot, channel), within=5.0)
        bot.fake.set_member(channel, False)
        # Someone else's departure changes nothing; the bot's own is known without a refused post.
        other = await bot.driver.event({"type": "member_left_channel", "user": REQUESTER, "channel": channel})
        assert other.status == 200 and not await channel_check_failing(bot)
        left = await bot.driver.event(
            {"type": "member_left_channel", "user": BOT_USER_ID, "channel": channel}
        )
        assert left.status == 200
        assert (await readyz(bot))["checks"]["channels"] == f"error: {channel} not_in_channel"  # type: ignore[index]
        sent = await bot.driver.command(f"pause {NET} seq-2", user=REQUESTER, channel=channel)
        assert (await ephemeral(bot, sent.response_name)).endswith("No request was opened.")
        assert bot.fake.calls("chat.postMessage") == []
        await invite(bot, channel)
        await eventually(lambda: not_failing(bot), within=5.0)


async def _checked(bot: BotHandle, channel: str) -> bool:
    return bot.ctx.channels.known_member(channel)


async def test_an_alert_for_a_channel_the_bot_is_not_in_waits_and_goes_out_in_order_once_invited(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        channel = channel_for(NET)
        watcher = await started_watcher(bot, 4)
        bot.fake.set_member(channel, False)
        await bot.sim.split_brain(NET, "seq-2")
        await run(bot, [watcher], 4)
        bot.sim.node(NET, "seq-2").seq_active = False
        await run(bot, [watcher], 40)
        # Fired and resolved while the bot could not post: nothing lost, one probe per hold.
        assert posts(bot) == []
        outbox = Outbox(bot.ctx.store)
        assert await outbox.length(NET) >= 3  # the post, its update and its resolution reply
        assert len(bot.fake.calls("chat.postMessage")) == 1
        assert await channel_check_failing(bot)
        await invite(bot, channel)

        async def delivered() -> bool:
            return await outbox.length(NET) == 0

        await eventually(delivered, within=5.0)
        [alert] = posts(bot)
        assert "(resolved)" in alert.text
        assert [r.text for r in alert.replies if "Resolved" in r.text] == [alert.replies[-1].text]
        assert await not_failing(bot)


async def test_an_update_slack_cannot_find_is_retried_then_reported_with_its_content(
    running_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot() as bot:
        channel = channel_for(NET)
        deliverer = Deliverer(bot.ctx)
        parent = await bot.ctx.slack.chat_postMessage(channel=channel, text="Approval needed")
        # Found on the second try: Slack sometimes answers an edit before the message is readable.
        bot.fake.fail_next("chat.update", status=200, retry_after=None, error="message_not_found")
        edit = SlackWrite(
            message="request:r1", op="update", channel=channel, ts=parent["ts"], text="Approved"
        )
        assert (await deliverer.submit(NET, [edit])).waiting == 1
        assert (await deliverer.flush(NET)).delivered == 1
        assert [m.text for m in posts(bot)] == ["Approved"]
        # Never found (the message was deleted): tried NOT_FOUND_TRIES times, then said so in the channel.
        lost = SlackWrite(
            message="request:r2",
            op="update",
            channel=channel,
            ts="1.000001",
            text="Succeeded",
            label="approval",
        )
        await deliverer.submit(NET, [lost])
        await deliverer.flush(NET)
        report = await deliverer.flush(NET)
        assert report.dropped == 1 and report.remaining == 0
        assert len(bot.fake.calls("chat.update")) == 2 + NOT_FOUND_TRIES
        notice = posts(bot)[-1]
        assert notice.text.startswith(":warning: I could not update an earlier message")
        assert "`message_not_found`" in notice.text and notice.text.endswith("Succeeded")
        assert notice.blocks is None  # no live buttons in the copy
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any("message could not be updated" in e and "error=message_not_found" in e for e in errors)
        # Flushes back to back are not time for Slack to catch up: a fresh edit waits its 10 s too.
        fresh = SlackWrite(
            message="request:r3",
            op="update",
            channel=channel,
            ts="1.000002",
            text="Succeeded",
            queued_at=bot.ctx.clock.now(),
        )
        await deliverer.submit(NET, [fresh])
        for _ in range(NOT_FOUND_TRIES + 1):
            assert (await deliverer.flush(NET)).remaining == 1
        await bot.sim.advance(NOT_FOUND_MIN_SECONDS + 1)
        assert (await deliverer.flush(NET)).dropped == 1


async def test_a_burst_to_one_channel_is_paced_and_another_channel_is_not_held_up(
    running_bot: StartBot,
) -> None:
    async with running_bot(settings_env={"CONDUCTOR_BOT_SLACK_CHANNEL_RATE": RATE}) as bot:
        busy, quiet = channel_for(NET), "C0QUIET"
        deliverer = Deliverer(bot.ctx)
        burst = [SlackWrite(message=f"test:{i}", op="post", channel=busy, text=f"busy {i}") for i in range(5)]
        other = SlackWrite(message="test:quiet", op="post", channel=quiet, text="quiet")
        report = await deliverer.submit(NET, [*burst, other])
        # The first of the burst and the other channel's post go at once; the rest wait their turn.
        assert report.delivered == 2 and report.waiting == 4
        assert [m.text for m in bot.fake.messages(quiet)] == ["quiet"]
        await bot.fake.wait_for("chat.postMessage", count=6, timeout=5.0)
        sent = [float(m.ts) for m in posts(bot)]
        assert [m.text for m in posts(bot)] == [f"busy {i}" for i in range(5)]
        gaps = [b - a for a, b in itertools.pairwise(sent)]
        assert min(gaps) >= 0.8 / RATE, gaps


async def test_a_burst_of_replies_to_one_message_goes_out_as_one_reply_when_paced(
    running_bot: StartBot,
) -> None:
    async with running_bot(settings_env={"CONDUCTOR_BOT_SLACK_CHANNEL_RATE": RATE}) as bot:
        channel = channel_for(NET)
        deliverer = Deliverer(bot.ctx)
        post = SlackWrite(message="test:parent", op="post", channel=channel, text="Executing")
        steps = [
            SlackWrite(message="test:parent", op="reply", channel=channel, text=f"step {i} done")
            for i in range(8)
        ]
        await deliverer.submit(NET, [post, *steps])

        async def drained() -> bool:
            return await deliverer.outbox.length(NET) == 0

        await eventually(drained, within=5.0)
        [parent] = posts(bot)
        # One post and one reply: two of the channel's slots instead of nine.
        assert [r.text for r in parent.replies] == ["\n".join(f"step {i} done" for i in range(8))]
        [reply_call] = [c for c in bot.fake.calls("chat.postMessage") if c.get("thread_ts")]
        assert reply_call["metadata"]["event_payload"]["merged"] == [s.id for s in steps[1:]]


async def test_the_pace_of_a_channel_is_shared_by_every_flusher_posting_there(running_bot: StartBot) -> None:
    async with running_bot(networks=2, settings_env={"CONDUCTOR_BOT_SLACK_CHANNEL_RATE": RATE}) as bot:
        shared = "C0SHARED"
        # Two networks' flushers (each with its own lock, as on two replicas) post to one channel at once.
        bursts = {
            network: [
                SlackWrite(message=f"test:{network}:{i}", op="post", channel=shared, text=f"{network} {i}")
                for i in range(3)
            ]
            for network in ("sim-1", "sim-2")
        }
        await asyncio.gather(*(Deliverer(bot.ctx).submit(n, writes) for n, writes in bursts.items()))
        await bot.fake.wait_for("chat.postMessage", count=6, timeout=5.0)
        sent = [float(m.ts) for m in bot.fake.messages(shared)]
        assert min(b - a for a, b in itertools.pairwise(sent)) >= 0.8 / RATE
        for network in bursts:  # each network's own order holds
            assert [m.text for m in bot.fake.messages(shared) if m.text.startswith(network)] == [
                f"{network} {i}" for i in range(3)
            ]


async def test_an_invite_without_an_event_is_noticed_by_the_next_check(
    running_bot: StartBot, fake_slack: FakeSlackApi
) -> None:
    channel = channel_for(NET)
    fake_slack.set_member(channel, False)
    async with running_bot() as bot:
        await eventually(lambda: channel_check_failing(bot), within=5.0)
        bot.fake.set_member(channel, True)  # invited, but the event was lost (or not subscribed)
        assert await channel_check.check_all(bot.ctx) == {}
        assert await not_failing(bot)


async def test_a_merged_reply_sent_by_a_flusher_that_died_is_adopted_with_the_entries_it_carried(
    running_bot: StartBot,
) -> None:
    async with running_bot(settings_env={"CONDUCTOR_BOT_SLACK_CHANNEL_RATE": RATE}) as bot:
        channel = channel_for(NET)
        deliverer = Deliverer(bot.ctx)
        parent = await bot.ctx.slack.chat_postMessage(channel=channel, text="Executing")
        first, second, third = [
            SlackWrite(message="test:p", op="reply", channel=channel, ts=parent["ts"], text=f"step {i}")
            for i in (1, 2, 3)
        ]
        await deliverer.outbox.enqueue(NET, [first, second, third])
        # What the dead flusher did: recorded its attempt, and Slack took one reply carrying two entries.
        await deliverer.outbox.mark_try(NET, first.id)
        await bot.ctx.slack.chat_postMessage(
            channel=channel,
            thread_ts=parent["ts"],
            text="step 1\nstep 2",
            metadata=first.merged_metadata((second.id,)),
        )
        report = await deliverer.flush(NET)
        assert report.adopted == 1

        async def drained() -> bool:
            return await deliverer.outbox.length(NET) == 0

        await eventually(drained, within=5.0)
        [message] = posts(bot)
        assert [r.text for r in message.replies] == ["step 1\nstep 2", "step 3"]
