"""`/conductor procedure reconcile`: the membership made to match the clusters file, one change at a time."""

from __future__ import annotations

from cluster.topology import Topology
from commands.ids import ApprovalBlock
from tests.fixtures.slack import BotHandle, StartBot
from tests.scenarios.approval_support import block_text, use_sim_settle
from tests.scenarios.procedure_support import approved_procedure, wait_run
from tests.scenarios.runbook_support import ROLES, ask


def file_says(bot: BotHandle, **voting: bool) -> None:
    """The clusters file the bot reads now lists these sequencers as (non)voters and none as standby."""
    spec = bot.ctx.topology.networks["sim-1"]
    sequencers = tuple(
        s.model_copy(update={"voting": voting.get(s.id.replace("-", "_"), s.voting), "standby": False})
        for s in spec.sequencers
    )
    bot.ctx.topology = Topology(networks={"sim-1": spec.model_copy(update={"sequencers": sequencers})})


async def test_reconcile_adds_the_missing_member_then_promotes_one(running_bot: StartBot) -> None:
    async with running_bot(nodes=3, nonvoters=1, spare=1, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        await bot.sim.advance(6)
        assert "already matches the clusters file" in await ask(bot, "procedure reconcile sim-1")

        file_says(bot, seq_2=True)
        message, run_id = await approved_procedure(bot, "procedure reconcile sim-1")
        assert "changes, one at a time: add-voter seq-3, add-voter seq-2" in block_text(
            message, ApprovalBlock.PREFLIGHT
        )
        run = await wait_run(bot, run_id)
        assert run.phase == "succeeded", run.outcome
        config = {e.id: e.voter for e in bot.sim.network("sim-1").config}
        assert config == {"seq-0": True, "seq-1": True, "seq-2": True, "seq-3": True}
        assert sum(bot.sim.calls("sim-1", "conductor_addServerAsVoter").values()) == 2
        assert sum(bot.sim.calls("sim-1", "conductor_removeServer").values()) == 0
