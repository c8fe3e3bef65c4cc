"""Preflight: the runbook's rules on hand-made snapshots, one verb at a time."""

from __future__ import annotations

from typing import Any

from cluster.snapshot import (
    BlockRef,
    Endpoint,
    Membership,
    NetworkSnapshot,
    NodeStatus,
    ProbeError,
    ServerInfo,
    analyze,
)
from cluster.topology import NetworkSpec, SequencerSpec, Thresholds
from commands.operations import (
    AddNonvoter,
    AddVoter,
    Operation,
    OverrideLeader,
    Pause,
    RemoveServer,
    Resume,
    StartSequencer,
    StopSequencer,
    TransferLeader,
)
from commands.preflight import PreparedOperation, prepare

NOW = 1_760_000_000.0
HEAD = 1000
NET = "op-test"


def seq(n: int, voting: bool = True) -> SequencerSpec:
    return SequencerSpec(
        id=f"seq-{n}",
        raft_addr=f"seq-{n}-raft:50050",
        conductor_rpc_url=f"http://admin:hunter2@seq-{n}:8547",
        node_rpc_url=f"http://seq-{n}:9545",
        voting=voting,
    )


SPEC = NetworkSpec(
    name=NET,
    sequencers=(seq(1), seq(2), seq(3)),
    approvers=("UAPPROVER1", "UAPPROVER2"),
    thresholds=Thresholds(max_lag_blocks=10, max_lag_seconds=30),
)


def down(endpoint: Endpoint) -> dict[str, Any]:
    """NodeStatus changes for an endpoint that refuses connections."""
    err = ProbeError(endpoint=endpoint, kind="unreachable", message="connection refused")
    if endpoint == "node":
        return {"errors": (err,), "sequencer_active": None, "unsafe": None, "peers": None}
    return {
        "errors": (err,),
        "leader": None,
        "leader_with_id": None,
        "leader_overridden": None,
        "paused": None,
        "stopped": None,
        "healthy": None,
        "membership": None,
    }


def lagging(blocks: int) -> dict[str, Any]:
    return {
        "unsafe": BlockRef(number=HEAD - blocks, hash=f"0x{HEAD - blocks:x}", timestamp=int(NOW) - 2 * blocks)
    }


def cluster(
    *, spec: NetworkSpec = SPEC, members: tuple[tuple[str, int], ...] | None = None, **changes: dict[str, Any]
) -> NetworkSnapshot:
    """A healthy cluster led by seq-1 (active), with `changes` per node (`seq_2={...}`)."""
    if members is None:
        members = tuple((s.id, s.suffrage) for s in spec.sequencers)
    membership = Membership(
        servers=tuple(ServerInfo(id=i, addr=f"{i}-raft:50050", suffrage=x) for i, x in members)
    )
    nodes = []
    for s in spec.sequencers:
        base = NodeStatus(
            id=s.id,
            leader=s.id == "seq-1",
            leader_with_id=ServerInfo(id="seq-1", addr="seq-1-raft:50050"),
            leader_overridden=False,
            active=True,
            paused=False,
            stopped=False,
            healthy=True,
            membership=membership,
            sequencer_active=s.id == "seq-1",
            unsafe=BlockRef(number=HEAD, hash=f"0x{HEAD:x}", timestamp=int(NOW) - 1),
            peers=5,
        )
        nodes.append(base.model_copy(update=changes.get(s.id.replace("-", "_"), {})))
    return analyze(spec, nodes, NOW)


def run(op: Operation, snap: NetworkSnapshot | None = None) -> PreparedOperation:
    return prepare(op, snap if snap is not None else cluster(), SPEC)


def codes(p: PreparedOperation, level: str | None = None) -> list[str]:
    return [f.code for f in p.findings if level is None or f.level == level]


def messages(p: PreparedOperation) -> str:
    return "\n".join(f.message for f in p.findings)


# --- pause -------------------------------------------------------------------------------------------


def test_pause_all_warns_nothing_fails_over() -> None:
    p = run(Pause(network=NET))
    assert not p.blocked
    assert p.plan is not None and [s.target for s in p.plan.steps] == ["seq-1", "seq-2", "seq-3"]
    assert codes(p, "warn") == ["no_failover"]


def test_pause_one_leaves_failover_alone() -> None:
    p = run(Pause(network=NET, sequencer="seq-2"))
    assert not p.blocked and codes(p) == []


def test_pause_all_skips_an_unreachable_conductor_but_pause_one_blocks() -> None:
    snap = cluster(seq_3=down("conductor"))
    p = run(Pause(network=NET), snap)
    assert p.plan is not None and [s.target for s in p.plan.steps] == ["seq-1", "seq-2"]
    assert "seq-3 conductor unreachable: connection refused; skipped" in messages(p)
    single = run(Pause(network=NET, sequencer="seq-3"), snap)
    assert single.blocked and codes(single, "block") == ["conductor_unreachable"]


# --- resume ------------------------------------------------------------------------------------------


def test_resume_refuses_a_lagging_sequencer_unless_forced() -> None:
    snap = cluster(seq_2={**lagging(25), "paused": True})
    p = run(Resume(network=NET, sequencer="seq-2"), snap)
    assert p.blocked
    (finding,) = p.blocking
    assert finding.message == "seq-2 is 25 blocks / 49s behind the best head #1000 (max 10 blocks / 30s)"
    forced = run(Resume(network=NET, sequencer="seq-2", force=True), snap)
    assert not forced.blocked and [f.code for f in forced.forced] == ["lagging"]


def test_resume_refuses_when_op_node_is_unreachable_even_with_force() -> None:
    snap = cluster(seq_2={**down("node"), "paused": True})
    p = run(Resume(network=NET, sequencer="seq-2", force=True), snap)
    assert p.blocked
    assert "seq-2 op-node unreachable: connection refused" in [f.message for f in p.blocking]


def test_resume_synced_paused_sequencer_passes() -> None:
    p = run(Resume(network=NET, sequencer="seq-2"), cluster(seq_2={**lagging(3), "paused": True}))
    assert not p.blocked and codes(p) == ["synced"]
    assert p.plan is not None and p.plan.steps[0].method == "conductor_resume"


# --- override-leader ---------------------------------------------------------------------------------


def test_override_refused_while_a_healthy_leader_exists() -> None:
    p = run(OverrideLeader(network=NET, sequencer="seq-2"))
    assert p.blocked
    assert [f.message for f in p.blocking] == [
        "seq-1 is a healthy leader: override only when no healthy leader exists"
    ]


def _leaderless() -> NetworkSnapshot:
    no_one = {"leader": False, "leader_with_id": ServerInfo(id="", addr="")}
    return cluster(seq_1={**no_one, **down("conductor")}, seq_2=no_one, seq_3=no_one)


def test_conductor_override_warns_it_does_not_sequence() -> None:
    p = run(OverrideLeader(network=NET, sequencer="seq-2"), _leaderless())
    assert not p.blocked
    assert p.plan is not None and p.plan.steps[0].params == [True]
    assert "override_no_sequencing" in codes(p, "warn")
    assert "conductors not paused: seq-2, seq-3" in messages(p)


def test_override_falls_back_to_op_node_when_conductor_is_down() -> None:
    snap = cluster(
        seq_1={**down("conductor"), "leader": False}, seq_2={**down("conductor")}, seq_3={"leader": False}
    )
    p = run(OverrideLeader(network=NET, sequencer="seq-2"), snap)
    assert not p.blocked
    assert p.plan is not None and (p.plan.steps[0].endpoint, p.plan.steps[0].method) == (
        "node",
        "admin_overrideLeader",
    )
    assert "op-node's override on seq-2 is cleared only by restarting op-node" in messages(p)
    assert "node_fallback" in codes(p)


def test_node_flag_forces_op_node_override() -> None:
    p = run(OverrideLeader(network=NET, sequencer="seq-2", node=True), _leaderless())
    assert p.plan is not None and p.plan.steps[0].method == "admin_overrideLeader"
    assert "node_fallback" not in codes(p)


def test_clear_needs_a_conductor() -> None:
    p = run(OverrideLeader(network=NET, sequencer="seq-2", clear=True), cluster(seq_2=down("conductor")))
    assert p.blocked and p.plan is None and "clear_needs_conductor" in codes(p, "block")
    ok = run(
        OverrideLeader(network=NET, sequencer="seq-2", clear=True), cluster(seq_2={"leader_overridden": True})
    )
    assert not ok.blocked and ok.plan is not None and ok.plan.steps[0].params == [False]


# --- add-voter / add-nonvoter ------------------------------------------------------------------------


def _two_members() -> tuple[tuple[str, int], ...]:
    return (("seq-1", 0), ("seq-2", 0))


def test_add_voter_runs_on_the_leader_for_a_synced_node() -> None:
    p = run(AddVoter(network=NET, sequencer="seq-3"), cluster(members=_two_members()))
    assert not p.blocked, messages(p)
    assert p.plan is not None and p.plan.steps[0].target == "seq-1"
    assert p.plan.steps[0].params == ["seq-3", "seq-3-raft:50050", 0]


def test_add_voter_refuses_a_lagging_or_unreachable_node_and_no_leader() -> None:
    lag = run(AddVoter(network=NET, sequencer="seq-3"), cluster(members=_two_members(), seq_3=lagging(40)))
    assert codes(lag, "block") == ["lagging"]
    gone = run(AddVoter(network=NET, sequencer="seq-3"), cluster(members=_two_members(), seq_3=down("node")))
    assert "node_unreachable" in codes(gone, "block")
    no_one = {"leader": False, "leader_with_id": ServerInfo(id="", addr="")}
    nl = run(AddVoter(network=NET, sequencer="seq-3"), cluster(seq_1=no_one, seq_2=no_one, seq_3=no_one))
    assert nl.blocked and nl.plan is None and "no_leader" in codes(nl, "block")


def test_add_voter_on_a_nonvoter_says_it_promotes() -> None:
    p = run(
        AddVoter(network=NET, sequencer="seq-3"), cluster(members=(("seq-1", 0), ("seq-2", 0), ("seq-3", 1)))
    )
    assert not p.blocked
    assert "seq-3 is a nonvoter: AddVoter promotes it to a voter" in messages(p)


def test_add_nonvoter_does_not_demote_a_voter_and_only_warns_on_lag() -> None:
    voter = run(AddNonvoter(network=NET, sequencer="seq-3"))
    assert voter.blocked and codes(voter, "block") == ["no_demote"]
    lag = run(AddNonvoter(network=NET, sequencer="seq-3"), cluster(members=_two_members(), seq_3=lagging(40)))
    assert not lag.blocked and "lagging" in codes(lag, "warn")
    assert "the topology lists seq-3 as a voter" in messages(lag)


# --- remove-server -----------------------------------------------------------------------------------


def test_remove_follower_warns_raft_shuts_down() -> None:
    p = run(RemoveServer(network=NET, sequencer="seq-3"))
    assert not p.blocked
    assert codes(p) == ["leader", "raft_shutdown"]
    assert p.plan is not None and p.plan.steps[0].target == "seq-1"


def test_remove_leader_warns_it_steps_down() -> None:
    p = run(RemoveServer(network=NET, sequencer="seq-1"))
    assert not p.blocked and "removing_leader" in codes(p, "warn")


def test_remove_last_voter_is_blocked() -> None:
    p = run(RemoveServer(network=NET, sequencer="seq-1"), cluster(members=(("seq-1", 0), ("seq-2", 1))))
    assert p.blocked and codes(p, "block") == ["last_voter"]


# --- transfer-leader ---------------------------------------------------------------------------------


def test_transfer_to_a_healthy_voter() -> None:
    p = run(TransferLeader(network=NET, sequencer="seq-2"))
    assert not p.blocked
    assert p.plan is not None and p.plan.steps[0].params == ["seq-2", "seq-2-raft:50050"]


def test_transfer_to_a_paused_target_is_blocked_even_forced_as_the_chain_would_halt() -> None:
    # The old leader's loop stops its sequencer; the paused new leader's loop does not start one.
    snap = cluster(seq_2={"paused": True})
    assert run(TransferLeader(network=NET, sequencer="seq-2"), snap).blocked
    forced = run(TransferLeader(network=NET, sequencer="seq-2", force=True), snap)
    assert [f.code for f in forced.forced] == ["target_paused"]
    assert [f.code for f in forced.blocking] == ["chain_halts"]
    assert "seq-1 would stop and seq-2's paused conductor would not start sequencing" in messages(forced)


def test_transfer_refuses_unhealthy_nonvoter_self_and_no_leader() -> None:
    sick = run(TransferLeader(network=NET, sequencer="seq-2", force=True), cluster(seq_2={"healthy": False}))
    assert sick.blocked and "target_unhealthy" in codes(sick, "block")
    nonvoter = run(
        TransferLeader(network=NET, sequencer="seq-3"),
        cluster(members=(("seq-1", 0), ("seq-2", 0), ("seq-3", 1))),
    )
    assert "seq-3 is a nonvoter, not a voter" in [f.message for f in nonvoter.blocking]
    assert codes(run(TransferLeader(network=NET, sequencer="seq-1")), "block") == ["already_leader"]
    no_one = {"leader": False, "leader_with_id": ServerInfo(id="", addr="")}
    assert run(TransferLeader(network=NET), cluster(seq_1=no_one, seq_2=no_one, seq_3=no_one)).blocked


def test_transfer_to_anyone_needs_another_voter() -> None:
    p = run(TransferLeader(network=NET), cluster(members=(("seq-1", 0), ("seq-2", 1))))
    assert p.blocked and codes(p, "block") == ["no_other_voter"]
    ok = run(TransferLeader(network=NET))
    assert not ok.blocked and ok.plan is not None and ok.plan.steps[0].method == "conductor_transferLeader"


# --- stop / start ------------------------------------------------------------------------------------


def test_stopping_the_only_active_sequencer_warns() -> None:
    p = run(StopSequencer(network=NET, sequencer="seq-1"), cluster(seq_1={"paused": True}))
    assert not p.blocked
    assert "seq-1 is the only active sequencer: no blocks are produced until one is started" in messages(p)


def test_stopping_the_leader_under_its_running_control_loop_is_blocked() -> None:
    # Its loop (leader, healthy, inactive) starts it again: the stop would change nothing lasting.
    p = run(StopSequencer(network=NET, sequencer="seq-1"))
    assert codes(p, "block") == ["stop_undone"]
    assert "`pause op-test seq-1`" in messages(p)


def test_start_hands_over_from_the_active_sequencer() -> None:
    paused = {"paused": True}
    target = {"paused": True, "leader_overridden": True}
    p = run(StartSequencer(network=NET, sequencer="seq-2"), cluster(seq_1=paused, seq_2=target, seq_3=paused))
    assert not p.blocked, messages(p)
    assert p.plan is not None
    assert [(s.target, s.method) for s in p.plan.steps] == [
        ("seq-1", "admin_stopSequencer"),
        ("seq-2", "admin_startSequencer"),
    ]
    # Overridden but not the raft leader: blocks are not committed without op-node's own override.
    assert "no_commit_quorum" in codes(p, "warn")


def test_start_on_a_follower_whose_conductor_says_not_leader_is_blocked_unless_forced() -> None:
    # op-node would refuse the start after the active sequencer was already stopped: a halt.
    paused = {"paused": True}
    snap = cluster(seq_1=paused, seq_2=paused, seq_3=paused)
    p = run(StartSequencer(network=NET, sequencer="seq-2"), snap)
    assert codes(p, "block") == ["start_gate"]
    assert not run(StartSequencer(network=NET, sequencer="seq-2", force=True), snap).blocked


def test_start_with_nothing_active_below_the_best_head_is_blocked() -> None:
    # Starting a node at its own, older head would build a competing block and reorg the others.
    snap = cluster(seq_1={"sequencer_active": False}, seq_2={**lagging(5), "leader_overridden": True})
    p = run(StartSequencer(network=NET, sequencer="seq-2"), snap)
    assert "start_below_best" in codes(p, "block")


def test_transfer_to_a_lagging_target_is_blocked_unless_forced() -> None:
    snap = cluster(seq_2=lagging(50))
    p = run(TransferLeader(network=NET, sequencer="seq-2"), snap)
    assert codes(p, "block") == ["lagging"]
    assert not run(TransferLeader(network=NET, sequencer="seq-2", force=True), snap).blocked


def test_start_refuses_a_second_active_sequencer() -> None:
    p = run(StartSequencer(network=NET, sequencer="seq-1"))
    assert p.blocked and codes(p, "block") == ["already_active"]


def test_start_with_nothing_active_uses_own_head_and_says_so() -> None:
    snap = cluster(seq_1={"sequencer_active": False})
    p = run(StartSequencer(network=NET, sequencer="seq-1"), snap)
    assert not p.blocked
    assert p.plan is not None and p.plan.steps[0].params == [f"0x{HEAD:x}"]
    assert "nothing is sequencing: seq-1 starts at its own head #1000" in messages(p)
    assert "conductors_running" in codes(p, "warn")
    # No hash was given, so the plan does not speak of one.
    assert p.plan.summary == "start seq-1 at its own head #1000"
    assert p.plan.steps[0].description == "start sequencing on seq-1 at its own head #1000"


def test_start_refuses_a_lagging_target() -> None:
    p = run(
        StartSequencer(network=NET, sequencer="seq-2"),
        cluster(seq_2={**lagging(50), "leader_overridden": True}),
    )
    assert p.blocked and codes(p, "block") == ["lagging"]


def test_transfer_from_a_paused_leader_needs_force() -> None:
    snap = cluster(seq_1={"paused": True})
    p = run(TransferLeader(network=NET, sequencer="seq-2"), snap)
    assert [f.message for f in p.blocking] == ["the leader seq-1's conductor is paused"]
    assert not run(TransferLeader(network=NET, sequencer="seq-2", force=True), snap).blocked
