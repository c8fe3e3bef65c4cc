"""Clusters files: what operators write, and what they are told when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.topology import Topology
from cluster.topology_file import (
    TopologyError,
    dump_topology_yaml,
    load_topology,
    load_topology_with_warnings,
)

DATA = Path(__file__).parent.parent / "data" / "clusters"
MALFORMED = DATA / "malformed"


def test_yaml_file_gives_the_networks_with_names_from_their_keys() -> None:
    topology = load_topology(DATA / "valid.yaml")
    assert list(topology.networks) == ["op-sepolia", "devnet"]
    sepolia = topology.networks["op-sepolia"]
    assert sepolia.name == "op-sepolia"
    assert [s.id for s in sepolia.sequencers] == ["seq-0", "seq-1", "seq-2"]
    assert sepolia.sequencers[2].conductor_rpc_url == "https://seq-2:8547"
    assert sepolia.sequencers[2].voting is True  # the default
    assert sepolia.requesters == ("@sequencer-oncall", "U01ABCDEF")
    assert sepolia.approvers == ("@sequencer-leads", "U02GHIJKL")
    assert sepolia.thresholds.max_lag_blocks == 10
    assert topology.networks["devnet"].alert_channel is None


def test_toml_file_of_op_conductor_ops_keeps_section_names_as_ids() -> None:
    loaded = load_topology_with_warnings(DATA / "valid.toml")
    net = loaded.topology.networks["op-sepolia"]
    assert [s.id for s in net.sequencers] == ["op-sepolia-seq-0", "op-sepolia-seq-1", "op-sepolia-seq-2"]
    assert [s.voting for s in net.sequencers] == [True, True, False]
    assert net.sequencers[1].raft_addr == "seq-1:50050"
    # Two voters: valid, but the operator is told an even count buys nothing.
    assert len(loaded.warnings) == 1
    assert "2 voters" in str(loaded.warnings[0])


def test_valid_file_has_no_warnings_with_odd_voters() -> None:
    assert load_topology_with_warnings(DATA / "valid.yaml").warnings == ()


# (file, location, words the message must contain, YAML line or None)
CASES = [
    ("syntax_error.yaml", "", "YAML syntax error", 5),
    ("no_networks.yaml", "networks", "no networks configured", 1),
    ("no_networks_key.yaml", "", "top-level `networks`", 1),
    ("unknown_key.yaml", "networks.net.alert_chanel", "unknown key 'alert_chanel'", 5),
    ("unknown_threshold.yaml", "networks.net.thresholds.max_lag_minutes", "unknown key 'max_lag_minutes'", 3),
    ("missing_field.yaml", "networks.net.sequencers[0].raft_addr", "missing required key 'raft_addr'", 4),
    ("duplicate_id.yaml", "networks.net.sequencers[1].id", "duplicate sequencer id 'seq-0'", 5),
    ("duplicate_raft_addr.yaml", "networks.net.sequencers[1].raft_addr", "duplicate raft address", 5),
    ("bad_scheme.yaml", "networks.net.sequencers[0].conductor_rpc_url", "must start with http://", 4),
    ("url_without_host.yaml", "networks.net.sequencers[0].conductor_rpc_url", "has no host", 4),
    (
        "bad_port_with_credentials.yaml",
        "networks.net.sequencers[0].conductor_rpc_url",
        "Port out of range",
        4,
    ),
    ("raft_port_out_of_range.yaml", "networks.net.sequencers[0].raft_addr", "expected 1-65535", 4),
    ("raft_no_port.yaml", "networks.net.sequencers[0].raft_addr", "is not host:port", 4),
    ("no_voter.yaml", "networks.net.sequencers", "no voter", 4),
    ("zero_approvals.yaml", "networks.net.approvals_required", "greater than or equal to 1", 3),
    ("wrong_type.yaml", "networks.net.sequencers[0].voting", "valid boolean (got 'yes')", 4),
    ("empty_sequencers.yaml", "networks.net.sequencers", "no sequencers", 3),
    ("not_utf8.yaml", "", "cannot read file", None),
    ("toml_syntax_error.toml", "", "TOML syntax error", None),
    ("toml_undefined_sequencer.toml", "networks.net.sequencers[1]", "no [sequencers.seq-1] table", None),
    ("toml_unknown_key.toml", "networks.net.sequencers[0].votes", "unknown key 'votes'", None),
]


@pytest.mark.parametrize(("name", "location", "words", "line"), CASES, ids=[c[0] for c in CASES])
def test_each_malformed_file_names_what_is_wrong_and_where(
    name: str, location: str, words: str, line: int | None
) -> None:
    with pytest.raises(TopologyError) as caught:
        load_topology(MALFORMED / name)
    problems = caught.value.problems
    match = [p for p in problems if p.location == location and words in p.message]
    assert match, f"no problem at {location!r} containing {words!r} in {[str(p) for p in problems]}"
    assert match[0].line == line
    assert match[0].file.endswith(name)
    # str() is one line per problem, each naming the file.
    text = str(caught.value)
    assert len(text.splitlines()) == len(problems)
    assert all(name in row for row in text.splitlines())
    assert "Traceback" not in text


def test_credentials_in_urls_never_appear_in_messages() -> None:
    with pytest.raises(TopologyError) as caught:
        load_topology(MALFORMED / "bad_port_with_credentials.yaml")
    text = str(caught.value)
    assert "hunter2" not in text and "admin" not in text
    assert "***@seq-0" in text


def test_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(TopologyError) as caught:
        load_topology(tmp_path / "nope.yaml")
    assert "cannot read file: No such file or directory" in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(
        "networks:\n"
        "  a:\n"
        "    sequencers:\n"
        '      - {id: x, raft_addr: "x", conductor_rpc_url: "ftp://x", node_rpc_url: "http://x:1"}\n'
        "  b:\n"
        "    sequencers:\n"
        '      - {id: y, raft_addr: "y:1", conductor_rpc_url: "http://y:1", node_rpc_url: "http://y:2",'
        " voting: false}\n"
    )
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    locations = {p.location for p in caught.value.problems}
    assert locations == {
        "networks.a.sequencers[0].raft_addr",
        "networks.a.sequencers[0].conductor_rpc_url",
        "networks.b.sequencers",
    }


def test_dumped_yaml_loads_back_to_the_same_topology(tmp_path: Path) -> None:
    original: Topology = load_topology(DATA / "valid.yaml")
    path = tmp_path / "clusters.yaml"
    path.write_text(dump_topology_yaml(original))
    assert load_topology(path) == original
