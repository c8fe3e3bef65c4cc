"""Cluster behaviour: elections, quorum, transfers, membership, the control loop, health, bootstrap."""

from __future__ import annotations

import httpx
import pytest

from sim.harness import Simulator, simulate
from tests.sim.rpc import call, error

NET = "sim-1"


def urls(sim: Simulator, node: str) -> tuple[str, str]:
    eps = sim.endpoint(NET, node)
    return eps.conductor.url, eps.node.url


async def test_steady_state_leader_sequences_and_followers_follow(sim: Simulator) -> None:
    net = sim.network(NET)
    start = net.tip.number
    await sim.advance(10)
    assert net.leader_id() == "seq-0"
    assert net.active_sequencers() == ["seq-0"]
    assert net.tip.number == start + 5  # one block per 2 s
    assert {n.head.hash for n in net.nodes.values()} == {net.tip.hash}
    assert net.fsm_head == net.tip


async def test_leader_killed_new_leader_elected_and_blocks_resume(sim: Simulator) -> None:
    net = sim.network(NET)
    await sim.kill(NET, "seq-0")
    before = net.tip.number
    await sim.advance(6)
    new_leader = net.leader_id()
    assert new_leader in {"seq-1", "seq-2"}
    assert net.node(new_leader).seq_active
    assert net.tip.number > before
    assert net.tip.producer == new_leader
    # The old op-node still runs and thinks it sequences, but cannot commit without its conductor.
    assert net.node("seq-0").seq_active
    assert net.node("seq-0").last_commit_error is not None


async def test_quorum_loss_means_no_leader_and_no_blocks_until_a_voter_returns(sim: Simulator) -> None:
    net = sim.network(NET)
    await sim.kill(NET, "seq-0")
    await sim.kill(NET, "seq-1")
    await sim.advance(4)
    assert net.leader_id() is None
    stuck = net.tip.number
    await sim.advance(10)
    assert net.leader_id() is None
    assert net.tip.number == stuck
    await sim.revive(NET, "seq-1")
    await sim.advance(6)
    assert net.leader_id() in {"seq-1", "seq-2"}
    assert net.tip.number > stuck


async def test_partitioned_leader_steps_down_and_majority_elects(sim: Simulator) -> None:
    net = sim.network(NET)
    await sim.partition(NET, "seq-0")
    await sim.advance(5)
    assert net.leader_id() in {"seq-1", "seq-2"}
    # The cut-off node's conductor sees no leader and stops its own sequencer (case 4).
    assert not net.node("seq-0").seq_active
    await sim.heal(NET, "seq-0")
    await sim.advance(2)
    assert net.leader_id() in {"seq-1", "seq-2"}
    assert net.node("seq-0").head == net.tip


async def test_transfer_leader_moves_sequencing(sim: Simulator) -> None:
    net = sim.network(NET)
    c0, _ = urls(sim, "seq-0")
    c1, _ = urls(sim, "seq-1")
    assert await call(c1, "conductor_transferLeader") is None  # swallowed on a follower
    assert net.leader_id() == "seq-0"
    assert await call(c0, "conductor_transferLeader") is None
    new = net.leader_id()
    assert new in {"seq-1", "seq-2"}
    await sim.advance(3)
    assert net.active_sequencers() == [new]
    target = "seq-2" if new == "seq-1" else "seq-1"
    new_url, _ = urls(sim, new)
    assert await call(new_url, "conductor_transferLeaderToServer", target, net.node(target).raft_addr) is None
    await sim.advance(3)
    assert net.leader_id() == target
    assert net.active_sequencers() == [target]


async def test_removing_the_leader_makes_it_step_down_and_shuts_its_raft(sim: Simulator) -> None:
    net = sim.network(NET)
    c0, _ = urls(sim, "seq-0")
    assert await call(c0, "conductor_removeServer", "seq-0", 0) is None
    assert await error(c0, "conductor_clusterMembership") == (-32000, "raft is already shutdown")
    await sim.advance(5)
    assert net.leader_id() in {"seq-1", "seq-2"}
    c1, _ = urls(sim, "seq-1")
    servers = (await call(c1, "conductor_clusterMembership"))["servers"]
    assert [s["id"] for s in servers] == ["seq-1", "seq-2"]
    assert net.active_sequencers() == [net.leader_id()]


async def test_spare_added_as_voter_joins_and_counts_for_quorum() -> None:
    async with simulate(nodes=3, spare=1) as sim:
        net = sim.network(NET)
        c0, _ = urls(sim, "seq-0")
        c3, _ = urls(sim, "seq-3")
        assert await call(c3, "conductor_clusterMembership") == {"servers": None, "version": 0}
        assert await call(c3, "conductor_paused") is True
        await call(c0, "conductor_addServerAsVoter", "seq-3", net.node("seq-3").raft_addr, 0)
        servers = (await call(c3, "conductor_clusterMembership"))["servers"]
        assert [(s["id"], s["suffrage"]) for s in servers][-1] == ("seq-3", 0)
        assert await call(c3, "conductor_resume") is None
        # Four voters need three: one down is fine, two down (which three voters survived) is not.
        await sim.kill(NET, "seq-1")
        await sim.advance(3)
        assert net.leader_id() == "seq-0"
        await sim.kill(NET, "seq-2")
        await sim.advance(3)
        assert net.leader_id() is None


async def test_paused_conductors_lead_but_never_start_the_sequencer(sim: Simulator) -> None:
    net = sim.network(NET)
    for node in ("seq-0", "seq-1", "seq-2"):
        await call(urls(sim, node)[0], "conductor_pause")
    await sim.kill(NET, "seq-0", "node")  # the sequencer's op-node dies
    await sim.kill(NET, "seq-0")
    await sim.advance(6)
    leader = net.leader_id()
    assert leader in {"seq-1", "seq-2"}
    assert net.active_sequencers() == []  # paused: nobody starts sequencing
    stuck = net.tip.number
    await call(urls(sim, leader)[0], "conductor_resume")
    await sim.advance(4)
    assert net.active_sequencers() == [leader]
    assert net.tip.number > stuck


async def test_conductor_stop_makes_it_unreachable_and_leaves_raft(sim: Simulator) -> None:
    c0, _ = urls(sim, "seq-0")
    assert await call(c0, "conductor_stop") is None
    with pytest.raises(httpx.ConnectError):
        await call(c0, "conductor_stopped")
    await sim.advance(6)
    assert sim.network(NET).leader_id() in {"seq-1", "seq-2"}


async def test_stalled_leader_turns_unhealthy_and_hands_over(sim: Simulator) -> None:
    net = sim.network(NET)
    c0, _ = urls(sim, "seq-0")
    await sim.stall(NET, "seq-0", "production")
    await sim.advance(7)
    assert net.leader_id() in {"seq-1", "seq-2"}
    assert net.active_sequencers() == [net.leader_id()]
    assert await call(c0, "conductor_sequencerHealthy") is False


async def test_low_peer_count_makes_a_follower_unhealthy(sim: Simulator) -> None:
    c1, _ = urls(sim, "seq-1")
    await sim.advance(2)
    assert await call(c1, "conductor_sequencerHealthy") is True
    await sim.set_peers(NET, "seq-1", 0)
    await sim.advance(1.5)
    assert await call(c1, "conductor_sequencerHealthy") is False
    await sim.set_peers(NET, "seq-1", 3)
    await sim.advance(1.5)
    assert await call(c1, "conductor_sequencerHealthy") is True


async def test_stalled_sync_follower_lags_and_turns_unhealthy(sim: Simulator) -> None:
    net = sim.network(NET)
    await sim.stall(NET, "seq-2", "sync")
    await sim.advance(8)
    assert net.tip.number - net.node("seq-2").head.number == 4
    c2, _ = urls(sim, "seq-2")
    assert await call(c2, "conductor_sequencerHealthy") is False


async def test_split_brain_second_active_sequencer_cannot_commit(sim: Simulator) -> None:
    net = sim.network(NET)
    await sim.split_brain(NET, "seq-1")
    await sim.advance(5)
    assert net.active_sequencers() == ["seq-0", "seq-1"]
    assert all(b.producer == "seq-0" for b in [net.tip])
    assert "node is not the leader" in (net.node("seq-1").last_commit_error or "")


async def test_fresh_cluster_has_no_unsafe_head_until_a_manual_start() -> None:
    async with simulate(nodes=3, fresh=True) as sim:
        net = sim.network(NET)
        c0, n0 = urls(sim, "seq-0")
        assert await call(c0, "conductor_paused") is True
        assert await call(c0, "conductor_leader") is True
        assert [s["id"] for s in (await call(c0, "conductor_clusterMembership"))["servers"]] == ["seq-0"]
        assert await call(urls(sim, "seq-1")[0], "conductor_clusterMembership") == {
            "servers": None,
            "version": 0,
        }
        await call(c0, "conductor_resume")
        await sim.advance(1)
        assert net.node("seq-0").last_error == "no unsafe head"
        assert net.active_sequencers() == []
        head = (await call(n0, "optimism_syncStatus"))["unsafe_l2"]
        assert await call(n0, "admin_startSequencer", head["hash"]) is None
        await sim.advance(4)
        assert net.active_sequencers() == ["seq-0"]
        assert net.fsm_head is not None and net.fsm_head.number == head["number"] + 2
        assert net.node("seq-0").last_error is None


async def test_nonvoters_never_lead_nor_count_for_quorum() -> None:
    async with simulate(nodes=3, nonvoters=1) as sim:
        net = sim.network(NET)
        servers = (await call(urls(sim, "seq-2")[0], "conductor_clusterMembership"))["servers"]
        assert [s["suffrage"] for s in servers] == [0, 0, 1]
        await sim.kill(NET, "seq-0")
        await sim.advance(5)
        # Two voters need both: seq-1 alone has no quorum although seq-2 (nonvoter) is up.
        assert net.leader_id() is None
        await sim.revive(NET, "seq-0")
        await sim.advance(3)
        assert net.leader_id() in {"seq-0", "seq-1"}


async def test_revived_conductor_rejoins_with_flags_reset(sim: Simulator) -> None:
    net = sim.network(NET)
    c1, _ = urls(sim, "seq-1")
    await call(c1, "conductor_overrideLeader", True)
    await call(c1, "conductor_pause")
    await sim.kill(NET, "seq-1")
    await sim.revive(NET, "seq-1")
    assert await call(c1, "conductor_leaderOverridden") is False
    assert await call(c1, "conductor_paused") is False
    await sim.revive(NET, "seq-2", paused=True)  # restart "paused" as the runbook's redeploy does
    assert await call(urls(sim, "seq-2")[0], "conductor_paused") is True
    await sim.advance(2)
    assert net.leader_id() == "seq-0"
    assert net.node("seq-1").head == net.tip


async def test_stopped_conductor_closes_its_raft_port_too(sim: Simulator) -> None:
    c0, _ = urls(sim, "seq-0")
    c1, _ = urls(sim, "seq-1")
    raft2 = sim.network(NET).node("seq-2").raft_addr
    assert await call(urls(sim, "seq-2")[0], "conductor_stop") is None
    await sim.advance(1)
    assert await error(c0, "conductor_addServerAsVoter", "seq-2", raft2, 0) == (
        -32000,
        f"dial tcp {raft2}: connect: connection refused",
    )
    assert await call(c1, "conductor_leader") is False


async def test_leader_op_node_down_hands_leadership_over(sim: Simulator) -> None:
    net = sim.network(NET)
    await sim.kill(NET, "seq-0", "node")
    before = net.tip.number
    await sim.advance(4)
    leader = net.leader_id()
    assert leader in {"seq-1", "seq-2"}
    assert net.node("seq-0").hcerr == "cannot connect to sequencer rpc endpoints"
    await sim.advance(4)
    assert net.active_sequencers() == [leader]
    assert net.tip.number > before
    # Back from the dead the op-node syncs, and its conductor's stale "active" is cleared.
    await sim.revive(NET, "seq-0", "node")
    await sim.advance(3)
    assert net.node("seq-0").head == net.tip
    assert net.node("seq-0").active is False
