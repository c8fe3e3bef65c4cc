"""How a procedure ends when it does not simply succeed, and the human checkpoint of `redeploy`.

Abort, a wait that times out and an act whose preflight fails on the fresh snapshot each leave one
clear final message: why it stopped, the cluster's state, and the manual next step.
"""

from __future__ import annotations

from commands.ids import ApprovalBlock
from commands.procedures.blocks import ProcedureAction, ProcedureBlock
from tests.fixtures.redis import eventually
from tests.fixtures.slack import StartBot
from tests.scenarios.approval_support import STRANGER, audit_entries, block_text, ephemeral, use_sim_settle
from tests.scenarios.procedure_support import (
    approved_procedure,
    block_of,
    buttons,
    checklist,
    load_run,
    press,
    replies,
    wait_run,
)
from tests.scenarios.runbook_support import APPR, REQ, ROLES

ADD = "procedure add-sequencer sim-1 seq-1"


async def test_abort_stops_before_the_next_step_and_says_where_the_cluster_is(running_bot: StartBot) -> None:
    async with running_bot(nodes=1, spare=1, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        await bot.sim.stall("sim-1", "seq-1", "sync")
        await bot.sim.advance(60)
        _, run_id = await approved_procedure(bot, ADD)
        await wait_run(bot, run_id, "running")

        async def posted() -> bool:
            run = await load_run(bot, run_id)
            return run is not None and run.message is not None and bool(run.live)

        await eventually(posted, within=10)
        sheet = checklist(bot)
        assert {ProcedureAction.PAUSE.value, ProcedureAction.ABORT.value} <= buttons(sheet)
        refused = await press(bot, sheet, ProcedureAction.ABORT, STRANGER, run_id)
        assert "only <@U_REQ> or an approver of sim-1 may do that" in await ephemeral(bot, refused)

        await press(bot, sheet, ProcedureAction.ABORT, APPR, run_id)
        run = await wait_run(bot, run_id)
        assert run.phase == "aborted"
        outcome = block_of(sheet, ProcedureBlock.OUTCOME)
        assert "Aborted by <@U_APPR> before step 1" in outcome
        assert "*Cluster now:* leader seq-0; sequencing: seq-0" in outcome
        assert "*Next manual step:* step 1 by hand: check seq-1's op-node sync" in outcome
        assert "Aborted" in block_of(sheet, ProcedureBlock.HEADER) and not buttons(sheet)
        assert sum(bot.sim.calls("sim-1", "conductor_addServerAsVoter").values()) == 0
        trail = [e.message for e in await audit_entries(bot, run_id)]
        assert any("asked to abort" in m for m in trail)


async def test_a_wait_that_times_out_fails_with_the_state_and_next_step(running_bot: StartBot) -> None:
    async with running_bot(nodes=1, spare=1, network_overrides=ROLES) as bot:
        use_sim_settle(bot, 120.0)  # half an hour of virtual time passes in 15 polls
        await bot.sim.stall("sim-1", "seq-1", "sync")
        await bot.sim.advance(60)
        _, run_id = await approved_procedure(bot, ADD)
        run = await wait_run(bot, run_id, within=60)
        assert run.phase == "failed"
        outcome = block_of(checklist(bot), ProcedureBlock.OUTCOME)
        assert "Stopped at step 1: timed out after 1800 s waiting until seq-1 within 10 blocks" in outcome
        assert "*Cluster now:*" in outcome and "raft members: seq-0" in outcome
        assert "*Next manual step:* step 1 by hand" in outcome
        assert any(r.startswith(":red_circle: <@U_REQ>") for r in replies(checklist(bot)))


async def test_a_failed_preflight_mid_procedure_stops_it_with_nothing_sent(running_bot: StartBot) -> None:
    async with running_bot(nodes=1, spare=1, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        await bot.sim.stall("sim-1", "seq-1", "sync")
        await bot.sim.advance(60)
        _, run_id = await approved_procedure(bot, ADD)
        await wait_run(bot, run_id, "running")
        # While it waits for the sync, the leader's conductor dies: nobody can add a member now.
        await bot.sim.kill("sim-1", "seq-0")
        await bot.sim.stall("sim-1", "seq-1", "sync", on=False)
        run = await wait_run(bot, run_id)
        assert run.phase == "failed"
        outcome = block_of(checklist(bot), ProcedureBlock.OUTCOME)
        assert "Stopped at step 2: preflight on a fresh snapshot blocks `add-voter sim-1 seq-1`" in outcome
        assert "conductors not answering: seq-0" in outcome
        assert "*Next manual step:* step 2 by hand: `/conductor add-voter sim-1 seq-1`" in outcome
        assert sum(bot.sim.calls("sim-1", "conductor_addServerAsVoter").values()) == 0


async def test_redeploy_hands_leadership_away_and_waits_for_the_human(running_bot: StartBot) -> None:
    async with running_bot(nodes=3, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        await bot.sim.advance(6)
        message, run_id = await approved_procedure(bot, "procedure redeploy sim-1 seq-0")
        run = await wait_run(bot, run_id, "checkpoint")
        assert bot.sim.network("sim-1").leader_id() != "seq-0"
        assert bot.sim.node("sim-1", "seq-0").paused is True
        sheet = checklist(bot)

        async def offered() -> bool:
            return ProcedureAction.CONTINUE.value in buttons(sheet)

        await eventually(offered, within=10)
        assert any(
            "redeploy seq-0 with OP_CONDUCTOR_PAUSED=true, then press *Continue*" in r for r in replies(sheet)
        )

        # The human redeploys it: both processes restart, the conductor paused, the node a bit behind.
        for endpoint in ("node", "conductor"):
            await bot.sim.kill("sim-1", "seq-0", endpoint)
        await bot.sim.advance(30)
        await bot.sim.revive("sim-1", "seq-0", "node")
        await bot.sim.revive("sim-1", "seq-0", "conductor", paused=True)
        await press(bot, sheet, ProcedureAction.CONTINUE, REQ, run.id)

        run = await wait_run(bot, run_id)
        assert run.phase == "succeeded", run.outcome
        assert bot.sim.node("sim-1", "seq-0").paused is False
        assert "continued by <@U_REQ>" in block_of(sheet, ProcedureBlock.STEPS)
        assert message.ts != sheet.ts


async def test_halt_pauses_everything_and_stops_the_chain_saying_so(running_bot: StartBot) -> None:
    async with running_bot(nodes=3, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        await bot.sim.advance(6)
        message, run_id = await approved_procedure(bot, "procedure halt sim-1")
        assert "this HALTS THE CHAIN" in block_text(message, ApprovalBlock.PREFLIGHT)
        run = await wait_run(bot, run_id)
        assert run.phase == "succeeded", run.outcome
        assert bot.sim.network("sim-1").active_sequencers() == []
        assert all(bot.sim.node("sim-1", f"seq-{i}").paused for i in range(3))
        outcome = block_of(checklist(bot), ProcedureBlock.OUTCOME)
        assert "sequencing: none" in outcome and "The chain is halted" in outcome
