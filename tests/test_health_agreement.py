"""Status and alerts agree: the same snapshot gives the same condition names in `/conductor status`,
`conductor-bot status` and the alert evaluation, because all three read one health model.

Each case is a first look (no history), which is what a status command sees; the alert side gets a
fresh watch memory, as after a restart. What holds must match by name and subject, and so must what is
not judged (unknown facts, an old leader stepping down, symptoms of a larger outage).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from alerts.model import fingerprint
from alerts.rules import WatchMemory, evaluate
from bot.status_cli import exit_code, snapshot_json
from chat.text import escape
from cluster.conditions import assess
from cluster.health import Verdict
from cluster.snapshot import ErrorKind, NetworkSnapshot, NodeStatus
from cluster.topology import NetworkSpec
from commands.status_blocks import status_blocks
from tests.alerts.factories import IDS, T0, healthy_nodes, membership, node, put, replace, silent, snap, spec


def with_standby() -> NetworkSpec:
    base = spec((*IDS, "seq-3"))
    sequencers = tuple(s.model_copy(update={"standby": s.id == "seq-3"}) for s in base.sequencers)
    return base.model_copy(update={"sequencers": sequencers})


@dataclass(frozen=True)
class Case:
    build: Callable[[], tuple[NetworkSnapshot, NetworkSpec]]
    holds: set[str]
    verdict: Verdict


def _plain(nodes: list[NodeStatus], now: float = T0) -> tuple[NetworkSnapshot, NetworkSpec]:
    return snap(nodes, now), spec()


def _handover() -> tuple[NetworkSnapshot, NetworkSpec]:
    # seq-0 handed leadership to seq-1 and still sequences until its running conductor stops it.
    return _plain(replace(healthy_nodes(leader_id="seq-1"), "seq-0", sequencer_active=True))


def _leader_conductor(kind: ErrorKind) -> Callable[[], tuple[NetworkSnapshot, NetworkSpec]]:
    return lambda: _plain(put(healthy_nodes(), silent(node("seq-0"), "conductor", kind=kind)))


def _split_brain() -> tuple[NetworkSnapshot, NetworkSpec]:
    return _plain(replace(healthy_nodes(), "seq-2", leader=True, sequencer_active=True))


def _standby() -> tuple[NetworkSnapshot, NetworkSpec]:
    nodes = [*healthy_nodes(), node("seq-3", paused=True, active=False, membership=membership())]
    net = with_standby()
    return snap(nodes, net=net), net


CASES: dict[str, Case] = {
    "healthy": Case(lambda: _plain(healthy_nodes()), set(), "healthy"),
    "routine handover": Case(_handover, set(), "degraded"),
    "leader's conductor dead": Case(_leader_conductor("unreachable"), {"node_unreachable/seq-0"}, "degraded"),
    "leader's conductor hung": Case(_leader_conductor("timeout"), {"node_unreachable/seq-0"}, "degraded"),
    "lagging follower": Case(
        lambda: _plain(put(healthy_nodes(), node("seq-2", head=70))), {"lagging/seq-2"}, "degraded"
    ),
    "paused conductor": Case(
        lambda: _plain(replace(healthy_nodes(), "seq-1", paused=True, active=False)),
        {"conductor_inactive/seq-1"},
        "degraded",
    ),
    "split brain": Case(_split_brain, {"multiple_leaders/", "multiple_active/"}, "critical"),
    "stalled chain": Case(lambda: _plain(healthy_nodes(now=T0 - 60)), {"chain_stalled/"}, "critical"),
    "partitioned node": Case(
        lambda: _plain(put(healthy_nodes(), silent(node("seq-2"), "conductor", "node", kind="timeout"))),
        {"node_unreachable/seq-2"},
        "degraded",
    ),
    "standby node": Case(_standby, set(), "healthy"),
    "nothing answering": Case(
        lambda: _plain([silent(node(i), "conductor", "node") for i in IDS]), {"all_unreachable/"}, "critical"
    ),
}


def _names(found: list[dict[str, Any]], *states: str) -> set[str]:
    return {f"{f['condition']}/{f['subject']}" for f in found if f["state"] in states}


@pytest.mark.parametrize("name", sorted(CASES))
def test_status_and_alerts_name_the_same_conditions(name: str) -> None:
    case = CASES[name]
    snapshot, net = case.build()
    conditions, memory = evaluate(snapshot, net, WatchMemory(), snapshot.taken_at)
    alerts = {f"{c.rule}/{c.subject}" for c in conditions}
    # `conductor-bot status --json`: what an operator's script reads.
    health = assess(snapshot, net)
    cli = json.loads(snapshot_json(snapshot, health))
    assert _names(cli["findings"], "holds") == alerts == case.holds
    # What neither raises nor clears an alert is what status shows as not judged, and vice versa.
    not_judged = {fingerprint(net.name, *n.split("/")) for n in _names(cli["findings"], "unknown", "held")}
    assert set(memory.held) == not_judged
    assert cli["verdict"] == health.verdict == case.verdict
    assert exit_code(health) == {"healthy": 0, "degraded": 1, "critical": 2}[case.verdict]
    # `/conductor status`: the header carries the verdict; each holding finding is told, under its
    # node when it has one (without repeating the node's id) or among the network's findings.
    blocks = status_blocks(snapshot, net)
    assert blocks[0]["text"]["text"] == f"{net.name}: {case.verdict}"
    shown = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    for f in health.holding:
        if f.severity != "info":
            assert escape(f.summary.removeprefix(f"{f.subject}: ")) in shown, f.summary


def test_the_routine_handover_is_held_in_both_and_never_critical() -> None:
    snapshot, net = _handover()
    health = assess(snapshot, net)
    [held] = [f for f in health.findings if f.state == "held"]
    assert held.condition == "multiple_active" and held.details["stepping_down"] == "seq-0"
    assert "seq-0 is the previous leader, stepping down" in " ".join(health.notes())
    _, memory = evaluate(snapshot, net, WatchMemory(), snapshot.taken_at)
    assert memory.held == (fingerprint(net.name, "multiple_active", ""),)
