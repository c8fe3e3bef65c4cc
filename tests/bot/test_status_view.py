"""What `conductor-bot status` shows for a snapshot: pure rendering of the health model, no network."""

from __future__ import annotations

import io
import json

from rich.console import Console

from bot.status_cli import COLUMNS, exit_code, render_status, snapshot_json, status_row
from cluster import snapshot as facts
from cluster.conditions import assess
from tests.alerts.factories import spec

NOW = 1_760_000_100.0
SPEC = spec(name="op-sepolia", voters=2)
MEMBERS = facts.Membership(
    servers=(
        facts.ServerInfo(id="seq-0", addr="seq-0:50050", suffrage=0),
        facts.ServerInfo(id="seq-1", addr="seq-1:50050", suffrage=0),
        facts.ServerInfo(id="seq-2", addr="seq-2:50050", suffrage=1),
    )
)


def head(number: int) -> facts.BlockRef:
    return facts.BlockRef(number=number, hash=f"0x{number:064x}", timestamp=int(NOW) - 2 * (100 - number))


def healthy_node(i: int, *, leader: bool = False, number: int = 100) -> facts.NodeStatus:
    return facts.NodeStatus(
        id=f"seq-{i}",
        leader=leader,
        leader_with_id=facts.ServerInfo(id="seq-0", addr="seq-0:50050"),
        leader_overridden=False,
        active=True,
        paused=False,
        stopped=False,
        healthy=True,
        membership=MEMBERS,
        sequencer_active=leader,
        unsafe=head(number),
        safe=head(number - 10),
        peers=3,
    )


def render(snapshot: facts.NetworkSnapshot) -> str:
    console = Console(file=io.StringIO(), width=220, color_system=None)
    console.print(render_status(snapshot, assess(snapshot, SPEC)))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out


def test_healthy_network_rows_and_verdict() -> None:
    snap = facts.analyze(
        SPEC, [healthy_node(0, leader=True), healthy_node(1), healthy_node(2, number=97)], NOW
    )
    rows = [dict(zip(COLUMNS, status_row(snap, n), strict=True)) for n in snap.nodes]
    assert rows[0] == {
        "sequencer": "seq-0",
        "conductor": "active",
        "leader": "yes",
        "healthy": "yes",
        "sequencing": "yes",
        "voter": "voter",
        "unsafe head": f"#100 {head(100).hash[:10]}",
        "lag": "0",
        "peers": "3",
        "error": "",
    }
    assert (rows[1]["leader"], rows[1]["sequencing"]) == ("no", "no")
    assert (rows[2]["voter"], rows[2]["lag"]) == ("nonvoter", "3 blk / 6s")
    text = render(snap)
    assert "op-sepolia" in text and "seq-2" in text
    assert text.rstrip().splitlines()[-1] == "healthy"
    assert exit_code(assess(snap, SPEC)) == 0


def test_down_nodes_show_why_and_make_the_network_degraded() -> None:
    down = facts.NodeStatus(
        id="seq-1",
        errors=(
            facts.ProbeError(endpoint="conductor", kind="timeout", message="no answer within 1s"),
            facts.ProbeError(endpoint="node", kind="unreachable", message="All connection attempts failed"),
        ),
    )
    partial = healthy_node(2).model_copy(
        update={
            "peers": None,
            "errors": (
                facts.ProbeError(
                    endpoint="node", kind="malformed", message="unexpected result", method="opp2p_peerStats"
                ),
            ),
        }
    )
    snap = facts.analyze(SPEC, [healthy_node(0, leader=True), down, partial], NOW)
    row1 = dict(zip(COLUMNS, status_row(snap, snap.nodes[1]), strict=True))
    assert row1["conductor"] == "?" and row1["leader"] == "?" and row1["unsafe head"] == "?"
    assert row1["error"] == (
        "conductor timeout: no answer within 1s; node unreachable: All connection attempts failed"
    )
    row2 = dict(zip(COLUMNS, status_row(snap, snap.nodes[2]), strict=True))
    assert row2["peers"] == "?"
    assert row2["error"] == "node opp2p_peerStats malformed: unexpected result"
    health = assess(snap, SPEC)
    assert health.verdict == "degraded" and exit_code(health) == 1
    text = render(snap)
    assert "[warning] node_unreachable: seq-1: conductor timeout: no answer within 1s" in text
    # What the dead endpoints hide is said to be unknown, not guessed.
    assert "seq-1: node_unhealthy, conductor_inactive, leader_overridden unknown" in text
    assert "seq-2: low_peers unknown" in text
    assert text.rstrip().splitlines()[-1].startswith("degraded: seq-1: conductor timeout")


def test_paused_overridden_and_no_leader_is_critical() -> None:
    paused = healthy_node(0).model_copy(update={"paused": True, "active": False})
    overridden = healthy_node(1, leader=True).model_copy(update={"leader_overridden": True})
    stopped = healthy_node(2).model_copy(update={"stopped": True, "active": False})
    snap = facts.analyze(SPEC, [paused, overridden, stopped], NOW)
    cells = [status_row(snap, n)[1:3] for n in snap.nodes]
    assert cells == [("paused", "no"), ("active", "yes (override)"), ("stopped", "no")]

    nobody = facts.analyze(SPEC, [healthy_node(0), healthy_node(1), healthy_node(2)], NOW)
    health = assess(nobody, SPEC)
    assert health.verdict == "critical" and exit_code(health) == 2
    assert "[critical] no_leader: no conductor reports leadership (3 of 3 conductors answer)" in render(
        nobody
    )


def test_json_is_the_whole_snapshot_with_the_verdict_and_findings() -> None:
    snap = facts.analyze(
        SPEC, [healthy_node(0, leader=True), healthy_node(1), healthy_node(2, number=80)], NOW
    )
    data = json.loads(snapshot_json(snap, assess(snap, SPEC)))
    assert data["network"] == "op-sepolia" and data["verdict"] == "degraded"
    assert [(f["condition"], f["subject"], f["state"]) for f in data["findings"]] == [
        ("lagging", "seq-2", "holds")
    ]
    assert data["leaders"] == ["seq-0"] and len(data["nodes"]) == 3
    plain = {k: v for k, v in data.items() if k not in ("verdict", "findings")}
    assert facts.NetworkSnapshot.model_validate(plain) == snap
