"""Alert buttons end to end: signed clicks into the running bot; the message updated in place, notes in
its thread."""

from __future__ import annotations

import json

from alerts.buttons import STALE_BUTTON_TEXT
from alerts.ids import AlertAction
from alerts.watcher import Watcher
from sim.slack_api import FakeMessage
from store import audit
from store.audit import AuditKind
from tests.alerts.test_watcher_helpers import NET, posts, run
from tests.fixtures.slack import BotHandle, StartBot

# Who may respond to this network's alerts (an empty requesters list names nobody for alerts).
RESPONDERS = {"requesters": ("U1",)}


def button_value(message: FakeMessage, action: AlertAction) -> str | None:
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == action.value:
                return str(element["value"])
    return None


def context_text(message: FakeMessage) -> str:
    return " ".join(e["text"] for b in message.blocks or [] if b["type"] == "context" for e in b["elements"])


async def firing_alert(bot: BotHandle, watcher: Watcher) -> FakeMessage:
    await run(bot, [watcher], 4)
    await bot.sim.split_brain(NET, "seq-2")
    await run(bot, [watcher], 4)
    [alert] = posts(bot)
    return alert


async def test_acknowledge_updates_the_message_in_place_and_notes_it_in_the_thread(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides={"requesters": ("U1",), "approvers": ("U3",)}) as bot:
        alert = await firing_alert(bot, Watcher(bot.ctx, "replica-a"))
        value = button_value(alert, AlertAction.ACKNOWLEDGE)
        assert value is not None and json.loads(value) == {
            "network": NET,
            "fingerprint": "sim-1/multiple_active",
        }
        sent = await bot.driver.click(
            AlertAction.ACKNOWLEDGE, value, user="U3", channel=bot.channel(), message_ts=alert.ts
        )
        assert sent.status == 200
        await bot.fake.wait_for("chat.update")
        [alert] = posts(bot)
        assert button_value(alert, AlertAction.ACKNOWLEDGE) is None
        assert "acknowledged by <@U3>" in context_text(alert)
        await bot.fake.wait_for("chat.postMessage", predicate=lambda c: bool(c.get("thread_ts")))
        assert [r.text for r in posts(bot)[0].replies] == [":eyes: Acknowledged by <@U3>; reminders stop."]
        [entry] = await audit.read(bot.ctx.store, NET)
        assert (entry.kind, entry.actor, entry.data) == (
            AuditKind.ALERT,
            "U3",
            {"fingerprint": "sim-1/multiple_active", "action": "acknowledge"},
        )


async def test_users_who_may_neither_request_nor_approve_cannot_silence(running_bot: StartBot) -> None:
    async with running_bot(network_overrides={"requesters": ("U1",), "approvers": ("U3",)}) as bot:
        alert = await firing_alert(bot, Watcher(bot.ctx, "replica-a"))
        value = button_value(alert, AlertAction.SILENCE_2H)
        assert value is not None
        sent = await bot.driver.click(
            AlertAction.SILENCE_2H, value, user="U9", channel=bot.channel(), message_ts=alert.ts
        )
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert "Only requesters or approvers of `sim-1`" in reply["text"]
        assert posts(bot)[0].updates == 0 and posts(bot)[0].replies == []


async def test_silence_30_min_shows_on_the_message_and_keeps_the_resolution_quiet(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides=RESPONDERS) as bot:
        watcher = Watcher(bot.ctx, "replica-a")
        alert = await firing_alert(bot, watcher)
        value = button_value(alert, AlertAction.SILENCE_30M)
        assert value is not None
        await bot.driver.click(
            AlertAction.SILENCE_30M, value, user="U1", channel=bot.channel(), message_ts=alert.ts
        )
        await bot.fake.wait_for("chat.update")
        await bot.fake.wait_for("chat.postMessage", predicate=lambda c: bool(c.get("thread_ts")))
        [alert] = posts(bot)
        assert "silenced by <@U1> for 30m" in context_text(alert)
        assert alert.replies[0].text.startswith(":no_bell: Silenced by <@U1> for 30m")
        [entry] = await audit.read(bot.ctx.store, NET)
        assert (entry.kind, entry.actor, entry.message) == (
            AuditKind.SILENCE,
            "U1",
            "silenced alert `sim-1/multiple_active` for 30m",
        )
        bot.sim.node(NET, "seq-2").seq_active = False
        await run(bot, [watcher], 40)
        [alert] = posts(bot)
        # Updated in place so it does not show a stale "firing", but no "resolved" ping while silenced.
        assert "(resolved)" in alert.text
        assert len(alert.replies) == 1


async def test_silence_network_button_on_a_summary_mutes_the_network_and_says_so_in_its_thread(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides=RESPONDERS) as bot:
        watcher = Watcher(bot.ctx, "replica-a")
        await run(bot, [watcher], 4)
        for node in ("seq-0", "seq-1", "seq-2"):
            await bot.sim.set_peers(NET, node, 0)
        await run(bot, [watcher], 40)
        summary = next(m for m in posts(bot) if "alerts started together" in m.text)
        value = button_value(summary, AlertAction.SILENCE_NETWORK_2H)
        assert value is not None and json.loads(value) == {"network": NET}
        await bot.driver.click(
            AlertAction.SILENCE_NETWORK_2H, value, user="U1", channel=bot.channel(), message_ts=summary.ts
        )
        await bot.fake.wait_for("chat.postMessage", predicate=lambda c: c.get("thread_ts") == summary.ts)
        assert summary.replies[-1].text.startswith(":no_bell: <@U1> silenced every alert of `sim-1` for 2h")
        sent = await bot.driver.command("alerts sim-1", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["text"].startswith(":no_bell: `sim-1`: every alert silenced by <@U1> for 2h")
        [entry] = await audit.read(bot.ctx.store, NET)
        assert (entry.kind, entry.actor, entry.data["action"]) == (AuditKind.SILENCE, "U1", "silence")


async def test_with_no_requesters_configured_nobody_but_approvers_may_respond(running_bot: StartBot) -> None:
    async with running_bot(network_overrides={"requesters": (), "approvers": ("U3",)}) as bot:
        alert = await firing_alert(bot, Watcher(bot.ctx, "replica-a"))
        value = button_value(alert, AlertAction.ACKNOWLEDGE)
        assert value is not None
        sent = await bot.driver.click(
            AlertAction.ACKNOWLEDGE, value, user="U1", channel=bot.channel(), message_ts=alert.ts
        )
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert "Only requesters or approvers of `sim-1`" in reply["text"]
        assert posts(bot)[0].updates == 0 and await audit.read(bot.ctx.store, NET) == []
        await bot.driver.click(
            AlertAction.ACKNOWLEDGE, value, user="U3", channel=bot.channel(), message_ts=alert.ts
        )
        await bot.fake.wait_for("chat.update")
        assert "acknowledged by <@U3>" in context_text(posts(bot)[0])


async def test_a_malformed_or_old_button_value_gets_the_stale_button_message(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=RESPONDERS) as bot:
        alert = await firing_alert(bot, Watcher(bot.ctx, "replica-a"))
        for value in ("not json", '{"net": "sim-1", "fp": "sim-1/multiple_active"}', '{"network": "sim-1"}'):
            sent = await bot.driver.click(
                AlertAction.ACKNOWLEDGE, value, user="U1", channel=bot.channel(), message_ts=alert.ts
            )
            [reply] = await bot.fake.wait_for_response(sent.response_name)
            assert STALE_BUTTON_TEXT in reply["text"]
        assert posts(bot)[0].updates == 0


async def test_silence_or_acknowledge_on_a_resolved_alert_tells_the_clicker_what_it_did(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides=RESPONDERS) as bot:
        watcher = Watcher(bot.ctx, "replica-a")
        alert = await firing_alert(bot, watcher)
        value = button_value(alert, AlertAction.SILENCE_30M)
        assert value is not None
        bot.sim.node(NET, "seq-2").seq_active = False
        await run(bot, [watcher], 40)
        replies = len(posts(bot)[0].replies)

        answers = {}
        for action in (AlertAction.SILENCE_UNTIL_RESOLVED, AlertAction.ACKNOWLEDGE, AlertAction.SILENCE_30M):
            sent = await bot.driver.click(
                action, value, user="U1", channel=bot.channel(), message_ts=alert.ts
            )
            [answer] = await bot.fake.wait_for_response(sent.response_name)
            assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
            answers[action] = answer["text"]
        fp = "`sim-1/multiple_active`"
        assert answers == {
            AlertAction.SILENCE_UNTIL_RESOLVED: f"{fp} is resolved: nothing to silence until resolved.",
            AlertAction.ACKNOWLEDGE: f"{fp} is resolved: nothing to acknowledge.",
            AlertAction.SILENCE_30M: answers[AlertAction.SILENCE_30M],
        }
        assert answers[AlertAction.SILENCE_30M].startswith(
            f"{fp} is resolved. Silenced anyway for 30m (until <!date^"
        )
        assert answers[AlertAction.SILENCE_30M].endswith("if it fires before then, it will not be posted.")
        # Nothing was said in the alert's thread: it is over.
        assert len(posts(bot)[0].replies) == replies
