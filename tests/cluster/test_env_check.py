"""`check_env`: each runbook rule, broken once in the shipped 3-node example, gives its message at its line.

Every case starts from `examples/env` (a correct formed 3-node cluster, which must pass), changes one
thing an operator could get wrong, and expects one problem naming the file, the line and the fix.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from cluster.env_check import EnvCheckOptions, EnvReport, check_env
from cluster.env_file import load_node_envs
from cluster.topology_file import load_topology

EXAMPLE = Path(__file__).parents[2] / "examples" / "env"
C, N = "op-conductor.env", "op-node.env"


@dataclass(frozen=True)
class Case:
    """One runbook rule broken: `edits` are (node, file, KEY, new line or None to drop it)."""

    rule: str
    edits: tuple[tuple[str, str, str, str | None], ...]
    # Where the problem must point (node, file, the key whose line it is, or None when it has no line)
    at: tuple[str, str, str | None]
    says: str
    new_cluster: bool = False
    standby: tuple[str, ...] = field(default=())


CASES = [
    Case(
        "required op-conductor variable missing",
        (("seq-0", C, "OP_CONDUCTOR_RAFT_STORAGE_DIR", None),),
        ("seq-0", C, None),
        "OP_CONDUCTOR_RAFT_STORAGE_DIR: OP_CONDUCTOR_RAFT_STORAGE_DIR is not set",
    ),
    Case(
        "required op-node variable missing",
        (("seq-1", N, "OP_NODE_CONDUCTOR_ENABLED", None),),
        ("seq-1", N, None),
        "OP_NODE_CONDUCTOR_ENABLED is not set",
    ),
    Case(
        "op-node not conductor-enabled",
        (("seq-1", N, "OP_NODE_CONDUCTOR_ENABLED", "OP_NODE_CONDUCTOR_ENABLED=false"),),
        ("seq-1", N, "OP_NODE_CONDUCTOR_ENABLED"),
        "op-node sequences without asking its conductor",
    ),
    Case(
        "conductor enabled without its RPC",
        (("seq-2", N, "OP_NODE_CONDUCTOR_RPC", None),),
        ("seq-2", N, "OP_NODE_CONDUCTOR_ENABLED"),
        "OP_NODE_CONDUCTOR_ENABLED=true without OP_NODE_CONDUCTOR_RPC",
    ),
    Case(
        "op-node pointing at another node's conductor",
        (("seq-0", N, "OP_NODE_CONDUCTOR_RPC", "OP_NODE_CONDUCTOR_RPC=http://seq-1:8547"),),
        ("seq-0", N, "OP_NODE_CONDUCTOR_RPC"),
        "http://seq-1:8547 is seq-1's conductor, not seq-0's",
    ),
    Case(
        "conductor pointing at another node's op-node",
        (("seq-0", C, "OP_CONDUCTOR_NODE_RPC", "OP_CONDUCTOR_NODE_RPC=http://seq-2-op-node:9545"),),
        ("seq-0", C, "OP_CONDUCTOR_NODE_RPC"),
        "is seq-2's op-node, not seq-0's",
    ),
    Case(
        "OP_CONDUCTOR_NETWORK differs from OP_NODE_NETWORK",
        (("seq-1", C, "OP_CONDUCTOR_NETWORK", "OP_CONDUCTOR_NETWORK=op-mainnet"),),
        ("seq-1", C, "OP_CONDUCTOR_NETWORK"),
        "OP_CONDUCTOR_NETWORK=op-mainnet but OP_NODE_NETWORK=op-sepolia",
    ),
    Case(
        "one node on another chain",
        (
            ("seq-2", C, "OP_CONDUCTOR_NETWORK", "OP_CONDUCTOR_NETWORK=op-mainnet"),
            ("seq-2", N, "OP_NODE_NETWORK", "OP_NODE_NETWORK=op-mainnet"),
        ),
        ("seq-2", C, "OP_CONDUCTOR_NETWORK"),
        "OP_CONDUCTOR_NETWORK=op-mainnet but the other nodes say op-sepolia",
    ),
    Case(
        "bootstrap on more than one node",
        (
            ("seq-0", C, "OP_CONDUCTOR_RAFT_BOOTSTRAP", "OP_CONDUCTOR_RAFT_BOOTSTRAP=true"),
            ("seq-1", C, "OP_CONDUCTOR_RAFT_BOOTSTRAP", "OP_CONDUCTOR_RAFT_BOOTSTRAP=true"),
        ),
        ("seq-1", C, "OP_CONDUCTOR_RAFT_BOOTSTRAP"),
        "OP_CONDUCTOR_RAFT_BOOTSTRAP=true on 2 nodes (seq-0, seq-1)",
        new_cluster=True,
    ),
    Case(
        "bootstrap still true on a formed cluster",
        (("seq-0", C, "OP_CONDUCTOR_RAFT_BOOTSTRAP", "OP_CONDUCTOR_RAFT_BOOTSTRAP=True"),),
        ("seq-0", C, "OP_CONDUCTOR_RAFT_BOOTSTRAP"),
        "still true on a node of a formed cluster",
    ),
    Case(
        "a new cluster with no bootstrapping node",
        (),
        ("seq-0", C, "OP_CONDUCTOR_RAFT_BOOTSTRAP"),
        "no node bootstraps the new cluster",
        new_cluster=True,
    ),
    Case(
        "a joining node bootstraps",
        (("seq-2", C, "OP_CONDUCTOR_RAFT_BOOTSTRAP", "OP_CONDUCTOR_RAFT_BOOTSTRAP=1"),),
        ("seq-2", C, "OP_CONDUCTOR_RAFT_BOOTSTRAP"),
        "OP_CONDUCTOR_RAFT_BOOTSTRAP=true on seq-2, a node joining the cluster",
        standby=("seq-2",),
    ),
    Case(
        "a new node not paused",
        (("seq-2", C, "OP_CONDUCTOR_PAUSED", "OP_CONDUCTOR_PAUSED=false"),),
        ("seq-2", C, "OP_CONDUCTOR_PAUSED"),
        "OP_CONDUCTOR_PAUSED is not true on a new node",
        standby=("seq-2",),
    ),
    Case(
        "a redeployed node not paused",
        (("seq-1", C, "OP_CONDUCTOR_PAUSED", None),),
        ("seq-1", C, None),
        "OP_CONDUCTOR_PAUSED is not true on a redeployed node",
    ),
    Case(
        "consensus port not the raft_addr's",
        (("seq-0", C, "OP_CONDUCTOR_CONSENSUS_PORT", "OP_CONDUCTOR_CONSENSUS_PORT=50051"),),
        ("seq-0", C, "OP_CONDUCTOR_CONSENSUS_PORT"),
        "consensus port 50051 is not the port of the clusters file's raft_addr seq-0:50050",
    ),
    Case(
        "consensus address peers cannot dial",
        (("seq-1", C, "OP_CONDUCTOR_CONSENSUS_ADDR", "OP_CONDUCTOR_CONSENSUS_ADDR=127.0.0.1"),),
        ("seq-1", C, "OP_CONDUCTOR_CONSENSUS_ADDR"),
        "raft advertises 127.0.0.1, which its peers cannot dial",
    ),
    Case(
        "server id not the clusters file's id",
        (("seq-0", C, "OP_CONDUCTOR_RAFT_SERVER_ID", "OP_CONDUCTOR_RAFT_SERVER_ID=sequencer-0"),),
        ("seq-0", C, "OP_CONDUCTOR_RAFT_SERVER_ID"),
        "server id 'sequencer-0' is not the clusters file's id 'seq-0'",
    ),
    Case(
        "duplicate server ids",
        (("seq-2", C, "OP_CONDUCTOR_RAFT_SERVER_ID", "OP_CONDUCTOR_RAFT_SERVER_ID=seq-1"),),
        ("seq-1", C, "OP_CONDUCTOR_RAFT_SERVER_ID"),
        "server id 'seq-1' is also seq-2's",
    ),
    Case(
        "unsafe interval below the block time",
        (
            (
                "seq-0",
                C,
                "OP_CONDUCTOR_HEALTHCHECK_UNSAFE_INTERVAL",
                "OP_CONDUCTOR_HEALTHCHECK_UNSAFE_INTERVAL=1",
            ),
        ),
        ("seq-0", C, "OP_CONDUCTOR_HEALTHCHECK_UNSAFE_INTERVAL"),
        "unsafe interval 1s is below the 2s block time",
    ),
    Case(
        "min peer count above what op-node keeps",
        (
            (
                "seq-1",
                C,
                "OP_CONDUCTOR_HEALTHCHECK_MIN_PEER_COUNT",
                "OP_CONDUCTOR_HEALTHCHECK_MIN_PEER_COUNT=40",
            ),
        ),
        ("seq-1", C, "OP_CONDUCTOR_HEALTHCHECK_MIN_PEER_COUNT"),
        "min peer count 40 is above the 30 peers op-node keeps (OP_NODE_P2P_PEERS_HI at ",
    ),
    Case(
        "min peer count with op-node's p2p disabled",
        (("seq-2", N, "OP_NODE_P2P_DISABLE", "OP_NODE_P2P_DISABLE=true"),),
        ("seq-2", C, "OP_CONDUCTOR_HEALTHCHECK_MIN_PEER_COUNT"),
        "min peer count 2 but op-node has p2p disabled",
    ),
    Case(
        "health-check interval zero",
        (("seq-0", C, "OP_CONDUCTOR_HEALTHCHECK_INTERVAL", "OP_CONDUCTOR_HEALTHCHECK_INTERVAL=0"),),
        ("seq-0", C, "OP_CONDUCTOR_HEALTHCHECK_INTERVAL"),
        "health-check interval 0: op-conductor refuses to start",
    ),
    Case(
        "a boolean op-conductor cannot read",
        (("seq-1", C, "OP_CONDUCTOR_PAUSED", "OP_CONDUCTOR_PAUSED=yes"),),
        ("seq-1", C, "OP_CONDUCTOR_PAUSED"),
        "'yes' is not a boolean",
    ),
    Case(
        "op-node not sequencing",
        (("seq-0", N, "OP_NODE_SEQUENCER_ENABLED", "OP_NODE_SEQUENCER_ENABLED=false"),),
        ("seq-0", N, "OP_NODE_SEQUENCER_ENABLED"),
        "OP_NODE_SEQUENCER_ENABLED is false",
    ),
    Case(
        "a misspelt variable op-conductor ignores",
        (
            (
                "seq-0",
                C,
                "OP_CONDUCTOR_HEALTHCHECK_INTERVAL",
                "OP_CONDUCTOR_HEALTHCHECK_INTERVALS=1",
            ),
        ),
        ("seq-0", C, "OP_CONDUCTOR_HEALTHCHECK_INTERVALS"),
        "did you mean OP_CONDUCTOR_HEALTHCHECK_INTERVAL?",
    ),
    Case(
        "the runbook's RAFT_SERVER_ID_PREFIX in place of the server id",
        (("seq-1", C, "OP_CONDUCTOR_RAFT_SERVER_ID", "RAFT_SERVER_ID_PREFIX=seq-1"),),
        ("seq-1", C, None),
        "RAFT_SERVER_ID_PREFIX is only a template",
    ),
    Case(
        "a line that is not KEY=VALUE",
        (("seq-2", C, "OP_CONDUCTOR_RPC_ADDR", "OP_CONDUCTOR_RPC_ADDR 0.0.0.0"),),
        ("seq-2", C, "OP_CONDUCTOR_RPC_ADDR"),
        "not KEY=VALUE: 'OP_CONDUCTOR_RPC_ADDR 0.0.0.0'",
    ),
]


def edited_example(tmp_path: Path, case: Case) -> Path:
    root = tmp_path / "env"
    shutil.copytree(EXAMPLE, root)
    for node, name, key, new in case.edits:
        path = root / node / name
        lines = path.read_text().splitlines()
        at = next((i for i, line in enumerate(lines) if line.startswith(f"{key}=")), None)
        if at is None:
            lines.append(new or "")
        elif new is None:
            del lines[at]
        else:
            lines[at] = new
        path.write_text("\n".join(lines) + "\n")
    if case.standby:
        clusters = root / "clusters.yml"
        doc = yaml.safe_load(clusters.read_text())
        for seq in doc["networks"]["op-sepolia"]["sequencers"]:
            seq["standby"] = seq["id"] in case.standby
        clusters.write_text(yaml.safe_dump(doc))
    return root


def check(root: Path, new_cluster: bool = False) -> EnvReport:
    network = load_topology(root / "clusters.yml").networks["op-sepolia"]
    found = load_node_envs([root])
    assert not found.problems
    return check_env(found.nodes, network, EnvCheckOptions(new_cluster=new_cluster))


def line_of(path: Path, key: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(key))


def test_the_shipped_example_of_a_formed_3_node_cluster_passes() -> None:
    report = check(EXAMPLE)
    assert report.problems == () and report.warnings == ()


def test_there_are_at_least_15_cases_each_a_different_rule() -> None:
    assert len({case.rule for case in CASES}) == len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_each_broken_rule_is_reported_at_its_file_and_line(tmp_path: Path, case: Case) -> None:
    root = edited_example(tmp_path, case)
    report = check(root, case.new_cluster)
    node, name, key = case.at
    path = root / node / name
    where = f"{path}:{line_of(path, key)}: " if key else f"{path}: "
    shown = [str(p) for p in report.problems]
    assert any(s.startswith(where) and case.says in s and "(hint: " in s for s in shown), shown


def test_a_new_cluster_bootstrapped_by_one_paused_node_passes(tmp_path: Path) -> None:
    case = Case(
        "bootstrap",
        (("seq-0", C, "OP_CONDUCTOR_RAFT_BOOTSTRAP", "OP_CONDUCTOR_RAFT_BOOTSTRAP=true"),),
        ("seq-0", C, None),
        "",
    )
    report = check(edited_example(tmp_path, case), new_cluster=True)
    assert report.problems == ()


def test_a_longer_block_time_makes_a_short_unsafe_interval_fail(tmp_path: Path) -> None:
    root = edited_example(tmp_path, Case("none", (), ("seq-0", C, None), ""))
    network = load_topology(root / "clusters.yml").networks["op-sepolia"]
    found = load_node_envs([root])
    report = check_env(found.nodes, network, EnvCheckOptions(block_time=12))
    unsafe = [str(p) for p in report.problems if "UNSAFE_INTERVAL" in str(p)]
    assert len(unsafe) == 3 and "below the 12s block time" in unsafe[0]


def test_a_node_without_files_is_a_warning_and_one_not_in_the_clusters_file_a_problem(tmp_path: Path) -> None:
    root = edited_example(tmp_path, Case("none", (), ("seq-0", C, None), ""))
    (root / "seq-2").rename(root / "seq-9")
    report = check(root)
    assert any("node 'seq-9' is not a sequencer of op-sepolia" in str(p) for p in report.problems)
    assert any("no env files for seq-2: not checked" in str(w) for w in report.warnings)
