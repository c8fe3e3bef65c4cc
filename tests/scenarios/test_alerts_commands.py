"""`/conductor alerts|silence|unsilence` end to end, and the scheduler running the watcher in the bot."""

from __future__ import annotations

from alerts.watcher import Watcher
from bot.scheduler import start_scheduler, stop_scheduler
from store import audit
from store.audit import AuditKind
from tests.alerts.test_watcher_helpers import NET, posts, run, titled
from tests.fixtures.slack import StartBot
from tests.scenarios.test_alerts_buttons import RESPONDERS


async def test_alerts_lists_what_is_firing(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        watcher = Watcher(bot.ctx, "replica-a")
        await run(bot, [watcher], 4)
        sent = await bot.driver.command("alerts sim-1", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["text"] == "No firing, pending or silenced alerts."
        await bot.sim.split_brain(NET, "seq-2")
        await run(bot, [watcher], 4)
        sent = await bot.driver.command("alerts", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert "*firing*" in reply["text"] and "`sim-1/multiple_active`: 2 active sequencers" in reply["text"]


async def test_network_silence_holds_new_alerts_until_lifted(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=RESPONDERS) as bot:
        watcher = Watcher(bot.ctx, "replica-a")
        await run(bot, [watcher], 4)
        sent = await bot.driver.command("silence sim-1 2h", user="U1", channel=bot.channel())
        await bot.fake.wait_for("chat.postMessage")
        assert posts(bot)[0].text == ":no_bell: <@U1> silenced every alert of `sim-1` for 2h."
        await bot.sim.split_brain(NET, "seq-2")
        await run(bot, [watcher], 10)
        assert titled(bot, "More than one active") == []
        sent = await bot.driver.command("alerts sim-1", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert "every alert silenced by <@U1>" in reply["text"] and "multiple_active" in reply["text"]
        await bot.driver.command("unsilence sim-1", user="U1", channel=bot.channel())
        await bot.fake.wait_for("chat.postMessage", count=2)
        await run(bot, [watcher], 2)
        [alert] = titled(bot, "More than one active")
        assert "(firing)" in alert.text
        entries = await audit.read(bot.ctx.store, NET)
        assert [(e.kind, e.actor, e.data["action"]) for e in entries] == [
            (AuditKind.SILENCE, "U1", "unsilence"),
            (AuditKind.SILENCE, "U1", "silence"),
        ]


async def test_silence_one_alert_until_resolved_and_bad_durations(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=RESPONDERS) as bot:
        watcher = Watcher(bot.ctx, "replica-a")
        await run(bot, [watcher], 4)
        await bot.sim.split_brain(NET, "seq-2")
        await run(bot, [watcher], 4)
        sent = await bot.driver.command("silence sim-1 multiple_active soon", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert "`soon` is not a duration" in reply["text"]
        sent = await bot.driver.command("silence sim-1 until-resolved", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert "`until-resolved` silences one alert" in reply["text"]
        sent = await bot.driver.command("silence sim-1 multiple_active until-resolved", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["text"] == "Silenced `sim-1/multiple_active` until resolved."
        await bot.fake.wait_for("chat.update")
        assert "silenced by <@U1> until resolved" in str(posts(bot)[0].blocks)
        sent = await bot.driver.command("unsilence sim-1 multiple_active", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["text"] == "Lifted the silence on `sim-1/multiple_active`."
        # Asked again, there is nothing left to lift, and it says so.
        sent = await bot.driver.command("unsilence sim-1 multiple_active", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["text"] == "`sim-1/multiple_active` is not silenced; nothing to lift."


async def test_scheduler_in_the_running_bot_watches_and_hands_its_lease_back(running_bot: StartBot) -> None:
    lease_key = ""
    async with running_bot(
        startup=[start_scheduler],
        shutdown=[stop_scheduler],
        settings_env={"CONDUCTOR_BOT_POLL_INTERVAL": 0.2},
    ) as bot:
        lease_key = bot.ctx.store.keys.watch_lease(NET)
        await bot.sim.split_brain(NET, "seq-2")
        await bot.fake.wait_for("chat.postMessage", timeout=5.0)
        [alert] = posts(bot)
        assert "More than one active sequencer" in alert.text
        assert await bot.ctx.redis.get(lease_key) is not None
        redis = bot.ctx.redis
    assert await redis.get(lease_key) is None
