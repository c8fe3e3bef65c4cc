"""The notifier's delivery guarantees against the fake Slack Web API: delayed, never lost, never doubled."""

from __future__ import annotations

import asyncio

from alerts.alert_store import AlertStore
from alerts.effects import PostAlert, PostSummary, ThreadReply, UpdateAlert
from alerts.model import AlertState, fingerprint
from alerts.notifier import Notifier
from alerts.watcher import Watcher
from store.outbox import Outbox
from tests.alerts.test_watcher_helpers import NET, posts, run, started_watcher, titled
from tests.fixtures.slack import BotHandle, StartBot


async def test_rate_limited_post_waits_for_retry_after_then_posts_once(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        watcher = await started_watcher(bot, 4)
        bot.fake.fail_next("chat.postMessage", status=429, retry_after=5)
        await bot.sim.split_brain(NET, "seq-2")
        [report] = await run(bot, [watcher], 2)
        assert posts(bot) == [] and report.outbox == 1
        attempts = len(bot.fake.calls("chat.postMessage"))
        await run(bot, [watcher], 2)
        # Still inside Retry-After: no call at all, the alert waits in the outbox.
        assert len(bot.fake.calls("chat.postMessage")) == attempts
        # The back-off is in Redis: any other notifier (a button click, another replica) honours it.
        assert (await Notifier(bot.ctx).flush(NET)).busy
        assert len(bot.fake.calls("chat.postMessage")) == attempts
        backoff = bot.ctx.store.keys.slack_backoff(NET)
        assert 0 < await bot.ctx.redis.pttl(backoff) <= 5000
        # Redis expires it after Retry-After of real time (done here by hand, as for leases).
        await bot.ctx.redis.delete(backoff)
        await run(bot, [watcher], 2)
        [alert] = posts(bot)
        assert "More than one active sequencer" in alert.text
        assert await Outbox(bot.ctx.store).length(NET) == 0


async def test_slack_outage_delays_alerts_and_replies_in_order_without_losing_any(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        watcher = await started_watcher(bot, 4)
        bot.fake.set_down(True)
        await bot.sim.split_brain(NET, "seq-2")
        await run(bot, [watcher], 10)
        # Resolve it while Slack is still down: the post, its update and the resolution all wait.
        bot.sim.node(NET, "seq-2").seq_active = False
        await run(bot, [watcher], 40)
        assert await Outbox(bot.ctx.store).length(NET) >= 2
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
        watcher = await started_watcher(bot, 4)
        await bot.sim.split_brain(NET, "seq-2")
        await run(bot, [watcher], 4)
        # Slack refuses to edit it for good (message_not_found is retried: tests/chat/test_channels.py).
        bot.fake.fail_next("chat.update", status=200, retry_after=None, error="cant_update_message")
        bot.sim.node(NET, "seq-2").seq_active = False
        await run(bot, [watcher], 40)
        [alert] = posts(bot)
        # The update was refused for good, but the resolution reply behind it still went out.
        assert "(firing)" in alert.text
        assert len(alert.replies) == 1 and "Resolved" in alert.replies[0].text
        assert await Outbox(bot.ctx.store).length(NET) == 0


async def posted_alert_fingerprint(bot: BotHandle, watcher: Watcher) -> str:
    await run(bot, [watcher], 4)
    await bot.sim.split_brain(NET, "seq-2")
    await run(bot, [watcher], 4)
    assert len(posts(bot)) == 1
    assert await Outbox(bot.ctx.store).length(NET) == 0
    return "sim-1/multiple_active"


async def test_two_notifiers_flushing_one_outbox_at_once_deliver_each_entry_once(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        fp = await posted_alert_fingerprint(bot, Watcher(bot.ctx, "replica-a"))
        outbox = Outbox(bot.ctx.store)
        replies = [ThreadReply(fingerprint=fp, kind="reminder", text=f"note {i}") for i in range(5)]
        await outbox.enqueue(
            NET, await Notifier(bot.ctx).render(NET, [*replies, UpdateAlert(fingerprint=fp)], {})
        )
        # E.g. a button click's notifier and the watcher's flush the same list at the same moment.
        reports = await asyncio.gather(*(Notifier(bot.ctx).flush(NET) for _ in range(3)))
        assert sum(r.delivered for r in reports) == 6 and sum(r.busy for r in reports) == 2
        [alert] = posts(bot)
        assert [r.text for r in alert.replies] == [f"note {i}" for i in range(5)]
        assert len(bot.fake.calls("chat.update")) == 1
        assert await outbox.length(NET) == 0
        assert await bot.ctx.redis.exists(bot.ctx.store.keys.flush_lock(NET)) == 0


async def test_a_busy_flush_lock_leaves_the_entries_to_its_holder(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        fp = await posted_alert_fingerprint(bot, Watcher(bot.ctx, "replica-a"))
        await bot.ctx.redis.set(bot.ctx.store.keys.flush_lock(NET), "another-notifier", px=10_000)
        reply = ThreadReply(fingerprint=fp, kind="reminder", text="later")
        report = await Notifier(bot.ctx).submit(NET, [reply])
        assert report.busy and report.delivered == 0 and report.remaining == 1
        assert posts(bot)[0].replies == []
        await bot.ctx.redis.delete(bot.ctx.store.keys.flush_lock(NET))
        assert (await Notifier(bot.ctx).flush(NET)).delivered == 1
        assert [r.text for r in posts(bot)[0].replies] == ["later"]


async def test_a_reply_queued_for_an_earlier_episode_lands_in_that_episodes_thread(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        fp = await posted_alert_fingerprint(bot, Watcher(bot.ctx, "replica-a"))
        alerts = AlertStore(bot.ctx.store)
        episode = (await alerts.get(NET, fp)).state.episode  # type: ignore[union-attr]
        # The previous episode's message (as if posted then), and a reply still queued for it.
        old = Outbox(bot.ctx.store)
        first = await bot.ctx.slack.chat_postMessage(channel=bot.channel(NET), text="episode before")
        await bot.ctx.redis.set(
            bot.ctx.store.keys.slack_message(NET, f"alert:{fp}:{episode - 1}"),
            f'{{"channel": "{bot.channel(NET)}", "ts": "{first["ts"]}"}}',
        )
        stale = ThreadReply(fingerprint=fp, kind="resolved", text="from before", episode=episode - 1)
        current = ThreadReply(fingerprint=fp, kind="reminder", text="still firing", episode=episode)
        report = await Notifier(bot.ctx).submit(NET, [stale, current])
        assert report.remaining == 0 and await old.length(NET) == 0
        [before] = titled(bot, "episode before")
        [now] = titled(bot, "More than one active sequencer")
        assert [r.text for r in before.replies] == ["from before"]
        assert [r.text for r in now.replies] == ["still firing"]


def _firing(subject: str, now: float, episode: int = 1) -> AlertState:
    return AlertState(
        fingerprint=fingerprint(NET, "low_peers", subject),
        rule="low_peers",
        network=NET,
        subject=subject,
        severity="warning",
        phase="firing",
        since=now,
        fired_at=now,
        episode=episode,
        post_requested_at=now,
        summary=f"{subject} has too few peers",
    )


async def test_a_burst_summary_keeps_a_member_that_later_got_a_message_of_its_own(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        now = bot.ctx.clock.now()
        alerts = AlertStore(bot.ctx.store)
        a, b, c = (_firing(s, now) for s in ("seq-0", "seq-1", "seq-2"))
        for state in (a, b, c):
            assert await alerts.save(state, 0, now)
        notifier = Notifier(bot.ctx)
        await notifier.submit(
            NET, [PostSummary(network=NET, fingerprints=(a.fingerprint, b.fingerprint, c.fingerprint))]
        )
        [summary] = posts(bot)
        assert summary.text.endswith("3 alerts started together, 3 still firing")
        # `a` resolved and fired again: its new episode has a message of its own.
        again = _firing("seq-0", now + 60, episode=2)
        assert await alerts.save(again, 1, now + 60)
        await notifier.submit(NET, [PostAlert(fingerprint=a.fingerprint)])
        # Then `b` resolves: the summary is re-rendered, still about its three alerts.
        resolved = b.model_copy(update={"phase": "resolved", "resolved_at": now + 90, "since": now + 90})
        assert await alerts.save(resolved, 1, now + 90)
        await notifier.submit(NET, [UpdateAlert(fingerprint=b.fingerprint)])
        summary, own = posts(bot)
        assert summary.text.endswith("3 alerts started together, 2 still firing")
        assert "(firing)" in own.text and "seq-0" in own.text
