"""Alerts the bot's own approved operation causes: threaded under the request, named by it.

Signed commands and clicks into the running bot, the simulator over HTTP, the watcher ticking on the
shared ManualClock, everything the channel would show read back from the fake Slack.
"""

from __future__ import annotations

from alerts.ids import AlertBlock
from sim.slack_api import BOT_USER_ID, FakeMessage
from store.outbox import Outbox
from tests.alerts.test_watcher_helpers import NET, posts, run, started_watcher
from tests.fixtures.blocks_valid import assert_valid_message
from tests.fixtures.redis import eventually
from tests.fixtures.slack import BotHandle, StartBot
from tests.scenarios.approval_support import (
    OVERRIDES,
    REQUESTER,
    approve_and_finish,
    open_request,
    request_id_of,
    use_sim_settle,
)
from tests.scenarios.procedure_support import approved_procedure, checklist, wait_run
from tests.scenarios.runbook_support import REQ, ROLES


def cause_line(message: FakeMessage) -> str:
    return " ".join(
        e["text"]
        for b in message.blocks or []
        if b.get("block_id") == AlertBlock.CAUSE
        for e in b["elements"]
    )


async def approved(bot: BotHandle, command: str) -> tuple[FakeMessage, str]:
    request = await open_request(bot, command)
    await approve_and_finish(bot, request)
    return request, request_id_of(request)


async def test_an_approved_pause_all_is_one_expected_summary_in_the_request_thread(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        watcher = await started_watcher(bot, 10)
        request, request_id = await approved(bot, f"pause {NET} all")
        await run(bot, [watcher], 20)
        # No siren in the channel: the only top-level message is the request itself.
        assert [m.ts for m in posts(bot)] == [request.ts]
        [summary] = [r for r in request.replies if "expected alert" in r.text]
        assert summary.text == (
            f":information_source: [{NET}] 3 expected alerts of `pause {NET} all`, 3 still firing"
        )
        assert_valid_message(summary.text, summary.blocks)
        assert cause_line(summary) == (
            f":link: Expected: caused by request `{request_id}`, "
            f"`pause {NET} all` requested by <@{REQUESTER}>"
        )
        # Still one message: the next ticks neither repost nor page.
        await run(bot, [watcher], 60)
        assert [m.ts for m in posts(bot)] == [request.ts]
        assert len([r for r in request.replies if "expected alert" in r.text]) == 1


async def test_an_unexpected_condition_during_an_operation_still_pages_in_the_channel(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        watcher = await started_watcher(bot, 10)
        request, request_id = await approved(bot, f"pause {NET} seq-1")
        # Right after the pause, seq-2's op-node dies: nobody approved that.
        await bot.sim.kill(NET, "seq-2", "node")
        await run(bot, [watcher], 24)
        [paused] = [r for r in request.replies if "Conductor paused" in r.text]
        assert paused.text.endswith(f"(expected: request `{request_id}`)")
        assert f"caused by request `{request_id}`" in cause_line(paused)
        assert_valid_message(paused.text, paused.blocks)
        top = [m for m in posts(bot) if m.ts != request.ts]
        assert sorted(m.text.split(" (")[0] for m in top) == [
            f":warning: [{NET}] Node unreachable: seq-2",
            f":warning: [{NET}] Sequencer unhealthy: seq-2",
        ]
        assert [cause_line(m) for m in top] == ["", ""]
        # Resumed by hand (a restart resets the flag): it resolves in the thread where it was posted.
        await bot.sim.kill(NET, "seq-1")
        await bot.sim.revive(NET, "seq-1")
        await run(bot, [watcher], 40)
        assert "(resolved)" in paused.text and paused.updates >= 1
        [resolved] = [r for r in request.replies if ":white_check_mark: Resolved" in r.text]
        assert resolved.text.startswith(
            "*Conductor paused or stopped: seq-1*: :white_check_mark: Resolved after"
        )


async def test_after_the_settle_window_the_same_condition_is_an_ordinary_alert_again(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        watcher = await started_watcher(bot, 4)
        request, _ = await approved(bot, f"pause {NET} seq-1")
        await run(bot, [watcher], 6)
        # Resumed by hand, then, long after the request, paused by hand again: not the bot's doing.
        await bot.sim.kill(NET, "seq-1")
        await bot.sim.revive(NET, "seq-1")
        await run(bot, [watcher], 60)
        await bot.sim.kill(NET, "seq-1")
        await bot.sim.revive(NET, "seq-1", paused=True)
        await run(bot, [watcher], 6)
        [first] = [r for r in request.replies if f"[{NET}] Conductor paused" in r.text]
        assert "(resolved)" in first.text
        [alert] = [m for m in posts(bot) if "Conductor paused" in m.text]
        assert "(firing)" in alert.text and alert.thread_ts is None and cause_line(alert) == ""


async def test_an_approved_transfer_leader_reports_the_change_in_the_request_thread(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        watcher = await started_watcher(bot, 10)
        before = bot.sim.network(NET).leader_id()
        target = next(s for s in ("seq-0", "seq-1", "seq-2") if s != before)
        request, request_id = await approved(bot, f"transfer-leader {NET} {target}")
        await run(bot, [watcher], 10)
        assert [m.ts for m in posts(bot)] == [request.ts]
        [event] = [r for r in request.replies if "Leader changed" in r.text]
        assert event.text == f":arrows_counterclockwise: [{NET}] Leader changed: {before} → {target}"
        assert f"caused by request `{request_id}`" in cause_line(event)
        assert_valid_message(event.text, event.blocks)


async def test_a_caused_alert_held_with_its_request_channel_goes_out_with_its_latest_state(
    running_bot: StartBot,
) -> None:
    # Alerts page in their own channel; the request (and what it causes) lives in the command channel.
    overrides = {**OVERRIDES, "alert_channel": "C0PAGES"}
    async with running_bot(network_overrides=overrides) as bot:
        use_sim_settle(bot)
        watcher = await started_watcher(bot, 10)
        request, request_id = await approved(bot, f"pause {NET} seq-1")
        # The bot is removed from the command channel: the caused alert waits there, and so must its
        # update once it resolves (queued for that channel, not for the alert channel).
        bot.fake.set_member(bot.channel(), False)
        await run(bot, [watcher], 24)
        await bot.sim.kill(NET, "seq-1")
        await bot.sim.revive(NET, "seq-1")
        await run(bot, [watcher], 40)
        assert not [r for r in request.replies if "Conductor paused" in r.text]
        bot.fake.set_member(bot.channel(), True)
        sent = await bot.driver.event(
            {"type": "member_joined_channel", "user": BOT_USER_ID, "channel": bot.channel()}
        )
        assert sent.status == 200

        async def delivered() -> bool:
            return await Outbox(bot.ctx.store).length(NET) == 0

        await eventually(delivered, within=10.0)
        [paused] = [r for r in request.replies if f"[{NET}] Conductor paused" in r.text]
        assert "(resolved)" in paused.text, paused.text
        assert f"caused by request `{request_id}`" in cause_line(paused)
        assert bot.fake.messages("C0PAGES") == []


async def test_a_procedures_acts_post_what_they_cause_in_its_checklist_thread(running_bot: StartBot) -> None:
    async with running_bot(nodes=3, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        watcher = await started_watcher(bot, 10)
        request, run_id = await approved_procedure(bot, f"procedure halt {NET}")
        ended = await wait_run(bot, run_id)
        assert ended.phase == "succeeded", ended.outcome
        await run(bot, [watcher], 30)
        sheet = checklist(bot)
        # The chain is halted on purpose: no siren in the channel, only the request and its checklist.
        assert [m.ts for m in posts(bot)] == [request.ts, sheet.ts]
        caused = [r for r in sheet.replies if cause_line(r)]
        command = ended.procedure.command
        expected = f":link: Expected: caused by request `{run_id}`, `{command}` requested by <@{REQ}>"
        assert caused and all(cause_line(r) == expected for r in caused)
        texts = " ".join(r.text for r in caused)
        # The pause act's alerts fire while the stop-sequencer act runs: still the procedure's doing.
        assert "3 expected alerts" in texts and "Chain stalled" in texts
        for reply in caused:
            assert_valid_message(reply.text, reply.blocks)
