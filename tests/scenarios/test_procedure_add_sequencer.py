"""`/conductor procedure add-sequencer`: the runbook's "add more sequencers", approved once, as a checklist.

The cluster starts as the runbook leaves it after bootstrap: seq-0 leads alone; seq-1 is a spare with
its conductor paused and its op-node far behind. The procedure waits for the sync (showing the lag
fall), adds seq-1 as a voter on the leader, confirms it in the membership and resumes its conductor.
"""

from __future__ import annotations

from commands.ids import ApprovalBlock
from commands.procedures.blocks import ProcedureAction, ProcedureBlock
from tests.fixtures.slack import BotHandle, StartBot
from tests.scenarios.approval_support import audit_entries, block_text, use_sim_settle
from tests.scenarios.procedure_support import (
    approved_procedure,
    block_of,
    buttons,
    checklist,
    replies,
    wait_run,
)
from tests.scenarios.runbook_support import ROLES, ask

MUTATING = ("conductor_addServerAsVoter", "conductor_resume")


async def behind(bot: BotHandle, lag_seconds: float = 240.0, rate: float = 5.0) -> None:
    """seq-1 joined later: its op-node is `lag_seconds` of blocks behind and syncs at `rate` blocks/s."""
    await bot.sim.stall("sim-1", "seq-1", "sync")
    await bot.sim.advance(lag_seconds)
    await bot.sim.set_sync_rate("sim-1", "seq-1", rate)
    await bot.sim.stall("sim-1", "seq-1", "sync", on=False)


async def test_add_sequencer_end_to_end(running_bot: StartBot) -> None:
    async with running_bot(nodes=1, spare=1, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        await behind(bot)

        message, run_id = await approved_procedure(bot, "procedure add-sequencer sim-1 seq-1")
        # One approval shows every step, wait (condition and timeout) and what is re-checked.
        plan = block_text(message, ApprovalBlock.PLAN)
        assert "1. wait until seq-1 within 10 blocks of the best head (timeout 30 min)" in plan
        assert "`add-voter sim-1 seq-1` (preflight and invariants re-checked first)" in plan
        assert "wait until seq-1 in the leader's membership as a voter" in plan
        assert "`resume sim-1 seq-1`" in plan

        run = await wait_run(bot, run_id)
        assert run.phase == "succeeded", run.outcome
        sheet = checklist(bot)
        steps = block_of(sheet, ProcedureBlock.STEPS)
        # The wait's live number as it moved: from about 120 blocks behind to within the threshold.
        assert "lag 1" in steps and "→" in steps, steps
        assert steps.count(":white_check_mark:") == 5
        assert "Done" in block_of(sheet, ProcedureBlock.HEADER) and not buttons(sheet)
        assert "All 5 steps done" in block_of(sheet, ProcedureBlock.OUTCOME)
        thread = "\n".join(replies(sheet))
        assert "`conductor_addServerAsVoter` on *seq-0*" in thread
        assert "`conductor_resume` on *seq-1*" in thread

        assert {e.id: e.voter for e in bot.sim.network("sim-1").config} == {"seq-0": True, "seq-1": True}
        assert bot.sim.node("sim-1", "seq-1").paused is False
        for method in MUTATING:
            assert sum(bot.sim.calls("sim-1", method).values()) == 1, method
        status = await ask(bot, "status sim-1")
        assert "sim-1: healthy" in status

        trail = [e.message for e in await audit_entries(bot, run_id)]
        assert "requested procedure add-sequencer sim-1 seq-1" in trail
        assert any("step 2: conductor_addServerAsVoter on seq-0: ok" in m for m in trail)
        assert any(m.startswith("procedure add-sequencer step 1: seq-1 within 10 blocks") for m in trail)
        assert any(m.startswith("procedure add-sequencer step 5:") and "all steps done" in m for m in trail)
        assert ProcedureAction.CONTINUE.value not in buttons(sheet)
