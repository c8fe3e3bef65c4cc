"""A node listed as `standby` (ahead of the runbook's "add a sequencer") is expected to be outside the
cluster with its conductor paused: neither is a finding in status nor an alert until it has been added."""

from __future__ import annotations

from alerts.rules import WatchMemory, evaluate
from cluster.conditions import assess
from cluster.topology import NetworkSpec
from tests.alerts.factories import IDS, T0, membership, node, snap, spec


def with_standby(standby_id: str) -> NetworkSpec:
    base = spec((*IDS, standby_id))
    sequencers = tuple(s.model_copy(update={"standby": s.id == standby_id}) for s in base.sequencers)
    return base.model_copy(update={"sequencers": sequencers})


def fingerprints(net: NetworkSpec, members: tuple[str, ...]) -> set[str]:
    nodes = [node(i, membership=membership(members)) for i in IDS]
    nodes.append(node("seq-3", paused=True, active=False, membership=membership(members)))
    snapshot = snap(nodes, net=net)
    conditions, _ = evaluate(snapshot, net, WatchMemory(), T0)
    status = {f"status:{f.condition}/{f.subject}" for f in assess(snapshot, net).findings}
    return {c.fingerprint for c in conditions} | status


def test_a_paused_standby_node_outside_the_cluster_raises_nothing() -> None:
    assert fingerprints(with_standby("seq-3"), IDS) == set()


def test_the_same_node_without_standby_is_drift_and_a_paused_conductor() -> None:
    found = fingerprints(spec((*IDS, "seq-3")), IDS)
    assert {"op-test/membership_drift/seq-3", "op-test/conductor_inactive/seq-3"} <= found
    assert {"status:membership_drift/seq-3", "status:conductor_inactive/seq-3"} <= found


def test_once_added_a_standby_node_is_watched_like_any_member() -> None:
    found = fingerprints(with_standby("seq-3"), (*IDS, "seq-3"))
    assert {"op-test/conductor_inactive/seq-3", "status:conductor_inactive/seq-3"} <= found
