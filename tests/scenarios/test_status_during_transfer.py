"""`/conductor status` through a real `transfer-leader` on the simulator: a routine hand-over is never
critical, before it, right after the transfer call (raft has moved, the old leader still sequences),
at each model step while the conductors hand sequencing over, or after."""

from __future__ import annotations

from commands.status import find_network, snapshot_of
from commands.status_blocks import verdict_line
from tests.fixtures.slack import StartBot
from tests.scenarios.approval_support import NETWORK, OVERRIDES, approve_and_finish, open_request

STEP = 0.1


async def test_status_never_says_critical_through_a_transfer_leader(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        spec = find_network(bot.ctx, NETWORK)
        net = bot.sim.network(NETWORK)
        seen = [verdict_line(await snapshot_of(bot.ctx, spec), spec)]
        active: list[list[str]] = []

        async def settle() -> None:
            # The executor waits for the chain to advance after the transfer: look at every model step
            # of the hand-over while it does (virtual time stands still until we move it).
            for _ in range(10):
                seen.append(verdict_line(await snapshot_of(bot.ctx, spec), spec))
                active.append(net.active_sequencers())
                await bot.sim.advance(STEP)

        bot.ctx.settle = settle
        message = await open_request(bot, f"transfer-leader {NETWORK} seq-1")
        final = await approve_and_finish(bot, message)
        assert final.state == "succeeded", final.outcome
        # Raft moved at once; the old leader still sequenced until its conductor stepped down.
        assert net.leader_id() == "seq-1" and active[0] == ["seq-0"]
        assert net.active_sequencers() == ["seq-1"]

        sent = await bot.driver.command(f"status {NETWORK}", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        seen.append(reply["text"])
        assert not [line for line in seen if "critical" in line], seen
        assert "leader seq-1" in seen[-1]
