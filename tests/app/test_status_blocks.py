"""Golden and limit tests of the status Block Kit builders (pure: no servers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chat.text import HEADER_LIMIT, SECTION_LIMIT
from cluster import snapshot as facts
from cluster.conditions import assess
from cluster.topology import NetworkSpec, SequencerSpec
from commands.status_blocks import (
    MAX_BLOCKS,
    status_blocks,
    verdict_line,
)
from tests.fixtures.golden import assert_golden

GOLDEN = Path(__file__).parent / "golden"
NOW = 1_760_000_000.0


def spec(n: int, *, nonvoters: int = 0) -> NetworkSpec:
    return NetworkSpec(
        name="mainnet",
        sequencers=tuple(
            SequencerSpec(
                id=f"seq-{i}",
                raft_addr=f"10.0.0.{i}:50050",
                conductor_rpc_url=f"http://10.0.0.{i}:8547",
                node_rpc_url=f"http://10.0.0.{i}:9545",
                voting=i < n - nonvoters,
            )
            for i in range(n)
        ),
        command_channels=("C1",),
    )


def members(s: NetworkSpec) -> facts.Membership:
    return facts.Membership(
        servers=tuple(facts.ServerInfo(id=x.id, addr=x.raft_addr, suffrage=x.suffrage) for x in s.sequencers)
    )


def follower(i: int, s: NetworkSpec, head: int = 1000, **kw: Any) -> facts.NodeStatus:
    values: dict[str, Any] = {
        "id": f"seq-{i}",
        "leader": False,
        "leader_with_id": facts.ServerInfo(id="seq-0", addr="10.0.0.0:50050"),
        "leader_overridden": False,
        "active": True,
        "paused": False,
        "stopped": False,
        "healthy": True,
        "membership": members(s),
        "sequencer_active": False,
        "unsafe": facts.BlockRef(
            number=head, hash=f"0x{head:064x}", timestamp=int(NOW) - 2 * (1000 - head) - 1
        ),
        "safe": facts.BlockRef(number=head - 20, hash="0x" + "0" * 64, timestamp=int(NOW) - 50),
        "peers": 4,
    }
    values.update(kw)
    return facts.NodeStatus(**values)


def leader(s: NetworkSpec) -> facts.NodeStatus:
    return follower(0, s, leader=True, sequencer_active=True)


def healthy_snapshot() -> tuple[facts.NetworkSnapshot, NetworkSpec]:
    s = spec(3)
    return facts.analyze(s, [leader(s), follower(1, s), follower(2, s)], NOW), s


def troubled_snapshot() -> tuple[facts.NetworkSnapshot, NetworkSpec]:
    """Five nodes: one conductor down, one paused and lagging, one overridden nonvoter."""
    s = spec(5, nonvoters=1)
    down = facts.NodeStatus(
        id="seq-2",
        errors=(facts.ProbeError(endpoint="conductor", kind="unreachable", message="connection refused"),),
        sequencer_active=False,
        healthy=True,
        unsafe=facts.BlockRef(number=1000, hash="0x" + "1" * 64, timestamp=int(NOW) - 1),
        peers=4,
    )
    nodes = [
        leader(s),
        follower(1, s),
        down,
        follower(3, s, head=950, paused=True),
        follower(4, s, leader_overridden=True, peers=0),
    ]
    return facts.analyze(s, nodes, NOW), s


def check_golden(name: str, blocks: list[dict[str, Any]]) -> None:
    assert_golden(GOLDEN, name, blocks)


def test_healthy_network_matches_golden() -> None:
    snapshot, s = healthy_snapshot()
    assert assess(snapshot, s).verdict == "healthy"
    check_golden("status_healthy", status_blocks(snapshot, s))


def test_troubled_five_node_network_matches_golden_and_names_each_problem() -> None:
    snapshot, s = troubled_snapshot()
    blocks = status_blocks(snapshot, s)
    check_golden("status_troubled", blocks)
    text = json.dumps(blocks)
    for expected in (
        "conductor *unreachable*",
        "conductor *paused*",
        "50 behind",
        "leader overridden",
        "nonvoter",
    ):
        assert expected in text


def test_verdict_line_gives_verdict_leader_and_reasons() -> None:
    line = verdict_line(*troubled_snapshot())
    assert line.startswith(":large_yellow_circle: *mainnet* degraded: leader seq-0, head #1000 — ")
    assert "(+" in line  # more reasons than shown are counted, not dropped silently
    healthy, s = healthy_snapshot()
    assert verdict_line(healthy, s) == ":large_green_circle: *mainnet* healthy: leader seq-0, head #1000"


@pytest.mark.parametrize("nodes", [5, 12, 60])
def test_large_networks_stay_within_block_kit_limits(nodes: int) -> None:
    s = spec(nodes)
    huge = "x" * 5000
    statuses = [leader(s)] + [
        follower(
            i,
            s,
            errors=(
                facts.ProbeError(endpoint="node", kind="rpc", method="optimism_syncStatus", message=huge),
            ),
        )
        for i in range(1, nodes)
    ]
    blocks = status_blocks(facts.analyze(s, statuses, NOW), s)
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SECTION_LIMIT
            assert len(block.get("fields", [])) <= 10
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= HEADER_LIMIT
    if nodes == 60:
        assert any("20 more sequencers not shown" in json.dumps(b) for b in blocks)


def test_long_lists_are_cut_at_whole_lines_and_say_how_many_are_left() -> None:
    from commands.networks import MAX_MESSAGE_CHARS, cap_lines

    lines = [f"• network-{i} " + "x" * 480 for i in range(200)]
    kept = cap_lines(lines)
    assert sum(len(line) + 1 for line in kept) <= MAX_MESSAGE_CHARS
    assert kept[:-1] == lines[: len(kept) - 1]
    assert kept[-1] == f"…and {200 - len(kept) + 1} more"
    assert cap_lines(lines[:3]) == lines[:3]
