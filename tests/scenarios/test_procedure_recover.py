"""`/conductor procedure recover`: the runbook's disaster recovery, approved once, as a checklist.

2 of 3 conductors dead: pause the one that answers, override its conductor and its op-node, start it
at the best head, see blocks flow. 3 of 3 dead: nothing to pause (said so), op-node override only.
Both end by handing over to the runbook's bootstrap, naming what to restart and which overrides to clear.
"""

from __future__ import annotations

from commands.ids import ApprovalBlock
from commands.procedures.blocks import ProcedureBlock
from tests.fixtures.slack import BotHandle, StartBot
from tests.scenarios.approval_support import audit_entries, block_text, use_sim_settle
from tests.scenarios.procedure_support import approved_procedure, block_of, checklist, replies, wait_run
from tests.scenarios.runbook_support import ROLES

MUTATING = (
    "conductor_pause",
    "conductor_overrideLeader",
    "admin_overrideLeader",
    "admin_stopSequencer",
    "admin_startSequencer",
)


async def dead(bot: BotHandle, *nodes: str) -> int:
    """Kill these conductors and let the chain stall; returns the head it stalled at."""
    await bot.sim.advance(6)
    for node in nodes:
        await bot.sim.kill("sim-1", node)
    await bot.sim.advance(20)
    return bot.sim.network("sim-1").tip.number


def sent(bot: BotHandle) -> dict[str, int]:
    return {m: sum(bot.sim.calls("sim-1", m).values()) for m in MUTATING}


async def test_recover_with_two_of_three_conductors_dead(running_bot: StartBot) -> None:
    async with running_bot(nodes=3, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        stalled = await dead(bot, "seq-0", "seq-1")

        message, run_id = await approved_procedure(bot, "procedure recover sim-1")
        preflight = block_text(message, ApprovalBlock.PREFLIGHT)
        assert "proposed seq-2: highest head" in preflight and "its conductor answers" in preflight
        plan = block_text(message, ApprovalBlock.PLAN)
        for expected in (
            "`pause sim-1 all`",
            "`override-leader sim-1 seq-2`",
            "`override-leader sim-1 seq-2 --node`",
        ):
            assert expected in plan, expected
        assert "wait until seq-2 produces blocks (3 new ones) (timeout 2 min)" in plan

        run = await wait_run(bot, run_id)
        assert run.phase == "succeeded", run.outcome
        assert bot.sim.network("sim-1").tip.number >= stalled + 3
        assert bot.sim.network("sim-1").active_sequencers() == ["seq-2"]
        sheet = checklist(bot)
        outcome = block_of(sheet, ProcedureBlock.OUTCOME)
        assert "sequencing: seq-2" in outcome
        assert "restart the dead conductors" in outcome and "--clear" in outcome
        assert sent(bot) == {
            "conductor_pause": 1,
            "conductor_overrideLeader": 1,
            "admin_overrideLeader": 1,
            "admin_stopSequencer": 1,
            "admin_startSequencer": 1,
        }
        assert any("`admin_startSequencer` on *seq-2*" in r for r in replies(sheet))
        trail = [e.message for e in await audit_entries(bot, run_id)]
        assert any("admin_overrideLeader on seq-2: ok" in m for m in trail)


async def test_recover_with_every_conductor_dead_uses_the_op_node_override(running_bot: StartBot) -> None:
    async with running_bot(nodes=3, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        stalled = await dead(bot, "seq-0", "seq-1", "seq-2")

        message, run_id = await approved_procedure(bot, "procedure recover sim-1 seq-1")
        plan = block_text(message, ApprovalBlock.PLAN)
        assert "`override-leader sim-1 seq-1 --node`" in plan
        assert "`override-leader sim-1 seq-1` (" not in plan  # its conductor is dead: no conductor override

        run = await wait_run(bot, run_id)
        assert run.phase == "succeeded", run.outcome
        assert bot.sim.network("sim-1").active_sequencers() == ["seq-1"]
        assert bot.sim.network("sim-1").tip.number >= stalled + 3
        steps = block_of(checklist(bot), ProcedureBlock.STEPS)
        assert ":fast_forward: 1. pause every conductor that answers" in steps
        assert sent(bot)["conductor_pause"] == 0 and sent(bot)["admin_overrideLeader"] == 1
