"""The Slack outbox against the fake Web API failing: no episode loses its message, no post doubles,
a dead flusher is replaced within a few intervals, an approval's outcome reaches its message."""

from __future__ import annotations

from chat.delivery import Deliverer
from commands.ids import ApprovalAction
from store import locks
from store.outbox import Outbox, SlackWrite
from tests.alerts.test_watcher_helpers import NET, posts, run, started_watcher, titled
from tests.fixtures.redis import eventually
from tests.fixtures.slack import StartBot
from tests.scenarios.approval_support import (
    APPROVER,
    OVERRIDES,
    REQUESTER,
    click,
    open_request,
    request_id_of,
    thread_texts,
    use_sim_settle,
    wait_message_state,
    wait_state,
)


async def test_an_episode_superseded_during_an_outage_keeps_its_own_message_and_resolution(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        watcher = await started_watcher(bot, 4)
        await bot.fake.set_fault("500")
        await bot.sim.split_brain(NET, "seq-2")
        await run(bot, [watcher], 4)
        bot.sim.node(NET, "seq-2").seq_active = False
        await run(bot, [watcher], 40)
        # It fires again while Slack is still failing: a second episode.
        await bot.sim.split_brain(NET, "seq-2")
        await run(bot, [watcher], 4)
        assert posts(bot) == []
        await bot.fake.set_fault(None)
        await run(bot, [watcher], 2)
        first, second = titled(bot, "More than one active sequencer")
        assert "(resolved)" in first.text and [r.text for r in first.replies if "Resolved" in r.text]
        assert len(first.replies) == 1
        assert "(firing)" in second.text and second.replies == []


async def test_a_post_whose_answer_timed_out_is_found_in_history_not_posted_again(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        bot.ctx.slack.timeout = 1
        watcher = await started_watcher(bot, 4)
        # Slack takes the post but answers too late: the outcome is unknown to the bot.
        await bot.fake.set_fault("timeout", delay=3.0)
        await bot.sim.split_brain(NET, "seq-2")
        [report] = await run(bot, [watcher], 2)
        assert report.outbox == 1 and len(posts(bot)) == 1
        await bot.fake.set_fault(None)
        await run(bot, [watcher], 2)
        assert bot.fake.calls("conversations.history")
        assert await Outbox(bot.ctx.store).length(NET) == 0
        bot.sim.node(NET, "seq-2").seq_active = False
        await run(bot, [watcher], 40)
        [alert] = posts(bot)
        assert "(resolved)" in alert.text and len(alert.replies) == 1


async def test_a_dead_flushers_lock_is_taken_over_within_a_few_intervals(running_bot: StartBot) -> None:
    async with running_bot(settings_env={"CONDUCTOR_BOT_POLL_INTERVAL": 0.2}) as bot:
        deliverer = Deliverer(bot.ctx)
        key = bot.ctx.store.keys.flush_lock(NET)
        # A flusher that died holding the lock: nobody renews or releases it.
        assert await locks.acquire(bot.ctx.store, key, deliverer.lock_ttl_ms) is not None
        posted = await bot.ctx.slack.chat_postMessage(channel=bot.channel(NET), text="parent")
        write = SlackWrite(message="test:1", op="reply", channel=bot.channel(NET), ts=posted["ts"], text="hi")
        assert (await deliverer.submit(NET, [write])).busy

        async def delivered() -> bool:
            return (await deliverer.flush(NET)).remaining == 0

        await eventually(delivered, within=deliverer.lock_ttl_ms / 1000 + 1.0)
        [parent] = posts(bot)
        assert [r.text for r in parent.replies] == ["hi"]


async def test_an_approval_outcome_reaches_its_message_after_slack_failed_at_that_moment(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        message = await open_request(bot, f"pause {NET} seq-2")
        await bot.fake.set_fault("503")
        await click(bot, message, ApprovalAction.APPROVE, APPROVER)
        await wait_state(bot, request_id_of(message), "succeeded")
        for task in [t for t in bot.ctx.tasks if t.get_name().startswith("execute-")]:
            await task  # its last update and outcome reply are queued by then
        # Recorded, but Slack failed every update and reply: all of them wait in the outbox.
        assert thread_texts(message) == [] and await Outbox(bot.ctx.store).length(NET) > 0
        await bot.fake.set_fault(None)
        # The next flush (e.g. the watcher's tick on any replica) brings the message up to date.
        await Deliverer(bot.ctx).flush(NET)
        await wait_message_state(bot, message, "Succeeded")
        outcomes = [t for t in thread_texts(message) if t.startswith(":large_green_circle:")]
        assert len(outcomes) == 1 and f"<@{REQUESTER}>" in outcomes[0]


async def test_a_reply_sent_by_a_flusher_that_died_before_recording_it_is_not_sent_again(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        deliverer = Deliverer(bot.ctx)
        parent = await bot.ctx.slack.chat_postMessage(channel=bot.channel(NET), text="parent")
        write = SlackWrite(
            message="test:1", op="reply", channel=bot.channel(NET), ts=parent["ts"], text="once"
        )
        await deliverer.outbox.enqueue(NET, [write])
        # What the dead flusher did: recorded its attempt, and Slack took the reply.
        await deliverer.outbox.mark_try(NET, write.id)
        await bot.ctx.slack.chat_postMessage(
            channel=write.channel, thread_ts=parent["ts"], text=write.text, metadata=write.metadata
        )
        report = await deliverer.flush(NET)
        assert report.adopted == 1 and report.remaining == 0
        [message] = posts(bot)
        assert [r.text for r in message.replies] == ["once"]


async def test_a_post_of_unknown_outcome_is_still_delivered_when_history_cannot_be_read(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        deliverer = Deliverer(bot.ctx)
        write = SlackWrite(message="test:post", op="post", channel=bot.channel(NET), text="hello")
        await deliverer.outbox.enqueue(NET, [write])
        # A sender died after recording its attempt, before Slack got anything; the app was installed
        # without the history scope, so the lookup is refused: sending again beats losing it.
        await deliverer.outbox.mark_try(NET, write.id)
        bot.fake.fail_next("conversations.history", status=200, retry_after=None, error="missing_scope")
        report = await deliverer.flush(NET)
        assert report.delivered == 1 and [m.text for m in posts(bot)] == ["hello"]
        assert await deliverer.outbox.message(NET, "test:post") is not None
