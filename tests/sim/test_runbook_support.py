"""Simulator support for the procedures: restarts with the runbook's env flags, a node syncing from
behind at a rate, a rollup-boost endpoint per node, slow answers and per-method call counts."""

from __future__ import annotations

import contextlib

import httpx

from sim.harness import simulate
from tests.sim.rpc import call, error

NET = "sim-1"


async def test_restart_with_the_runbooks_flags() -> None:
    async with simulate(nodes=3) as sim:
        net = sim.network(NET)
        conductor = sim.endpoint(NET, "seq-1").conductor.url
        # OP_CONDUCTOR_PAUSED=true: back paused; raft kept its configuration, so bootstrap is refused.
        await sim.restart(NET, "seq-1", paused=True, raft_bootstrap=True)
        assert await call(conductor, "conductor_paused") is True
        assert [e.id for e in net.config] == ["seq-0", "seq-1", "seq-2"]

        # An empty raft store: OP_CONDUCTOR_RAFT_BOOTSTRAP=true makes a one-voter cluster that elects itself.
        for node in ("seq-0", "seq-1", "seq-2"):
            await sim.kill(NET, node)
        net.config.clear()
        await sim.restart(NET, "seq-2", raft_bootstrap=True, paused=True, sequencer_enabled=True)
        await sim.advance(3)
        assert [e.id for e in net.config] == ["seq-2"] and net.leader_id() == "seq-2"
        # OP_NODE_SEQUENCER_ENABLED=true: its op-node sequences, and its blocks commit to the new leader.
        before = net.tip.number
        await sim.advance(6)
        assert "seq-2" in net.active_sequencers()
        assert net.tip.number > before


async def test_a_node_syncs_from_behind_at_its_rate() -> None:
    async with simulate(nodes=1, spare=1) as sim:
        await sim.stall(NET, "seq-1", "sync")
        await sim.advance(60)
        net, spare = sim.network(NET), sim.node(NET, "seq-1")
        assert net.tip.number - spare.head.number == 30
        await sim.set_sync_rate(NET, "seq-1", 2.0)
        await sim.stall(NET, "seq-1", "sync", on=False)
        await sim.advance(10)  # gains 20, the tip moves 5
        assert net.tip.number - spare.head.number == 15
        await sim.advance(20)
        assert net.tip.number - spare.head.number <= 1  # caught up, a fresh block at most behind


async def test_rollup_boost_endpoint_and_call_counts() -> None:
    async with simulate(nodes=2) as sim:
        url = sim.topology().networks[NET].sequencers[1].rollup_boost_rpc_url
        assert url is not None
        assert await call(url, "debug_getExecutionMode") == {"execution_mode": "enabled"}
        assert await call(url, "debug_setExecutionMode", {"execution_mode": "dry_run"}) == {
            "execution_mode": "dry_run"
        }
        assert sim.node(NET, "seq-1").execution_mode == "dry_run"
        code, message = await error(url, "debug_setExecutionMode", {"execution_mode": "turbo"})
        assert code == -32000 and "invalid execution mode" in message
        assert sim.calls(NET, "debug_setExecutionMode") == {"seq-1": 2}


async def test_slow_answers_take_effect_before_the_answer() -> None:
    async with simulate(nodes=2) as sim:
        conductor = sim.endpoint(NET, "seq-1").conductor.url
        await sim.slow_answers(NET, "seq-1", "conductor", 5.0)
        async with httpx.AsyncClient(timeout=0.3) as client:
            body = {"jsonrpc": "2.0", "id": 1, "method": "conductor_pause", "params": []}
            with contextlib.suppress(httpx.TimeoutException):
                await client.post(conductor, json=body)
        assert sim.node(NET, "seq-1").paused is True  # the caller gave up; the call still happened
        await sim.slow_answers(NET, "seq-1", "conductor", 0)
        assert sim.calls(NET, "conductor_pause") == {"seq-1": 1}
