"""`/conductor procedure bootstrap` and `standby` from the runbook's first step (`conductor-bot sim --fresh`):
seq-0 bootstrapped alone with its conductor paused and nothing sequencing; the others started paused,
outside the cluster (`standby: true` in the clusters file the simulator writes)."""

from __future__ import annotations

from commands.ids import ApprovalBlock
from commands.procedures.blocks import ProcedureBlock
from tests.fixtures.slack import StartBot
from tests.scenarios.approval_support import block_text, use_sim_settle
from tests.scenarios.procedure_support import approved_procedure, block_of, checklist, wait_run
from tests.scenarios.runbook_support import ROLES, ask


async def test_bootstrap_from_a_fresh_single_node_to_a_healthy_cluster(running_bot: StartBot) -> None:
    async with running_bot(nodes=3, fresh=True, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        await bot.sim.advance(4)
        message, run_id = await approved_procedure(bot, "procedure bootstrap sim-1")
        preflight = block_text(message, ApprovalBlock.PREFLIGHT)
        assert "seq-0 leads the bootstrapped raft cluster" in preflight
        assert "add-voter seq-1, add-voter seq-2" in preflight
        run = await wait_run(bot, run_id, within=40)
        assert run.phase == "succeeded", run.outcome

        net = bot.sim.network("sim-1")
        assert {e.id: e.voter for e in net.config} == {"seq-0": True, "seq-1": True, "seq-2": True}
        assert net.active_sequencers() == ["seq-0"]
        assert not any(bot.sim.node("sim-1", f"seq-{i}").paused for i in range(3))
        await bot.sim.advance(10)
        assert "sim-1: healthy" in await ask(bot, "status sim-1")
        steps = block_of(checklist(bot), ProcedureBlock.STEPS)
        assert steps.count(":white_check_mark:") == 10, steps
        assert "already healthy and sequencing" in await ask(bot, "procedure bootstrap sim-1")


async def test_standby_forms_the_cluster_and_starts_nothing(running_bot: StartBot) -> None:
    async with running_bot(nodes=3, fresh=True, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        await bot.sim.advance(4)
        _, run_id = await approved_procedure(bot, "procedure standby sim-1")
        run = await wait_run(bot, run_id, within=40)
        assert run.phase == "succeeded", run.outcome
        net = bot.sim.network("sim-1")
        assert [e.id for e in net.config] == ["seq-0", "seq-1", "seq-2"]
        assert net.active_sequencers() == []
        assert all(bot.sim.node("sim-1", f"seq-{i}").paused for i in range(3))
        assert sum(bot.sim.calls("sim-1", "admin_startSequencer").values()) == 0
