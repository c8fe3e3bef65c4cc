"""Invariants over the predicted cluster, on hand-made snapshots (see also the scenario tests)."""

from __future__ import annotations

from cluster.snapshot import ProbeError, ServerInfo
from commands import steps
from commands.checks import PreflightFinding, block, new_findings, ok, warn
from commands.operations import OverrideLeader, Resume, StartSequencer, TransferLeader
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
from commands.preflight import prepare
from store.marks import NodeOverrideMark
from tests.commands.test_preflight import NET, SPEC, cluster, codes, down, lagging, messages, run

PAUSED = {"paused": True}
NO_LEADER = {"leader": False, "leader_with_id": ServerInfo(id="", addr="")}
MARK = NodeOverrideMark(sequencer="seq-3", request_id="abc123", requester="UREQ", at=1_760_000_000.0)


def test_every_method_a_plan_builds_has_a_typed_client_call() -> None:
    seq = SPEC.sequencers[1]
    plans = [
        plan_pause(["seq-1"]),
        plan_pause(["seq-1"], resume=True),
        plan_conductor_override("seq-1", clear=False),
        plan_node_override("seq-1"),
        plan_add_server("seq-1", seq, voter=True),
        plan_add_server("seq-1", seq, voter=False),
        plan_remove_server("seq-1", "seq-2"),
        plan_transfer("seq-1", None),
        plan_transfer("seq-1", seq),
        plan_stop("seq-1"),
        plan_handover("seq-2", ["seq-1"], None),
    ]
    methods = {s.method for p in plans for s in (*p.steps, *p.rollback)}
    assert methods <= set(steps.CONDUCTOR_CALLS) | set(steps.NODE_CALLS)


def test_an_op_node_that_timed_out_blocks_a_start_but_a_refused_one_only_warns() -> None:
    hung = {
        "errors": (ProbeError(endpoint="node", kind="timeout", message="no answer within 1s"),),
        "sequencer_active": None,
        "unsafe": None,
    }
    snap = cluster(seq_1={**hung, **PAUSED}, seq_2={**PAUSED, "leader_overridden": True}, seq_3=PAUSED)
    p = run(StartSequencer(network=NET, sequencer="seq-2", force=True), snap)
    assert "sequencer_unknown" in codes(p, "block")
    assert "no node that answered is sequencing (seq-1 did not say)" in messages(p)
    snap = cluster(
        seq_1={**down("node"), **PAUSED}, seq_2={**PAUSED, "leader_overridden": True}, seq_3=PAUSED
    )
    p = run(StartSequencer(network=NET, sequencer="seq-2", force=True), snap)
    assert "sequencer_unknown" in codes(p, "warn") and "sequencer_unknown" not in codes(p, "block")


def test_a_recorded_op_node_override_elsewhere_warns_a_new_override() -> None:
    snap = cluster(seq_1={**NO_LEADER, "healthy": False}, seq_2=NO_LEADER, seq_3=NO_LEADER)
    p = prepare(OverrideLeader(network=NET, sequencer="seq-2"), snap, SPEC, {"seq-3": MARK})
    assert "second_override" in codes(p, "warn")
    assert "this bot set an op-node override on seq-3 earlier" in messages(p)


def test_resuming_the_survivor_that_sequences_on_an_override_without_quorum_is_blocked() -> None:
    dead = down("conductor")
    survivor = {**NO_LEADER, **PAUSED, "leader_overridden": True, "sequencer_active": True}
    snap = cluster(
        seq_1={**dead, "sequencer_active": False}, seq_2={**dead, "sequencer_active": False}, seq_3=survivor
    )
    p = prepare(Resume(network=NET, sequencer="seq-3", force=True), snap, SPEC, {"seq-3": MARK})
    assert codes(p, "block") == ["chain_halts"]
    assert "seq-3 would be stopped by its own control loop, as no node leads raft" in messages(p)


def test_an_untargeted_transfer_with_one_synced_candidate_only_warns() -> None:
    p = run(TransferLeader(network=NET), cluster(seq_2=lagging(50)))
    assert not p.blocked and "lagging" in codes(p, "warn")


def test_new_findings_ignore_moving_numbers_and_see_new_or_worse_ones() -> None:
    seen = (warn("lagging", "seq-2 is 12 blocks behind"), ok("leader", "runs on the leader seq-1"))
    assert new_findings(seen, (warn("lagging", "seq-2 is 14 blocks behind"),)) == []
    worse = block("lagging", "seq-2 is 14 blocks behind")
    assert new_findings(seen, (worse,)) == [worse]
    fresh: tuple[PreflightFinding, ...] = (warn("lagging", "seq-3 is 11 blocks behind"),)
    assert new_findings(seen, fresh) == list(fresh)
    assert new_findings(seen, (ok("synced", "seq-3 is synced"),)) == []
