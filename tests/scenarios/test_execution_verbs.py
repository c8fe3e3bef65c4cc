"""Each mutating verb end to end on the simulator: request, approve, run, verify; and its refusals."""

from __future__ import annotations

from tests.fixtures.slack import BotHandle, StartBot
from tests.scenarios.approval_support import (
    NETWORK,
    OVERRIDES,
    approve_and_finish,
    open_request,
    refused,
    thread_texts,
    use_sim_settle,
    wait_message_state,
)


async def run(bot: BotHandle, text: str) -> None:
    """Request and approve `text`; it must succeed, with the message showing it."""
    message = await open_request(bot, text)
    final = await approve_and_finish(bot, message)
    assert final.state == "succeeded", (final.outcome, thread_texts(message))
    await wait_message_state(bot, message, "Succeeded")


async def test_pause_then_resume(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        await run(bot, f"pause {NETWORK} seq-2")
        assert bot.sim.node(NETWORK, "seq-2").paused is True
        await run(bot, f"resume {NETWORK} seq-2")
        assert bot.sim.node(NETWORK, "seq-2").paused is False


async def test_resume_of_a_lagging_sequencer_is_refused(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        await bot.sim.stall(NETWORK, "seq-2", "sync")
        await bot.sim.advance(60)
        answer = await refused(bot, f"resume {NETWORK} seq-2")
        assert "seq-2 is 30 blocks" in answer and "`--force`" in answer


async def test_override_leader_on_the_conductor_and_on_op_node_when_no_leader(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        answer = await refused(bot, f"override-leader {NETWORK} seq-0")
        assert "seq-0 is a healthy leader" in answer
        for node in ("seq-1", "seq-2"):
            await bot.sim.kill(NETWORK, node, "conductor")
        await bot.sim.advance(10)
        assert bot.sim.network(NETWORK).leader_id() is None
        await run(bot, f"override-leader {NETWORK} seq-0")
        assert bot.sim.node(NETWORK, "seq-0").override is True
        await run(bot, f"override-leader {NETWORK} seq-0 --node")
        assert bot.sim.node(NETWORK, "seq-0").node_override is True


async def test_add_voter_and_nonvoter_from_spares(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES, spare=2) as bot:
        use_sim_settle(bot)
        await run(bot, f"add-voter {NETWORK} seq-3")
        await run(bot, f"add-nonvoter {NETWORK} seq-4")
        config = {e.id: e.voter for e in bot.sim.network(NETWORK).config}
        assert config["seq-3"] is True and config["seq-4"] is False


async def test_add_voter_is_refused_without_a_leader_or_for_an_unsynced_node(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES, spare=1) as bot:
        await bot.sim.stall(NETWORK, "seq-3", "sync")
        await bot.sim.advance(60)
        assert "seq-3 is 30 blocks" in await refused(bot, f"add-voter {NETWORK} seq-3")
        for node in ("seq-1", "seq-2"):
            await bot.sim.kill(NETWORK, node, "conductor")
        await bot.sim.advance(10)
        assert "no raft leader" in await refused(bot, f"add-voter {NETWORK} seq-3")


async def test_remove_server_and_transfer_leader(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES, nodes=4) as bot:
        use_sim_settle(bot)
        await run(bot, f"remove-server {NETWORK} seq-3")
        assert "seq-3" not in {e.id for e in bot.sim.network(NETWORK).config}
        await run(bot, f"transfer-leader {NETWORK} seq-1")
        assert bot.sim.network(NETWORK).leader_id() == "seq-1"


async def test_transfer_to_a_paused_target_is_refused(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        await run(bot, f"pause {NETWORK} seq-1")
        answer = await refused(bot, f"transfer-leader {NETWORK} seq-1")
        assert "seq-1" in answer and "paused" in answer
        assert bot.sim.network(NETWORK).leader_id() == "seq-0"


async def test_stop_then_start_sequencer_leaves_exactly_one_active(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        await run(bot, f"pause {NETWORK} all")
        await run(bot, f"stop-sequencer {NETWORK} seq-0")
        assert bot.sim.network(NETWORK).active_sequencers() == []
        await run(bot, f"start-sequencer {NETWORK} seq-0")
        assert bot.sim.network(NETWORK).active_sequencers() == ["seq-0"]
