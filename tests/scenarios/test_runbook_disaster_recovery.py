"""Runbook walk: "disaster recovery", in Slack only (slash commands and buttons).

The seed runbook, when no two healthy conductors can talk to each other: (1) `conductor_pause` on all
conductors, (2) choose a sequencer, (3) `conductor_overrideLeader` on its conductor, (4) if no conductor
is functioning, `admin_overrideLeader` on its op-node, (5) start sequencing on it manually. Each step
here is a `/conductor` request approved by a second person; the chain must move again at the end.
"""

from __future__ import annotations

import re

from commands.ids import ApprovalBlock
from sim.slack_api import FakeMessage
from tests.fixtures.slack import BotHandle, StartBot
from tests.scenarios.approval_support import (
    approve_and_finish,
    block_text,
    open_request,
    thread_texts,
    use_sim_settle,
)
from tests.scenarios.runbook_support import APPR, REQ, ROLES, ask


def best_head(status: str) -> int:
    match = re.search(r"· head #(\d+)", status)
    assert match is not None, status
    return int(match.group(1))


async def approved(bot: BotHandle, text: str) -> FakeMessage:
    """Request `text`, have the approver approve it, and check that it ran and was verified."""
    message = await open_request(bot, text, user=REQ)
    final = await approve_and_finish(bot, message, APPR)
    assert final.state == "succeeded", final.outcome
    assert any("outcome verified" in t for t in thread_texts(message))
    return message


async def test_two_of_three_conductors_dead_recover_on_the_survivor(running_bot: StartBot) -> None:
    async with running_bot(nodes=3, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        await bot.sim.advance(6)
        await bot.sim.kill("sim-1", "seq-0")
        await bot.sim.kill("sim-1", "seq-1")
        await bot.sim.advance(20)

        down = await ask(bot, "status sim-1")
        assert "sim-1: critical" in down and "no conductor reports leadership" in down
        stalled_at = best_head(down)

        # 1. Pause every conductor that answers; the dead ones are named, not silently skipped.
        pause = await approved(bot, "pause sim-1 all")
        assert "`conductor_pause` `[]` on *seq-2*" in block_text(pause, ApprovalBlock.PLAN)
        preflight = block_text(pause, ApprovalBlock.PREFLIGHT)
        assert "seq-0 conductor unreachable" in preflight and "skipped" in preflight
        assert bot.sim.node("sim-1", "seq-2").paused is True

        # 2-3. Choose seq-2 and override its conductor.
        override = await approved(bot, "override-leader sim-1 seq-2")
        assert "`conductor_overrideLeader` `[true]` on *seq-2*" in block_text(override, ApprovalBlock.PLAN)
        assert "*seq-2* · leader · " in await ask(bot, "status sim-1")

        # 4. Its conductor has no quorum to commit blocks to, so op-node needs its own override.
        node_override = await approved(bot, "override-leader sim-1 seq-2 --node")
        assert "`admin_overrideLeader`" in block_text(node_override, ApprovalBlock.PLAN)
        assert "cleared only by restarting op-node" in block_text(node_override, ApprovalBlock.PREFLIGHT)

        # 5. Start sequencing on seq-2 where the old sequencer stopped.
        start = await approved(bot, "start-sequencer sim-1 seq-2")
        plan = block_text(start, ApprovalBlock.PLAN)
        assert plan.index("`admin_stopSequencer`") < plan.index("`admin_startSequencer`")
        assert any("step 2/2 `admin_startSequencer` on *seq-2*" in t for t in thread_texts(start))

        await bot.sim.advance(10)
        after = await ask(bot, "status sim-1")
        assert best_head(after) >= stalled_at + 4, "blocks are produced again"
        assert re.search(r"\*seq-2\*[^\\]* · sequencing · ", after), after
        assert "no conductor reports leadership" not in after


async def test_no_conductor_functioning_uses_the_op_node_override(running_bot: StartBot) -> None:
    async with running_bot(nodes=3, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        await bot.sim.advance(6)
        for node in ("seq-0", "seq-1", "seq-2"):
            await bot.sim.kill("sim-1", node)
        await bot.sim.advance(20)
        stalled_at = best_head(await ask(bot, "status sim-1"))

        # 1. Nothing to pause: the bot says so instead of asking for a pointless approval.
        refused = await ask(bot, "pause sim-1 all")
        assert "`pause sim-1 all` was not submitted" in refused and "no conductor answers" in refused

        # 3-4. seq-1's conductor is dead, so the override goes to its op-node, and the plan says why.
        override = await approved(bot, "override-leader sim-1 seq-1")
        assert "`admin_overrideLeader`" in block_text(override, ApprovalBlock.PLAN)
        preflight = block_text(override, ApprovalBlock.PREFLIGHT)
        assert "using op-node's admin_overrideLeader instead" in preflight
        assert "cleared only by restarting op-node" in preflight

        # 5. Start it where the old sequencer stopped; the chain moves again.
        await approved(bot, "start-sequencer sim-1 seq-1")
        await bot.sim.advance(10)
        after = await ask(bot, "status sim-1")
        assert best_head(after) >= stalled_at + 4, "blocks are produced again"
        assert re.search(r"\*seq-1\*[^\\]* · sequencing · ", after), after
        assert bot.sim.node("sim-1", "seq-0").seq_active is False


async def test_start_after_only_the_conductor_override_is_reported_as_not_producing(
    running_bot: StartBot,
) -> None:
    # Skipping step 4: the start "succeeds" at the RPC level, but the chain does not move, because op-node
    # commits each block to a conductor that has no raft quorum. The bot must say so, not "verified".
    async with running_bot(nodes=3, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        await bot.sim.advance(6)
        await bot.sim.kill("sim-1", "seq-0")
        await bot.sim.kill("sim-1", "seq-1")
        await bot.sim.advance(20)
        await approved(bot, "pause sim-1 all")
        await approved(bot, "override-leader sim-1 seq-2")

        message = await open_request(bot, "start-sequencer sim-1 seq-2", user=REQ)
        assert "without a raft quorum its conductor cannot commit" in block_text(
            message, ApprovalBlock.PREFLIGHT
        )
        final = await approve_and_finish(bot, message, APPR)
        assert final.state == "failed"
        assert "no block since the start" in (final.outcome or "")
