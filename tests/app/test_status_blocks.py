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
    StatusBlock,
    leadership,
    status_blocks,
    verdict_line,
)
from tests.fixtures.blocks_valid import assert_valid_message
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
    assert_valid_message(name, blocks)
    assert_golden(GOLDEN, name, blocks)


def texts(blocks: list[dict[str, Any]]) -> str:
    """Everything a reader sees in a message's sections and context lines."""
    out = [b["text"]["text"] for b in blocks if b["type"] in ("section", "header")]
    out += [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    return "\n".join(out)


def nothing_answers(n: int, message: str = "connection refused") -> tuple[facts.NetworkSnapshot, NetworkSpec]:
    s = spec(n)
    errors = (
        facts.ProbeError(endpoint="conductor", kind="unreachable", message=message),
        facts.ProbeError(endpoint="node", kind="timeout", message="timed out after 2s"),
    )
    return facts.analyze(s, [facts.NodeStatus(id=f"seq-{i}", errors=errors) for i in range(n)], NOW), s


def test_healthy_network_matches_golden() -> None:
    snapshot, s = healthy_snapshot()
    assert assess(snapshot, s).verdict == "healthy"
    check_golden("status_healthy", status_blocks(snapshot, s))


def test_troubled_five_node_network_matches_golden_and_names_each_problem_under_its_node() -> None:
    snapshot, s = troubled_snapshot()
    blocks = status_blocks(snapshot, s)
    check_golden("status_troubled", blocks)
    text = texts(blocks)
    for expected in (
        ":warning: *seq-2* · #1000 · 4 peers\n      ↳ conductor unreachable: connection refused",
        ":warning: *seq-3* · follower · #950 · 4 peers\n      ↳ conductor paused\n      ↳ 50 blocks",
        ":warning: *seq-4* · follower · nonvoter · #1000\n      ↳ leader overridden on the conductor"
        "\n      ↳ 0 peers (min 1)",
    ):
        assert expected in text
    # The error is told once, beside its node, not again among the findings.
    assert text.count("connection refused") == 1


def test_a_phone_sized_status_for_twenty_nodes_one_line_each_and_agreement_collapsed() -> None:
    s = spec(20)
    snapshot = facts.analyze(s, [leader(s)] + [follower(i, s) for i in range(1, 20)], NOW)
    blocks = status_blocks(snapshot, s)
    assert_valid_message("status", blocks)
    assert len(blocks) <= 5
    [summary] = [b for b in blocks if b.get("block_id") == StatusBlock.SUMMARY]
    assert summary["text"]["text"] == (
        ":large_green_circle: *healthy* · `seq-0` leads and sequences · head #1000, 1s old"
    )
    node_lines = [
        line
        for b in blocks
        if b.get("block_id", "").startswith("status_nodes")
        for line in b["text"]["text"].split("\n")
    ]
    assert len(node_lines) == 20
    assert node_lines[0] == ":large_green_circle: *seq-0* · leader · sequencing · #1000 · 4 peers"
    assert node_lines[7] == ":large_green_circle: *seq-7* · follower · #1000 · 4 peers"


def test_with_nothing_answering_each_error_shows_once_and_alike_nodes_share_one_entry() -> None:
    snapshot, s = nothing_answers(20)
    blocks = status_blocks(snapshot, s)
    check_golden("status_nothing_answers", blocks)
    text = texts(blocks)
    assert text.count("connection refused") == 1
    assert text.count("timed out after 2s") == 1
    assert "*seq-0, seq-1, seq-2," in text and "seq-19* (20 sequencers)" in text
    assert "none of the 20 conductors answers" in text
    assert len(blocks) <= 6


@pytest.mark.parametrize(
    ("leaders", "active", "expected"),
    [
        ((1,), (0, 1), "`seq-1` leads and sequences; `seq-0` also sequencing"),
        ((0,), (), "`seq-0` leads; no sequencer is active"),
        ((0, 1), (0,), "Leader: `seq-0`, `seq-1` · raft leader: `seq-0` · sequencing: `seq-0`"),
    ],
)
def test_leadership_is_spelt_out_only_where_it_does_not_agree(
    leaders: tuple[int, ...], active: tuple[int, ...], expected: str
) -> None:
    s = spec(3)
    nodes = [follower(i, s, leader=i in leaders, sequencer_active=i in active) for i in range(3)]
    assert leadership(facts.analyze(s, nodes, NOW)) == expected


def test_external_strings_are_escaped_so_a_node_cannot_ping_the_channel() -> None:
    evil = "<!channel> see <http://evil|docs> & more"
    snapshot, s = nothing_answers(3, message=evil)
    text = texts(status_blocks(snapshot, s))
    assert "&lt;!channel&gt; see &lt;http://evil|docs&gt; &amp; more" in text
    assert "<!channel>" not in text and "<http" not in text
    # One node down among answering ones: its error is a reason in the one-line verdict too.
    s3 = spec(3)
    down = facts.NodeStatus(
        id="seq-2", errors=(facts.ProbeError(endpoint="conductor", kind="unreachable", message=evil),)
    )
    line = verdict_line(facts.analyze(s3, [leader(s3), follower(1, s3), down], NOW), s3)
    assert "conductor unreachable: &lt;!channel&gt; see &lt;http://evil|docs&gt; &amp; more" in line


def test_the_shared_copy_names_who_shared_it_and_has_no_buttons() -> None:
    snapshot, s = troubled_snapshot()
    mine = status_blocks(snapshot, s)
    [actions] = [b for b in mine if b["type"] == "actions"]
    assert [e["text"]["text"] for e in actions["elements"]] == ["Refresh", "Share in channel"]
    shared = status_blocks(snapshot, s, shared_by="U123")
    assert_valid_message("status", shared)
    assert not [b for b in shared if b["type"] == "actions"]
    assert texts(shared).endswith("membership as seen by seq-0 · shared by <@U123>")
    assert [b for b in shared if b["type"] != "context"] == [
        b for b in mine if b["type"] not in ("context", "actions")
    ]


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
    assert_valid_message("status", blocks)
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


def test_what_the_bot_remembers_about_a_node_is_shown_under_it() -> None:
    snapshot, s = healthy_snapshot()
    note = "op-node override on seq-1 was set by request `r1` (<@U1>)"
    text = texts(status_blocks(snapshot, s, {"seq-1": note}))
    assert f":large_green_circle: *seq-1* · follower · #1000 · 4 peers\n      ↳ :pushpin: {note}" in text
