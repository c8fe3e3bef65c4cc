"""Plans: the exact RPC steps of each operation, placeholders, tolerated errors and outcome checks."""

from __future__ import annotations

import pytest

from cluster.snapshot import ServerInfo
from cluster.topology import NetworkSpec, SequencerSpec
from commands.plan_builders import (
    plan_add_server,
    plan_conductor_override,
    plan_handover,
    plan_node_override,
    plan_pause,
    plan_remove_server,
    plan_stop,
    plan_transfer,
)
from commands.plans import Plan, RpcStep, UnresolvedParamError, resolve_params, tolerated, verify
from tests.commands.test_preflight import cluster

SEQ2 = SequencerSpec(
    id="seq-2", raft_addr="seq-2-raft:50050", conductor_rpc_url="http://c2", node_rpc_url="http://n2"
)
SPEC = NetworkSpec(
    name="op-test",
    sequencers=tuple(
        SequencerSpec(
            id=f"seq-{i}",
            raft_addr=f"seq-{i}-raft:50050",
            conductor_rpc_url=f"http://c{i}",
            node_rpc_url=f"http://n{i}",
        )
        for i in (1, 2, 3)
    ),
)


def calls(plan: Plan) -> list[tuple[str, str, str, list[object]]]:
    return [(s.target, s.endpoint, s.method, list(s.params)) for s in plan.steps]


def test_pause_and_resume_call_each_target_conductor() -> None:
    assert calls(plan_pause(["seq-1", "seq-2"])) == [
        ("seq-1", "conductor", "conductor_pause", []),
        ("seq-2", "conductor", "conductor_pause", []),
    ]
    assert calls(plan_pause(["seq-3"], resume=True)) == [("seq-3", "conductor", "conductor_resume", [])]


def test_override_plans_send_the_params_each_endpoint_requires() -> None:
    # conductor_overrideLeader needs the bool (infra#103); admin_overrideLeader takes none.
    assert calls(plan_conductor_override("seq-2", clear=False)) == [
        ("seq-2", "conductor", "conductor_overrideLeader", [True])
    ]
    assert calls(plan_conductor_override("seq-2", clear=True)) == [
        ("seq-2", "conductor", "conductor_overrideLeader", [False])
    ]
    assert calls(plan_node_override("seq-2")) == [("seq-2", "node", "admin_overrideLeader", [])]
    assert plan_node_override("seq-2").expectations == ()


def test_membership_plans_run_on_the_leader_with_version_zero() -> None:
    assert calls(plan_add_server("seq-1", SEQ2, voter=True)) == [
        ("seq-1", "conductor", "conductor_addServerAsVoter", ["seq-2", "seq-2-raft:50050", 0])
    ]
    assert calls(plan_add_server("seq-1", SEQ2, voter=False)) == [
        ("seq-1", "conductor", "conductor_addServerAsNonvoter", ["seq-2", "seq-2-raft:50050", 0])
    ]
    assert calls(plan_remove_server("seq-1", "seq-2")) == [
        ("seq-1", "conductor", "conductor_removeServer", ["seq-2", 0])
    ]


def test_transfer_plans() -> None:
    to = plan_transfer("seq-1", SEQ2)
    assert calls(to) == [
        ("seq-1", "conductor", "conductor_transferLeaderToServer", ["seq-2", "seq-2-raft:50050"])
    ]
    assert [e.description for e in to.expectations] == ["leader is seq-2"]
    anyone = plan_transfer("seq-1", None)
    assert calls(anyone) == [("seq-1", "conductor", "conductor_transferLeader", [])]
    assert [e.description for e in anyone.expectations] == ["leader is no longer seq-1"]
    assert tolerated(to.steps[0], "leadership transfer timeout")


def test_handover_stops_then_starts_at_the_returned_hash() -> None:
    plan = plan_handover("seq-2", ["seq-1"], None)
    stop, start = plan.steps
    assert (stop.target, stop.method, stop.result_key) == ("seq-1", "admin_stopSequencer", "stop_hash")
    assert (start.target, start.method, start.params) == (
        "seq-2",
        "admin_startSequencer",
        [{"$from": "stop_hash"}],
    )
    assert resolve_params(start, {"stop_hash": "0xabc"}) == ["0xabc"]
    # The stop whose hash the start needs must really stop: "not running" gives no hash.
    assert not tolerated(stop, "sequencer not running") and not tolerated(stop, "connection refused")
    assert tolerated(start, "sequencer already running")
    assert [e.description for e in plan.expectations] == ["exactly one active sequencer and it is seq-2"]
    # A failed start restarts the stopped sequencer where it stopped, instead of leaving none.
    [undo] = plan.rollback
    assert (undo.target, undo.method, undo.params) == (
        "seq-1",
        "admin_startSequencer",
        [{"$from": "stop_hash"}],
    )


def test_handover_with_explicit_hash_uses_it() -> None:
    h = "0x" + "11" * 32
    plan = plan_handover("seq-2", ["seq-1", "seq-3"], h)
    assert [s.result_key for s in plan.steps] == [None, None, None]
    assert plan.steps[-1].params == [h]
    with pytest.raises(ValueError, match="needs a hash"):
        plan_handover("seq-2", [], None)


def test_missing_placeholder_result_is_a_typed_error() -> None:
    step = plan_handover("seq-2", ["seq-1"], None).steps[1]
    with pytest.raises(UnresolvedParamError, match="stop_hash"):
        resolve_params(step, {})


def test_stop_plan_tolerates_not_running_and_has_a_long_timeout() -> None:
    (step,) = plan_stop("seq-1").steps
    assert step == RpcStep(
        target="seq-1",
        endpoint="node",
        method="admin_stopSequencer",
        description="stop sequencing on seq-1",
        timeout=30.0,
        tolerate=("sequencer not running",),
    )


def test_verify_reports_each_unmet_expectation() -> None:
    assert verify(plan_pause(["seq-2"]), cluster(seq_2={"paused": True})) == []
    assert verify(plan_pause(["seq-2"]), cluster()) == ["seq-2 conductor is not paused"]
    assert verify(plan_pause(["seq-2"]), cluster(seq_2={"paused": None})) == [
        "seq-2: paused state unknown (conductor did not answer)"
    ]
    handover = plan_handover("seq-2", ["seq-1"], None)
    assert verify(handover, cluster()) == ["active sequencers are seq-1, expected only seq-2"]
    assert (
        verify(handover, cluster(seq_1={"sequencer_active": False}, seq_2={"sequencer_active": True})) == []
    )
    assert verify(plan_stop("seq-1"), cluster()) == ["seq-1 is still sequencing"]


def test_verify_membership_and_leadership() -> None:
    assert verify(plan_remove_server("seq-1", "seq-3"), cluster()) == ["seq-3 is still a raft member"]
    assert verify(plan_add_server("seq-1", SEQ2, voter=False), cluster()) == ["seq-2 is a voter"]
    assert verify(plan_add_server("seq-1", SEQ2, voter=True), cluster()) == []
    moved = {"leader_with_id": ServerInfo(id="seq-2", addr="x")}
    after = cluster(seq_1={**moved, "leader": False}, seq_2={**moved, "leader": True}, seq_3=moved)
    assert verify(plan_transfer("seq-1", SEQ2), after) == []
    assert verify(plan_transfer("seq-1", None), after) == []
    assert verify(plan_transfer("seq-1", SEQ2), cluster()) == ["leader is seq-1, expected seq-2"]
    assert verify(plan_conductor_override("seq-2", clear=False), cluster()) == [
        "seq-2 leader override is not set"
    ]
