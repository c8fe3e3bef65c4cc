"""Execution that cannot or does not complete says exactly what ran and what did not."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from commands.ids import ApprovalAction, ApprovalBlock
from sim.slack_api import FakeSlackApi
from store import locks
from store.audit import AuditKind
from store.connection import client_for, start_valkey
from tests.fixtures.redis import eventually
from tests.fixtures.slack import StartBot
from tests.scenarios.approval_support import (
    APPROVER,
    NETWORK,
    OVERRIDES,
    REQUESTER,
    approve_and_finish,
    approve_slowed_until_rechecked,
    audit_entries,
    block_text,
    bot_on_redis,
    click,
    ephemeral,
    open_request,
    request_id_of,
    thread_texts,
    use_sim_settle,
    wait_message_state,
    wait_state,
)


async def test_a_step_failing_mid_plan_stops_it_and_says_what_ran(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        message = await open_request(bot, f"pause {NETWORK} all")
        # seq-0 answers slowly, so seq-2's conductor can die after the re-check and before its step.
        await approve_slowed_until_rechecked(bot, message)
        await bot.sim.kill(NETWORK, "seq-2", "conductor")
        final = await wait_state(bot, request_id_of(message), "succeeded", "failed")

        assert final.state == "failed"
        assert [r.ok for r in final.step_results] == [True, True, False]
        assert final.outcome is not None
        assert "step 3. `conductor_pause` on seq-2 failed" in final.outcome
        assert "Ran: 1. `conductor_pause` on seq-0, 2. `conductor_pause` on seq-1" in final.outcome
        await wait_message_state(bot, message, "Failed")
        assert "2 of 3 steps succeeded" in block_text(message, ApprovalBlock.OUTCOME)
        assert any(t.startswith(":x: step 3/3 `conductor_pause` on *seq-2*") for t in thread_texts(message))
        assert bot.sim.node(NETWORK, "seq-0").paused and bot.sim.node(NETWORK, "seq-1").paused
        steps = [e.data["status"] for e in await audit_entries(bot, final.id) if e.kind == AuditKind.STEP]
        assert steps == ["ok", "ok", "failed"]


async def test_preflight_rerun_at_execution_blocks_and_nothing_runs(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        await bot.sim.kill(NETWORK, "seq-2", "conductor")
        final = await approve_and_finish(bot, message)
        assert final.state == "failed" and final.step_results == ()
        assert (
            final.outcome is not None
            and "now blocks this" in final.outcome
            and "Nothing ran" in final.outcome
        )
        await wait_message_state(bot, message, "Failed")
        kinds = [e.kind for e in await audit_entries(bot, final.id)]
        assert AuditKind.STEP not in kinds and kinds[-1] == AuditKind.RESULT


async def test_a_held_network_lock_refuses_new_requests_and_stops_approved_ones(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        held = await locks.acquire(bot.ctx.store, bot.ctx.store.keys.lock(NETWORK), 30_000)
        assert held is not None
        final = await approve_and_finish(bot, message)
        assert final.state == "failed" and final.outcome is not None
        assert "holds this network's lock, so nothing ran" in final.outcome
        assert bot.sim.node(NETWORK, "seq-2").paused is False
        sent = await bot.driver.command(f"pause {NETWORK} seq-1", user=REQUESTER, channel=bot.channel())
        assert "its lock is held" in await ephemeral(bot, sent.response_name)
        assert await locks.release(bot.ctx.store, held), (
            "the executor never took or freed someone else's lock"
        )


async def test_handover_with_stop_and_start_on_another_sequencer(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        final = await approve_and_finish(bot, await open_request(bot, f"pause {NETWORK} all"))
        assert final.state == "succeeded", final.outcome
        # Leadership moves under the paused conductors (the bot refuses to do this itself: seq-0 would
        # keep sequencing without being able to commit, a halt); the handover must repair it.
        net = bot.sim.network(NETWORK)
        net.transfer_leader_to(net.node("seq-0"), "seq-1", net.node("seq-1").raft_addr)
        message = await open_request(bot, f"start-sequencer {NETWORK} seq-1")
        assert "admin_stopSequencer" in block_text(message, ApprovalBlock.PLAN)
        final = await approve_and_finish(bot, message)
        assert final.state == "succeeded", final.outcome
        assert bot.sim.network(NETWORK).active_sequencers() == ["seq-1"]
        assert [r.method for r in final.step_results] == ["admin_stopSequencer", "admin_startSequencer"]


async def test_redis_lost_mid_execution_is_reported_with_what_ran(
    fake_slack: FakeSlackApi, tmp_path: Path
) -> None:
    # Its own Valkey, so the test can stop it under the running bot.
    server = await asyncio.to_thread(start_valkey, tmp_path, {}, False)
    client = client_for(str(server.connection_url))
    stopped = False
    try:
        async with bot_on_redis(fake_slack, client) as bot:
            message = await open_request(bot, f"pause {NETWORK} all")
            await bot.sim.latency(NETWORK, "seq-0", "conductor", 0.4)
            await click(bot, message, ApprovalAction.APPROVE, APPROVER)

            async def rechecked() -> bool:
                return any(t.startswith(":mag:") for t in thread_texts(message))

            await eventually(rechecked, within=5.0)
            await asyncio.to_thread(server.stop, 5.0)
            stopped = True

            async def reported() -> bool:
                return any("lost its store" in t for t in thread_texts(message))

            await eventually(reported, within=15.0)
            [report] = [t for t in thread_texts(message) if "lost its store" in t]
            assert "Steps that ran: 1. `conductor_pause` on seq-0 (ok)" in report
            assert "no further step ran" in report
            assert bot.sim.node(NETWORK, "seq-0").paused and not bot.sim.node(NETWORK, "seq-1").paused
    finally:
        await client.aclose()
        if not stopped:
            await asyncio.to_thread(server.stop, 5.0)


async def test_a_plan_that_changed_since_approval_does_not_run(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES, spare=1) as bot:
        message = await open_request(bot, f"add-voter {NETWORK} seq-3")
        assert "on leader seq-0" in block_text(message, ApprovalBlock.PLAN)
        await bot.sim.partition(NETWORK, "seq-0")
        await bot.sim.advance(10)
        assert bot.sim.network(NETWORK).leader_id() not in (None, "seq-0")
        final = await approve_and_finish(bot, message)
        assert final.state == "failed" and final.step_results == ()
        assert final.outcome is not None and "changed since approval" in final.outcome
        assert "seq-3" not in {e.id for e in bot.sim.network(NETWORK).config}


async def test_a_shutdown_mid_execution_records_what_ran_and_frees_the_network(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        message = await open_request(bot, f"pause {NETWORK} all")
        # After the re-check, seq-1 stops answering, so the execution is inside step 2 when told to stop.
        await approve_slowed_until_rechecked(bot, message)
        await bot.sim.hang(NETWORK, "seq-1", "conductor")

        async def first_step_done() -> bool:
            return any("step 1/3" in t for t in thread_texts(message))

        await eventually(first_step_done, within=5.0)
        [task] = [t for t in bot.ctx.tasks if t.get_name().startswith("execute-")]
        task.cancel()  # what the shutdown drain does to work that outlives it
        final = await wait_state(bot, request_id_of(message), "succeeded", "failed")
        assert final.state == "failed"
        assert "interrupted by the bot shutting down; steps that ran: 1 `conductor_pause` on seq-0" in (
            final.outcome or ""
        )

        async def lock_released() -> bool:
            return await locks.holder_token(bot.ctx.store, bot.ctx.store.keys.lock(NETWORK)) is None

        # The final state is written (shielded) before the lock's context releases it on the way out.
        await eventually(lock_released, within=5.0)
        await bot.sim.unhang(NETWORK, "seq-1", "conductor")


async def test_a_failed_start_after_the_stop_restarts_the_stopped_sequencer(running_bot: StartBot) -> None:
    # Forced past the start gate without op-node's override: op-node refuses the start after the
    # active sequencer was stopped. Without the rollback the chain would halt.
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        final = await approve_and_finish(bot, await open_request(bot, f"pause {NETWORK} all"))
        assert final.state == "succeeded", final.outcome
        message = await open_request(bot, f"start-sequencer {NETWORK} seq-1 --force")
        assert "REQUESTED WITH --force" in json.dumps(message.blocks)
        final = await approve_and_finish(bot, message)

        assert final.state == "failed"
        assert "sequencer is not the leader" in (final.outcome or "")
        assert "Rollback: restart sequencing on seq-0 at the head it stopped on: done" in (
            final.outcome or ""
        )
        assert any(t.startswith(":leftwards_arrow_with_hook: rollback") for t in thread_texts(message))
        assert bot.sim.network(NETWORK).active_sequencers() == ["seq-0"]
