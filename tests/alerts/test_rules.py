"""Each alert rule fires with the right subject and message, and stays quiet on a healthy network."""

from __future__ import annotations

import json

from alerts.model import Condition, LeaderChange
from alerts.rules import WatchMemory, evaluate, is_held
from cluster.snapshot import BlockRef, Membership, NodeStatus, ProbeError, ServerInfo
from cluster.topology import Thresholds
from tests.alerts.factories import (
    NET,
    T0,
    healthy_nodes,
    membership,
    node,
    put,
    replace,
    snap,
    spec,
    unreachable,
)


def _eval(
    nodes: list[NodeStatus], now: float = T0, memory: WatchMemory | None = None
) -> tuple[list[Condition], WatchMemory]:
    return evaluate(snap(nodes, now), spec(), memory or WatchMemory(), now)


def _by_rule(conditions: list[Condition]) -> dict[str, list[Condition]]:
    out: dict[str, list[Condition]] = {}
    for c in conditions:
        out.setdefault(c.rule, []).append(c)
    return out


def test_healthy_network_raises_nothing_and_remembers_the_leader() -> None:
    conditions, memory = _eval(healthy_nodes())
    assert conditions == []
    assert memory.leader_id == "seq-0"
    assert memory.best_unsafe_number == 100
    assert memory.held == ()


def test_leader_change_is_reported_once_with_old_and_new_leader() -> None:
    _, memory = _eval(healthy_nodes())
    conditions, memory = _eval(healthy_nodes(head=101, now=T0 + 2, leader_id="seq-1"), T0 + 2, memory)
    assert [(c.rule, c.subject, c.severity, c.summary) for c in conditions] == [
        ("leader_changed", "", "info", "leader changed seq-0 → seq-1")
    ]
    again, _ = _eval(healthy_nodes(head=102, now=T0 + 4, leader_id="seq-1"), T0 + 4, memory)
    assert again == []


def test_no_leader_is_critical_and_inhibits_per_node_noise() -> None:
    nodes = [
        node(i, leader=False, leader_with_id=None, sequencer_active=False, healthy=(i != "seq-1"))
        for i in ("seq-0", "seq-1", "seq-2")
    ]
    conditions, memory = _eval(nodes)
    rules = _by_rule(conditions)
    assert [c.summary for c in rules["no_leader"]] == [
        "no conductor reports leadership (3 of 3 conductors answer)"
    ]
    assert rules["no_leader"][0].severity == "critical"
    # seq-1's unhealthy health check follows from the outage: held, neither raised nor cleared.
    assert "node_unhealthy" not in rules
    assert is_held(f"{NET}/node_unhealthy/seq-1", memory.held)
    # The last known leader is kept, so the next leader is reported as a change from it.
    _, first = _eval(healthy_nodes())
    _, after = _eval(nodes, T0 + 2, first)
    assert after.leader_id == "seq-0"


def test_an_unreachable_leader_is_not_a_lost_leader() -> None:
    followers_believe_seq0 = put(healthy_nodes(), unreachable("seq-0"))
    conditions, memory = _eval(followers_believe_seq0)
    assert [(c.rule, c.subject) for c in conditions] == [("node_unreachable", "seq-0")]
    assert is_held(f"{NET}/no_leader", memory.held)


def test_two_leaders_are_named() -> None:
    nodes = replace(healthy_nodes(), "seq-1", leader=True)
    rules = _by_rule(_eval(nodes)[0])
    assert [(c.subject, c.summary) for c in rules["multiple_leaders"]] == [
        ("", "2 conductors report leadership: seq-0, seq-1")
    ]


def _handed_over(at: float, old_leader_active: bool = True) -> list[NodeStatus]:
    """seq-0 handed leadership to seq-1; seq-0's sequencer may still be running."""
    nodes = healthy_nodes(head=100 + round(at - T0), now=at, leader_id="seq-1")
    return replace(nodes, "seq-0", sequencer_active=old_leader_active)


def test_a_stepping_down_old_leader_is_held_for_two_ticks_then_named() -> None:
    _, memory = _eval(healthy_nodes())
    for at in (T0 + 2, T0 + 4):
        conditions, memory = _eval(_handed_over(at), at, memory)
        # Routine hand-over: neither raised nor cleared yet.
        assert "multiple_active" not in _by_rule(conditions)
        assert is_held(f"{NET}/multiple_active", memory.held)
    conditions, memory = _eval(_handed_over(T0 + 6), T0 + 6, memory)
    rules = _by_rule(conditions)
    assert [c.summary for c in rules["multiple_active"]] == [
        "2 active sequencers: seq-0, seq-1 (seq-0 is the previous leader, stepping down)"
    ]
    assert rules["multiple_active"][0].details["stepping_down"] == "seq-0"


def test_an_old_leader_that_stops_within_two_ticks_raises_nothing() -> None:
    _, memory = _eval(healthy_nodes())
    for at in (T0 + 2, T0 + 4):
        conditions, memory = _eval(_handed_over(at), at, memory)
        assert "multiple_active" not in _by_rule(conditions)
    conditions, memory = _eval(_handed_over(T0 + 6, old_leader_active=False), T0 + 6, memory)
    assert "multiple_active" not in _by_rule(conditions)
    assert not is_held(f"{NET}/multiple_active", memory.held)
    assert memory.stepping_down_since is None


def test_a_third_active_sequencer_during_a_hand_over_is_split_brain_at_once() -> None:
    _, memory = _eval(healthy_nodes())
    nodes = replace(_handed_over(T0 + 2), "seq-2", sequencer_active=True)
    rules = _by_rule(_eval(nodes, T0 + 2, memory)[0])
    assert [c.details["active"] for c in rules["multiple_active"]] == [3]


def test_two_active_sequencers_without_a_leader_change_are_plain_split_brain() -> None:
    _, memory = _eval(healthy_nodes())
    nodes = replace(healthy_nodes(now=T0 + 2), "seq-2", sequencer_active=True)
    rules = _by_rule(_eval(nodes, T0 + 2, memory)[0])
    assert [c.summary for c in rules["multiple_active"]] == ["2 active sequencers: seq-0, seq-2"]


def test_on_a_first_look_a_second_sequencer_whose_conductor_will_stop_it_is_held_then_named() -> None:
    # No history (a restart, a one-shot status): it may be an old leader stepping down, so it is held
    # for STEPPING_DOWN_SECONDS; one whose conductor is paused will never stop and is named at once.
    nodes = replace(healthy_nodes(), "seq-2", sequencer_active=True)
    conditions, memory = _eval(nodes)
    assert "multiple_active" not in _by_rule(conditions) and is_held(f"{NET}/multiple_active", memory.held)
    later = replace(healthy_nodes(now=T0 + 6), "seq-2", sequencer_active=True)
    assert "multiple_active" in _by_rule(_eval(later, T0 + 6, memory)[0])
    paused = replace(healthy_nodes(), "seq-2", sequencer_active=True, paused=True)
    assert "multiple_active" in _by_rule(_eval(paused)[0])


def test_leader_without_active_sequencer() -> None:
    nodes = replace(healthy_nodes(), "seq-0", sequencer_active=False)
    rules = _by_rule(_eval(nodes)[0])
    assert [c.summary for c in rules["no_active"]] == [
        "leader seq-0 has no active sequencer (none of 3 op-nodes is sequencing)"
    ]


def test_chain_stalled_after_stall_seconds_and_clears_when_the_head_moves() -> None:
    assert Thresholds().stall_seconds == 12
    _, memory = _eval(healthy_nodes(head=100), T0)
    early, memory = _eval(healthy_nodes(head=100), T0 + 6, memory)
    assert early == []
    stalled, memory = _eval(healthy_nodes(head=100), T0 + 12, memory)
    assert [c.summary for c in stalled] == ["best unsafe head #100 has not advanced for 12s (threshold 12s)"]
    moving, _ = _eval(healthy_nodes(head=101, now=T0 + 14), T0 + 14, memory)
    assert moving == []


def test_chain_stalled_from_head_age_right_after_a_restart() -> None:
    conditions, _ = _eval(healthy_nodes(head=100, now=T0), T0 + 40)
    assert [(c.rule, c.summary) for c in conditions] == [
        ("chain_stalled", "best unsafe head #100 is 41s old (max 30s)")
    ]


def test_unhealthy_node() -> None:
    conditions, _ = _eval(replace(healthy_nodes(), "seq-1", healthy=False))
    assert [(c.rule, c.subject, c.severity, c.summary) for c in conditions] == [
        ("node_unhealthy", "seq-1", "warning", "seq-1: sequencer unhealthy (conductor health check)")
    ]


def test_unreachable_conductor_names_endpoint_and_error_and_holds_what_it_cannot_see() -> None:
    conditions, memory = _eval(put(healthy_nodes(), unreachable("seq-2")))
    assert [(c.rule, c.subject, c.summary) for c in conditions] == [
        ("node_unreachable", "seq-2", "seq-2: conductor unreachable: connection refused")
    ]
    assert conditions[0].details == {"conductor": "unreachable"}
    for rule in ("conductor_inactive", "leader_overridden", "node_unhealthy"):
        assert is_held(f"{NET}/{rule}/seq-2", memory.held)
    assert not is_held(f"{NET}/conductor_inactive/seq-1", memory.held)


def test_node_rpc_timeout_is_reported_with_its_kind() -> None:
    bad = node("seq-1").model_copy(
        update={
            "unsafe": None,
            "safe": None,
            "peers": None,
            "errors": (ProbeError(endpoint="node", kind="timeout", message="no answer in 2.0s"),),
        }
    )
    conditions, _ = _eval(put(healthy_nodes(), bad))
    assert [c.summary for c in conditions] == ["seq-1: node timeout: no answer in 2.0s"]


def test_lagging_node_reports_blocks_and_seconds() -> None:
    behind = BlockRef(number=80, hash="0x50", timestamp=int(T0) - 41)
    conditions, _ = _eval(replace(healthy_nodes(), "seq-2", unsafe=behind))
    assert [(c.rule, c.subject, c.summary) for c in conditions] == [
        ("lagging", "seq-2", "seq-2: 20 blocks / 40s behind the best head #100 (max 10 blocks / 30s)")
    ]
    assert conditions[0].details == {"lag_blocks": 20, "lag_seconds": 40.0}


def test_paused_and_stopped_conductors() -> None:
    nodes = replace(replace(healthy_nodes(), "seq-1", paused=True), "seq-2", stopped=True, paused=True)
    conditions, _ = _eval(nodes)
    assert [(c.rule, c.subject, c.summary) for c in conditions] == [
        ("conductor_inactive", "seq-1", "seq-1: conductor paused"),
        ("conductor_inactive", "seq-2", "seq-2: conductor stopped"),
    ]


def test_leader_override_on_a_conductor() -> None:
    conditions, _ = _eval(replace(healthy_nodes(), "seq-1", leader_overridden=True))
    assert [(c.rule, c.subject, c.summary) for c in conditions] == [
        ("leader_overridden", "seq-1", "seq-1: leader overridden on the conductor")
    ]


def test_membership_drift_kinds_per_node() -> None:
    servers = (
        ServerInfo(id="seq-0", addr="seq-0:50050"),
        ServerInfo(id="seq-1", addr="10.0.0.9:50050", suffrage=1),
        ServerInfo(id="seq-9", addr="seq-9:50050"),
    )
    drifted = Membership(servers=servers, version=7)
    nodes = [n.model_copy(update={"membership": drifted}) for n in healthy_nodes()]
    conditions, _ = _eval(nodes)
    assert [(c.rule, c.subject, c.summary) for c in conditions] == [
        (
            "membership_drift",
            "seq-1",
            "seq-1 is a nonvoter but the topology says voter; "
            "seq-1 raft address is 10.0.0.9:50050, topology says seq-1:50050 (membership as seq-0 sees it)",
        ),
        (
            "membership_drift",
            "seq-2",
            "seq-2 is in the topology but not a raft member (membership as seq-0 sees it)",
        ),
        (
            "membership_drift",
            "seq-9",
            "seq-9 is a raft member (seq-9:50050) but not in the topology (membership as seq-0 sees it)",
        ),
    ]
    assert membership() != drifted


def test_low_peer_count() -> None:
    conditions, _ = _eval(replace(healthy_nodes(), "seq-1", peers=0))
    assert [(c.rule, c.subject, c.summary) for c in conditions] == [
        ("low_peers", "seq-1", "seq-1: 0 peers (min 1)")
    ]


def test_all_conductors_unreachable_is_one_alert_not_three() -> None:
    conditions, memory = _eval([unreachable(i) for i in ("seq-0", "seq-1", "seq-2")])
    assert [(c.rule, c.subject, c.summary) for c in conditions] == [
        ("all_unreachable", "", "none of the 3 conductors answers")
    ]
    assert is_held(f"{NET}/node_unreachable/seq-0", memory.held)
    assert is_held(f"{NET}/no_leader", memory.held)


def test_memory_owing_no_leader_change_is_written_as_a_replica_before_the_field_reads_it() -> None:
    # A rolling update: the previous version rejects fields it does not know (extra="forbid").
    before_the_field = {
        "leader_id",
        "previous_leader_id",
        "stepping_down_since",
        "best_unsafe_number",
        "best_advanced_at",
        "held",
    }
    assert set(json.loads(WatchMemory(leader_id="seq-1").model_dump_json())) == before_the_field
    owed = WatchMemory(leader_changes=(LeaderChange(at=1.5, before="seq-0", after="seq-1"),))
    assert WatchMemory.model_validate_json(owed.model_dump_json()) == owed
