"""The eight dangerous requests of the safety issue, each tried as a user would on the simulator.

Each is blocked, warned or sent back to its approvers as README's danger catalogue says, and the
cluster is left as it was: same leader, same membership, one active sequencer.
"""

from __future__ import annotations

import json

from commands.ids import ApprovalAction, ApprovalBlock
from tests.fixtures.redis import eventually
from tests.fixtures.slack import BotHandle, StartBot
from tests.scenarios.approval_support import (
    APPROVER,
    NETWORK,
    OVERRIDES,
    REQUESTER,
    approve_and_finish,
    block_text,
    buttons,
    click,
    open_request,
    refused,
    request_id_of,
    stored,
    thread_texts,
    use_sim_settle,
    wait_state,
)


async def ran(bot: BotHandle, text: str) -> str:
    """Request and approve `text`; it must succeed. Returns the request id."""
    message = await open_request(bot, text)
    final = await approve_and_finish(bot, message)
    assert final.state == "succeeded", (final.outcome, thread_texts(message))
    return final.id


def members(bot: BotHandle) -> list[str]:
    return [e.id for e in bot.sim.network(NETWORK).config]


async def disaster(bot: BotHandle, *dead: str) -> None:
    """The runbook's disaster: these conductors die and no healthy leader is left."""
    await bot.sim.advance(6)
    for node in dead:
        await bot.sim.kill(NETWORK, node)
    await bot.sim.advance(20)


async def test_1_remove_server_that_loses_quorum_is_blocked(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        await bot.sim.kill(NETWORK, "seq-2")
        await bot.sim.advance(6)
        answer = await refused(bot, f"remove-server {NETWORK} seq-1")
        assert "only 1 of 2 voters would be live, so raft loses its quorum" in answer
        assert "instead remove or revive the dead voter seq-2 first" in answer
        assert "overridable" not in answer
        assert members(bot) == ["seq-0", "seq-1", "seq-2"]
        assert bot.sim.network(NETWORK).leader_id() == "seq-0"


async def test_2_a_voter_dying_between_request_and_approval_blocks_the_run(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        message = await open_request(bot, f"remove-server {NETWORK} seq-1")
        await bot.sim.kill(NETWORK, "seq-2")
        await bot.sim.advance(4)
        final = await approve_and_finish(bot, message)
        assert final.state == "failed"
        assert "preflight on a fresh snapshot now blocks this" in (final.outcome or "")
        assert "raft loses its quorum" in (final.outcome or "")
        assert final.step_results == ()
        assert members(bot) == ["seq-0", "seq-1", "seq-2"]
        assert bot.sim.network(NETWORK).active_sequencers() == ["seq-0"]


async def test_3_start_at_a_hash_below_the_best_head_is_blocked_even_forced(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        await ran(bot, f"pause {NETWORK} all")
        await bot.sim.stall(NETWORK, "seq-1", "sync")
        await bot.sim.advance(26)
        await ran(bot, f"stop-sequencer {NETWORK} seq-0")
        behind = bot.sim.node(NETWORK, "seq-1").head
        best = bot.sim.node(NETWORK, "seq-0").head
        assert best.number - behind.number == 13

        answer = await refused(bot, f"start-sequencer {NETWORK} seq-1 --hash {behind.hash} --force")
        assert f"seq-1 would start at #{behind.number}, 13 blocks below the best known head" in answer
        assert f"instead start seq-0 (`start-sequencer {NETWORK} seq-0`)" in answer
        assert "--hash" not in answer.split("preflight blocks it")[1]
        assert bot.sim.network(NETWORK).active_sequencers() == []
        assert bot.sim.network(NETWORK).tip == best


async def test_4_start_while_an_op_node_hangs_counts_it_unknown_not_inactive(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        await ran(bot, f"pause {NETWORK} all")
        await bot.sim.hang(NETWORK, "seq-0", "node")
        answer = await refused(bot, f"start-sequencer {NETWORK} seq-1 --force")
        assert "the op-node of seq-0 did not answer, so it may still be sequencing" in answer
        assert "nothing is sequencing" not in answer
        await bot.sim.unhang(NETWORK, "seq-0", "node")
        assert bot.sim.network(NETWORK).active_sequencers() == ["seq-0"]


async def test_5_a_second_override_is_blocked(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        # Two partitioned conductors: no quorum, no healthy leader, every conductor still answers.
        await bot.sim.advance(6)
        for node in ("seq-0", "seq-1"):
            await bot.sim.partition(NETWORK, node)
        await bot.sim.advance(20)
        await ran(bot, f"pause {NETWORK} all")
        await ran(bot, f"override-leader {NETWORK} seq-2")
        answer = await refused(bot, f"override-leader {NETWORK} seq-1")
        assert "seq-2 already answers leader by override" in answer
        assert f"`override-leader {NETWORK} seq-2 --clear`" in answer
        assert bot.sim.node(NETWORK, "seq-1").override is False
        assert bot.sim.node(NETWORK, "seq-1").node_override is False


async def test_6_clear_names_the_op_node_override_the_bot_set(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        await disaster(bot, "seq-0", "seq-1", "seq-2")
        request_id = await ran(bot, f"override-leader {NETWORK} seq-1")
        assert bot.sim.node(NETWORK, "seq-1").node_override is True
        await bot.sim.revive(NETWORK, "seq-1", paused=True)
        await bot.sim.advance(2)

        answer = await refused(bot, f"override-leader {NETWORK} seq-1 --clear")
        assert "seq-1's conductor is not overridden" in answer
        assert f"op-node override on seq-1 was set by request `{request_id}` (<@{REQUESTER}>)" in answer
        assert "only an op-node restart clears it" in answer
        sent = await bot.driver.command(f"status {NETWORK}", user=REQUESTER, channel=bot.channel())
        [status] = await bot.fake.wait_for_response(sent.response_name, timeout=10.0)
        assert f"op-node override on seq-1 was set by request `{request_id}`" in json.dumps(status)
        # The same record lets the start gate through: the bot knows op-node will start.
        message = await open_request(bot, f"start-sequencer {NETWORK} seq-1")
        assert "seq-1's op-node override (set by this bot) lets it start" in block_text(
            message, ApprovalBlock.PREFLIGHT
        )


async def test_7_resuming_the_recovered_survivor_without_quorum_is_blocked(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        await disaster(bot, "seq-0", "seq-1")
        for text in ("pause {n} all", "override-leader {n} seq-2", "override-leader {n} seq-2 --node"):
            await ran(bot, text.format(n=NETWORK))
        await ran(bot, f"start-sequencer {NETWORK} seq-2")
        head = bot.sim.network(NETWORK).tip.number

        answer = await refused(bot, f"resume {NETWORK} seq-2 --force")
        assert "seq-2 would be stopped by its own control loop, as no node leads raft" in answer
        assert "overridable" not in answer.split("control loop")[1].split("\n")[0]
        await bot.sim.advance(10)
        assert bot.sim.network(NETWORK).active_sequencers() == ["seq-2"]
        assert bot.sim.network(NETWORK).tip.number > head


async def test_8_new_warnings_at_execution_send_the_request_back_to_approval(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        message = await open_request(bot, f"transfer-leader {NETWORK}")
        assert ":warning:" not in block_text(message, ApprovalBlock.PREFLIGHT)
        await bot.sim.stall(NETWORK, "seq-2", "sync")
        await bot.sim.advance(40)

        await click(bot, message, ApprovalAction.APPROVE, APPROVER)
        request_id = request_id_of(message)

        async def back_to_approval() -> bool:
            replies = thread_texts(message)
            return any(t.startswith(":arrows_counterclockwise: Nothing ran") for t in replies)

        await eventually(back_to_approval, within=10.0)
        again = await wait_state(bot, request_id, "pending")
        assert again.approvals == () and again.step_results == ()
        [reply] = [t for t in thread_texts(message) if t.startswith(":arrows_counterclockwise:")]
        assert "new warning: seq-2 is 20 blocks" in reply and f"<@{APPROVER}> approved" in reply
        assert "seq-2 is 20 blocks" in block_text(message, ApprovalBlock.PREFLIGHT)
        assert ApprovalAction.APPROVE in buttons(message)
        assert bot.sim.network(NETWORK).leader_id() == "seq-0"
        assert bot.sim.network(NETWORK).active_sequencers() == ["seq-0"]

        # Approved again with the warning in view, it runs: raft picks the synced seq-1.
        final = await approve_and_finish(bot, message)
        assert final.state == "succeeded", final.outcome
        assert bot.sim.network(NETWORK).leader_id() == "seq-1"
        assert (await stored(bot, request_id)).state == "succeeded"


async def test_forced_transfer_to_a_paused_conductor_is_blocked(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        await ran(bot, f"pause {NETWORK} seq-1")
        answer = await refused(bot, f"transfer-leader {NETWORK} seq-1 --force")
        assert "seq-0 would stop and seq-1's paused conductor would not start sequencing" in answer
        assert bot.sim.network(NETWORK).leader_id() == "seq-0"


async def test_untargeted_transfer_when_every_candidate_lags_is_blocked(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        for node in ("seq-1", "seq-2"):
            await bot.sim.stall(NETWORK, node, "sync")
        await bot.sim.advance(40)
        answer = await refused(bot, f"transfer-leader {NETWORK}")
        assert "seq-1 is 20 blocks" in answer and "seq-2 is 20 blocks" in answer
        assert "(overridable with `--force`)" in answer


async def test_pause_and_resume_all_leave_standby_nodes_alone(running_bot: StartBot) -> None:
    # Positive control: pause all during an incident (the leader's conductor dies), then resume all.
    async with running_bot(network_overrides=OVERRIDES, spare=1) as bot:
        use_sim_settle(bot)
        await bot.sim.advance(4)
        await bot.sim.kill(NETWORK, "seq-0")
        await bot.sim.advance(10)
        message = await open_request(bot, f"pause {NETWORK} all")
        assert "standby seq-3 left alone" in block_text(message, ApprovalBlock.PREFLIGHT)
        assert "seq-3" not in block_text(message, ApprovalBlock.PLAN)
        final = await approve_and_finish(bot, message)
        assert final.state == "succeeded", final.outcome
        assert "the chain advances" in (final.outcome or "")

        await bot.sim.revive(NETWORK, "seq-0", paused=True)
        await bot.sim.advance(4)
        message = await open_request(bot, f"resume {NETWORK} all")
        assert "seq-3" not in block_text(message, ApprovalBlock.PLAN)
        final = await approve_and_finish(bot, message)
        assert final.state == "succeeded", final.outcome
        assert bot.sim.node(NETWORK, "seq-3").paused is True
        assert [n for n in ("seq-0", "seq-1", "seq-2") if bot.sim.node(NETWORK, n).paused] == []
        assert len(bot.sim.network(NETWORK).active_sequencers()) == 1


async def test_a_chain_that_stops_advancing_is_never_reported_as_succeeded(running_bot: StartBot) -> None:
    # Approved while blocks flowed; by the time it runs no node can build a block. The pause itself
    # works, but the outcome must say the chain is not advancing and what to do, not "Succeeded".
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        for node in ("seq-0", "seq-1", "seq-2"):
            await bot.sim.stall(NETWORK, node, "production")
        final = await approve_and_finish(bot, message)
        assert final.state == "failed"
        assert bot.sim.node(NETWORK, "seq-2").paused is True
        outcome = final.outcome or ""
        assert outcome.startswith(
            "the one step ran, but the chain is not advancing: the best head is still #"
        )
        assert "Next manual step:" in outcome
        assert any(":warning: the chain is not advancing" in t for t in thread_texts(message))
