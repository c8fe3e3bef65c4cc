"""Runbook walk: "add a voter to a 1-node cluster", in Slack only (slash commands and buttons).

The seed runbook, after bootstrapping one sequencer: start the new sequencer with its conductor
paused, wait until it is synced, call `conductor_addServerAsVoter` on the leader, check
`conductor_clusterMembership`, then `conductor_resume` on the new sequencer. Here a requester and an
approver do exactly that with `/conductor status`, `add-voter` + Approve, `status`, `resume` +
Approve, `status`, and read the trail with `requests` and `audit`.
"""

from __future__ import annotations

from commands.ids import ApprovalBlock
from tests.fixtures.slack import StartBot
from tests.scenarios.approval_support import (
    approve_and_finish,
    block_text,
    open_request,
    thread_texts,
    use_sim_settle,
    wait_message_state,
)
from tests.scenarios.runbook_support import APPR, REQ, ROLES, ask


async def test_add_a_voter_to_a_one_node_cluster(running_bot: StartBot) -> None:
    async with running_bot(nodes=1, spare=1, network_overrides=ROLES) as bot:
        use_sim_settle(bot)
        # The new sequencer started paused but its op-node is still syncing.
        await bot.sim.stall("sim-1", "seq-1", "sync")
        await bot.sim.advance(60)

        before = await ask(bot, "status sim-1")
        assert "`seq-0` leads and sequences" in before
        # Listed as standby: outside the cluster and paused on purpose, so no warning about either.
        assert "*seq-1* · standby (not in the cluster yet) · " in before
        assert "not a raft member" not in before and "↳ conductor paused" not in before

        # Runbook step 2: not before it is synced; preflight says so and nothing is stored.
        refused = await ask(bot, "add-voter sim-1 seq-1")
        assert "`add-voter sim-1 seq-1` was not submitted: preflight blocks it" in refused
        assert "behind" in refused
        assert "No open approval requests on *sim-1*" in await ask(bot, "requests sim-1")

        await bot.sim.stall("sim-1", "seq-1", "sync", on=False)
        await bot.sim.advance(10)

        # Step 3: add it as a voter, on the leader.
        add = await open_request(bot, "add-voter sim-1 seq-1", user=REQ)
        plan = block_text(add, ApprovalBlock.PLAN)
        assert "`conductor_addServerAsVoter`" in plan and "on *seq-0* conductor" in plan
        assert "seq-1 is synced" in block_text(add, ApprovalBlock.PREFLIGHT)
        pending = await ask(bot, "requests sim-1")
        assert "`add-voter sim-1 seq-1`" in pending and "approvals 0/1" in pending

        added = await approve_and_finish(bot, add, APPR)
        assert added.state == "succeeded", added.outcome
        await wait_message_state(bot, add, "Succeeded")
        assert any("step 1/1 `conductor_addServerAsVoter` on *seq-0*" in t for t in thread_texts(add))

        # Step 4: the membership now has it; its conductor is still paused.
        member = await ask(bot, "status sim-1")
        assert "not a raft member" not in member
        assert "*seq-1* · follower · " in member and "↳ conductor paused" in member
        assert "membership as seen by seq-0" in member
        assert {e.id: e.voter for e in bot.sim.network("sim-1").config} == {"seq-0": True, "seq-1": True}

        # Step 5: resume its conductor.
        resume = await open_request(bot, "resume sim-1 seq-1", user=REQ)
        assert "`conductor_resume`" in block_text(resume, ApprovalBlock.PLAN)
        resumed = await approve_and_finish(bot, resume, APPR)
        assert resumed.state == "succeeded", resumed.outcome

        after = await ask(bot, "status sim-1")
        assert "sim-1: healthy" in after and ":warning:" not in after
        assert ":large_green_circle: *seq-1* · follower · " in after
        assert bot.sim.node("sim-1", "seq-1").paused is False

        trail = await ask(bot, "audit sim-1")
        for expected in (
            "*request* · <@U_REQ>",  # the refusal, then both requests
            "requested add-voter sim-1 seq-1",
            "*approve* · <@U_APPR>",
            "step 1 conductor_addServerAsVoter on seq-0: ok",
            "step 1 conductor_resume on seq-1: ok",
            "*result*",
        ):
            assert expected in trail, expected
