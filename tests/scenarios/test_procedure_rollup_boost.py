"""`/conductor procedure rollup-boost`: op-conductor-ops' set-rollup-boost-mode, approved and read back."""

from __future__ import annotations

from commands.ids import ApprovalBlock
from commands.procedures.blocks import ProcedureBlock
from tests.fixtures.slack import StartBot
from tests.scenarios.approval_support import block_text, use_sim_settle
from tests.scenarios.procedure_support import approved_procedure, block_of, checklist, wait_run
from tests.scenarios.runbook_support import ROLES, ask


async def test_rollup_boost_mode_is_set_once_and_read_back(running_bot: StartBot) -> None:
    async with running_bot(nodes=3, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        refused = await ask(bot, "procedure rollup-boost sim-1 seq-1 turbo")
        assert (
            "usage: `/conductor procedure rollup-boost NETWORK SEQUENCER disabled|enabled|dry_run`" in refused
        )

        message, run_id = await approved_procedure(bot, "procedure rollup-boost sim-1 seq-1 dry_run")
        assert "`debug_setExecutionMode` on its rollup-boost, then read back" in block_text(
            message, ApprovalBlock.PLAN
        )
        run = await wait_run(bot, run_id)
        assert run.phase == "succeeded", run.outcome
        assert bot.sim.node("sim-1", "seq-1").execution_mode == "dry_run"
        assert bot.sim.node("sim-1", "seq-0").execution_mode == "enabled"
        assert bot.sim.calls("sim-1", "debug_setExecutionMode") == {"seq-1": 1}
        assert "rollup-boost on seq-1: enabled → dry_run" in block_of(checklist(bot), ProcedureBlock.STEPS)
