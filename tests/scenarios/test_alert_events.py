"""Leader changes as one edited event message per flap, the Timeline button, and Share in channel.

Signed requests into the running bot, the simulator over HTTP, the fake Slack Web API; the watcher
ticks on the shared ManualClock (no sleeps).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from alerts import leader_events as chains
from alerts.alert_store import AlertStore
from alerts.ids import AlertAction
from alerts.model import LeaderChange
from alerts.watcher import Watcher
from commands.ids import RequestsAction
from sim.slack_api import FakeMessage
from tests.alerts.test_watcher_helpers import NET, posts, run, started_watcher
from tests.fixtures.blocks_valid import assert_valid_message
from tests.fixtures.slack import BotHandle, StartBot
from tests.scenarios.approval_support import OVERRIDES, REQUESTER, open_request


def leader_events(bot: BotHandle) -> list[FakeMessage]:
    return [m for m in posts(bot) if "Leader changed" in m.text]


def action_ids(message: FakeMessage | dict[str, Any]) -> list[str]:
    blocks = message.blocks if isinstance(message, FakeMessage) else message.get("blocks")
    return [e["action_id"] for b in blocks or [] if b["type"] == "actions" for e in b["elements"]]


def value_of(blocks: list[dict[str, Any]], action: str) -> str:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == action:
                return str(element["value"])
    raise AssertionError(f"no {action} button")


def leader(bot: BotHandle) -> str:
    lead = bot.sim.network(NET).leader_id()
    assert lead is not None
    return lead


async def test_a_flapping_leader_edits_one_message_listing_the_whole_chain_across_replicas(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        first = await started_watcher(bot, 10)
        chain = [leader(bot)]
        await bot.sim.kill(NET, chain[0])
        await run(bot, [first], 12)
        chain.append(leader(bot))
        [event] = leader_events(bot)
        assert event.text == f":arrows_counterclockwise: [{NET}] Leader changed: {chain[0]} → {chain[1]}"
        # Another replica takes over the network: the chain lives in Redis, not in the replica.
        await first.release()
        second = Watcher(bot.ctx, "replica-b")
        await bot.sim.revive(NET, chain[0])
        await bot.sim.kill(NET, chain[1])
        await run(bot, [second], 12)
        chain.append(leader(bot))
        assert len(set(chain[-2:])) == 2
        [event] = leader_events(bot)
        assert event.text == f":arrows_counterclockwise: [{NET}] Leader changed: {' → '.join(chain)}"
        assert event.updates == 1 and event.replies == []
        assert_valid_message(event.text, event.blocks)
        assert event.blocks is not None and event.blocks[0]["text"]["text"].endswith("Leader changed 2 times")
        # No firing/resolved wording and no Acknowledge/Silence: an event has nothing to manage.
        body = json.dumps(event.blocks)
        assert "Firing" not in body and "Resolved" not in body
        assert action_ids(event) == [AlertAction.TIMELINE]
        # Quiet for longer than the flap window (5 min): the next change is a new message.
        await bot.sim.revive(NET, chain[1])
        await run(bot, [second], 310, step=10)
        await bot.sim.kill(NET, chain[2])
        await run(bot, [second], 12)
        assert len(leader_events(bot)) == 2
        assert leader_events(bot)[0].text == event.text


async def test_a_leader_change_whose_post_was_lost_is_posted_with_the_next_change(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        watcher = await started_watcher(bot, 10)
        now_leading = leader(bot)
        other = next(s for s in ("seq-0", "seq-1", "seq-2") if s != now_leading)
        # A replica recorded a change and died before queueing its post: the chain has no message.
        lost = LeaderChange(at=bot.ctx.clock.now() - 30, before=other, after=now_leading)
        assert await chains.record(bot.ctx.store, NET, lost, chains.DEFAULT_FLAP_WINDOW, None) is not None
        await bot.sim.kill(NET, now_leading)
        await run(bot, [watcher], 12)
        # The next change posts the whole chain instead of editing a message that was never posted.
        [event] = leader_events(bot)
        assert event.text == (
            f":arrows_counterclockwise: [{NET}] Leader changed: {other} → {now_leading} → {leader(bot)}"
        )


@pytest.mark.parametrize("recorded", [False, True], ids=["before-recording", "before-queueing"])
async def test_a_leader_change_seen_by_a_replica_that_died_before_telling_slack_is_posted_once(
    running_bot: StartBot, recorded: bool
) -> None:
    async with running_bot() as bot:
        watcher = await started_watcher(bot, 10)
        before = leader(bot)
        await bot.sim.kill(NET, before)
        await bot.sim.advance(10)
        after = leader(bot)
        assert after != before
        # What a replica leaves when it dies right after its tick's memory write: the new leader
        # remembered, the change owed, nothing queued for Slack.
        alerts = AlertStore(bot.ctx.store)
        version, memory = await alerts.memory(NET)
        assert memory.leader_id == before and memory.leader_changes == ()
        owed = LeaderChange(at=bot.ctx.clock.now(), before=before, after=after)
        dead = memory.model_copy(
            update={"leader_id": after, "previous_leader_id": before, "leader_changes": (owed,)}
        )
        assert await alerts.save_memory(NET, version, dead)
        if recorded:  # it got as far as the chain's record, not the outbox
            assert await chains.record(bot.ctx.store, NET, owed, chains.DEFAULT_FLAP_WINDOW, None) is not None

        await run(bot, [watcher], 2)
        [event] = leader_events(bot)
        assert event.text == f":arrows_counterclockwise: [{NET}] Leader changed: {before} → {after}"
        await run(bot, [watcher], 10)
        assert len(leader_events(bot)) == 1 and event.updates == 0
        assert (await alerts.memory(NET))[1].leader_changes == ()


async def test_the_timeline_button_posts_the_picture_into_the_alert_thread_once(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides={"requesters": ("U1",)}) as bot:
        watcher = await started_watcher(bot, 10)
        await bot.sim.split_brain(NET, "seq-2")
        await run(bot, [watcher], 6)
        [alert] = posts(bot)
        assert alert.blocks is not None
        value = value_of(alert.blocks, AlertAction.TIMELINE)
        await bot.driver.click(
            AlertAction.TIMELINE, value, user="U5", channel=alert.channel, message_ts=alert.ts
        )
        [complete] = await bot.fake.wait_for("files.completeUploadExternal")
        assert complete["channel_id"] == alert.channel and complete["thread_ts"] == alert.ts
        [uploaded] = bot.fake.files(alert.channel)
        assert uploaded.data is not None and uploaded.data.startswith(b"\x89PNG")
        assert uploaded.initial_comment is not None and uploaded.initial_comment.startswith(
            f"<@U5> asked for the timeline of `{NET}` around `{NET}/multiple_active`: the last 30m"
        )
        # A second click right after (or by someone else at once) posts nothing more and says why.
        again = await bot.driver.click(
            AlertAction.TIMELINE, value, user="U6", channel=alert.channel, message_ts=alert.ts
        )
        [reply] = await bot.fake.wait_for_response(again.response_name)
        assert reply["text"] == "A timeline of this was just posted in its thread; look there."
        assert len(bot.fake.files()) == 1


async def test_share_posts_the_alerts_list_for_the_whole_channel(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        watcher = await started_watcher(bot, 10)
        await bot.sim.split_brain(NET, "seq-2")
        await run(bot, [watcher], 6)
        sent = await bot.driver.command(f"alerts {NET}", user="U1", channel=bot.channel())
        [mine] = await bot.fake.wait_for_response(sent.response_name)
        assert mine["response_type"] == "ephemeral" and action_ids(mine) == [AlertAction.SHARE_LIST]
        assert_valid_message(mine["text"], mine["blocks"])
        shared = await bot.driver.click(
            AlertAction.SHARE_LIST,
            value_of(mine["blocks"], AlertAction.SHARE_LIST),
            user="U1",
            channel=bot.channel(),
        )
        [copy] = await bot.fake.wait_for_response(shared.response_name)
        assert copy["response_type"] == "in_channel" and copy["replace_original"] is False
        assert_valid_message(copy["text"], copy["blocks"])
        assert f"`{NET}/multiple_active`" in copy["blocks"][0]["text"]["text"]
        assert copy["blocks"][-1]["elements"][0]["text"] == "shared by <@U1>"
        assert action_ids(copy) == []


async def test_share_posts_the_requests_list_for_the_whole_channel(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        request = await open_request(bot, f"pause {NET} seq-1")
        sent = await bot.driver.command("requests", user=REQUESTER, channel=bot.channel())
        [mine] = await bot.fake.wait_for_response(sent.response_name)
        assert mine["response_type"] == "ephemeral" and action_ids(mine) == [RequestsAction.SHARE]
        shared = await bot.driver.click(
            RequestsAction.SHARE,
            value_of(mine["blocks"], RequestsAction.SHARE),
            user="U9",
            channel=bot.channel(),
        )
        [copy] = await bot.fake.wait_for_response(shared.response_name)
        assert copy["response_type"] == "in_channel"
        assert_valid_message(copy["text"], copy["blocks"])
        listed = json.dumps(copy["blocks"])
        assert (
            f"pause {NET} seq-1" in listed
            and "open the request" in listed
            and request.ts.replace(".", "") in listed
        )
        assert copy["blocks"][-1]["elements"][0]["text"] == "1 open · shared by <@U9>"
        assert action_ids(copy) == []
        # From a channel where the network's commands are not accepted, nothing is shared.
        refused = await bot.driver.click(
            RequestsAction.SHARE, json.dumps({"network": NET}), channel="CELSEWHERE"
        )
        [reply] = await bot.fake.wait_for_response(refused.response_name)
        assert reply.get("response_type") != "in_channel"
