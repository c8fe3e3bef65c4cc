"""The notifier's delivery guarantees against the fake Slack Web API: delayed, never lost, never doubled."""

from __future__ import annotations

from alerts.alert_store import AlertStore
from alerts.watcher import Watcher
from tests.alerts.test_watcher_helpers import NET, posts, run
from tests.fixtures.slack import StartBot


async def test_rate_limited_post_waits_for_retry_after_then_posts_once(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        watcher = Watcher(bot.ctx, "replica-a")
        await run(bot, [watcher], 4)
        bot.fake.fail_next("chat.postMessage", status=429, retry_after=5)
        await bot.sim.split_brain(NET, "seq-2")
        [report] = await run(bot, [watcher], 2)
        assert posts(bot) == [] and report.outbox == 1
        attempts = len(bot.fake.calls("chat.postMessage"))
        await run(bot, [watcher], 2)
        # Still inside Retry-After: no call at all, the alert waits in the outbox.
        assert len(bot.fake.calls("chat.postMessage")) == attempts
        await run(bot, [watcher], 4)
        [alert] = posts(bot)
        assert "More than one active sequencer" in alert.text
        assert await AlertStore(bot.ctx.store).outbox_length(NET) == 0


async def test_slack_outage_delays_alerts_and_replies_in_order_without_losing_any(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        watcher = Watcher(bot.ctx, "replica-a")
        await run(bot, [watcher], 4)
        bot.fake.set_down(True)
        await bot.sim.split_brain(NET, "seq-2")
        await run(bot, [watcher], 10)
        # Resolve it while Slack is still down: the post, its update and the resolution all wait.
        bot.sim.node(NET, "seq-2").seq_active = False
        await run(bot, [watcher], 40)
        assert await AlertStore(bot.ctx.store).outbox_length(NET) >= 2
        bot.fake.set_down(False)
        await run(bot, [watcher], 2)
        [alert] = posts(bot)
        assert alert.text.startswith(":white_check_mark:") and "(resolved)" in alert.text
        assert len(alert.replies) == 1 and "Resolved" in alert.replies[0].text
        await run(bot, [watcher], 20)
        assert len(posts(bot)) == 1


async def test_outbox_survives_a_restart_and_the_new_process_delivers_it(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        old = Watcher(bot.ctx, "replica-a")
        await run(bot, [old], 4)
        bot.fake.set_down(True)
        await bot.sim.split_brain(NET, "seq-2")
        await run(bot, [old], 4)
        await old.release()
        bot.fake.set_down(False)
        new = Watcher(bot.ctx, "replica-b")
        await run(bot, [new], 2)
        [alert] = posts(bot)
        assert "More than one active sequencer" in alert.text
        await run(bot, [new], 10)
        assert len(posts(bot)) == 1


async def test_permanently_refused_update_is_dropped_and_does_not_block_later_messages(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        watcher = Watcher(bot.ctx, "replica-a")
        await run(bot, [watcher], 4)
        await bot.sim.split_brain(NET, "seq-2")
        await run(bot, [watcher], 4)
        bot.fake.fail_next("chat.update", status=200, retry_after=None, error="message_not_found")
        bot.sim.node(NET, "seq-2").seq_active = False
        await run(bot, [watcher], 40)
        [alert] = posts(bot)
        # The update was refused for good, but the resolution reply behind it still went out.
        assert "(firing)" in alert.text
        assert len(alert.replies) == 1 and "Resolved" in alert.replies[0].text
        assert await AlertStore(bot.ctx.store).outbox_length(NET) == 0
