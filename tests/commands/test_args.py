"""Parsing the mutating verbs: every verb, every error a user can make."""

from __future__ import annotations

import pytest

from chat.errors import UsageError
from cluster.topology import NetworkSpec, SequencerSpec, Topology
from commands import operations as ops
from commands.args import OPERATION_VERBS, parse_operation

HASH = "0x" + "ab" * 32


def _seq(n: int) -> SequencerSpec:
    return SequencerSpec(
        id=f"seq-{n}",
        raft_addr=f"seq-{n}-raft:50050",
        conductor_rpc_url=f"http://seq-{n}:8547",
        node_rpc_url=f"http://seq-{n}:9545",
    )


TOPOLOGY = Topology(
    networks={
        "op-test": NetworkSpec(name="op-test", sequencers=(_seq(1), _seq(2), _seq(3))),
        "op-dev": NetworkSpec(name="op-dev", sequencers=(_seq(1),)),
    }
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("pause op-test", ops.Pause(network="op-test")),
        ("pause op-test all", ops.Pause(network="op-test")),
        ("pause op-test seq-2", ops.Pause(network="op-test", sequencer="seq-2")),
        ("resume op-test", ops.Resume(network="op-test")),
        ("resume op-test seq-2 --force", ops.Resume(network="op-test", sequencer="seq-2", force=True)),
        ("override-leader op-test seq-2", ops.OverrideLeader(network="op-test", sequencer="seq-2")),
        (
            "override-leader op-test seq-2 --clear",
            ops.OverrideLeader(network="op-test", sequencer="seq-2", clear=True),
        ),
        (
            "override-leader op-test --node seq-2",
            ops.OverrideLeader(network="op-test", sequencer="seq-2", node=True),
        ),
        ("add-voter op-test seq-3", ops.AddVoter(network="op-test", sequencer="seq-3")),
        ("add-nonvoter op-test seq-3", ops.AddNonvoter(network="op-test", sequencer="seq-3")),
        ("remove-server op-test seq-3", ops.RemoveServer(network="op-test", sequencer="seq-3")),
        ("transfer-leader op-test", ops.TransferLeader(network="op-test")),
        (
            "transfer-leader op-test seq-2 --force",
            ops.TransferLeader(network="op-test", sequencer="seq-2", force=True),
        ),
        ("stop-sequencer op-test seq-1", ops.StopSequencer(network="op-test", sequencer="seq-1")),
        ("start-sequencer op-test seq-2", ops.StartSequencer(network="op-test", sequencer="seq-2")),
        (
            f"start-sequencer op-test seq-2 --hash {HASH}",
            ops.StartSequencer(network="op-test", sequencer="seq-2", hash=HASH),
        ),
        (
            f"start-sequencer op-test --hash={HASH} seq-2",
            ops.StartSequencer(network="op-test", sequencer="seq-2", hash=HASH),
        ),
    ],
)
def test_every_verb_parses_to_its_operation(line: str, expected: ops.Operation) -> None:
    verb, *args = line.split()
    op = parse_operation(verb, args, TOPOLOGY)
    assert op == expected
    # The command shown to approvers parses back to the same operation.
    verb2, *args2 = op.command.split()
    assert parse_operation(verb2, args2, TOPOLOGY) == op


def test_every_listed_verb_has_a_parser() -> None:
    for verb in OPERATION_VERBS:
        with pytest.raises(UsageError) as err:
            parse_operation(verb, [], TOPOLOGY)
        assert "unknown operation" not in str(err.value)


@pytest.mark.parametrize(
    ("line", "fragments"),
    [
        ("reboot op-test", ["unknown operation `reboot`", "pause", "start-sequencer"]),
        ("pause op-nowhere", ["unknown network `op-nowhere`", "op-dev, op-test"]),
        ("pause op-test seq-9", ["unknown sequencer `seq-9` in op-test", "seq-1, seq-2, seq-3"]),
        ("add-voter op-dev seq-2", ["unknown sequencer `seq-2` in op-dev", "seq-1"]),
        ("pause op-test se$q", ["`se$q` is not a valid sequencer id"]),
        ("pause op/test", ["`op/test` is not a valid network name"]),
        ("pause", ["pause takes 1 to 2 arguments, got 0", "Usage: `pause NETWORK [SEQUENCER|all]`"]),
        ("add-voter op-test", ["add-voter takes 2 arguments, got 1", "add-voter NETWORK SEQUENCER"]),
        ("remove-server op-test seq-1 seq-2", ["remove-server takes 2 arguments, got 3"]),
        ("transfer-leader op-test all", ["unknown sequencer `all`"]),
        ("pause op-test --now", ["unknown flag `--now` for pause", "accepted: --force"]),
        ("add-voter op-test seq-2 --clear", ["unknown flag `--clear` for add-voter"]),
        (
            "pause op-test --force",
            ["`--force` is not accepted for pause", "resume, start-sequencer, transfer-leader"],
        ),
        ("add-voter op-test seq-2 --force", ["`--force` is not accepted for add-voter"]),
        ("override-leader op-test seq-2 --clear --node", ["cleared by restarting op-node"]),
        ("override-leader op-test seq-2 --clear=yes", ["flag `--clear` takes no value"]),
        ("start-sequencer op-test seq-2 --hash", ["`--hash` needs a 0x-prefixed 32-byte hex block hash"]),
        ("start-sequencer op-test seq-2 --hash 0x1234", ["got `0x1234`"]),
    ],
)
def test_mistakes_are_explained(line: str, fragments: list[str]) -> None:
    verb, *args = line.split()
    with pytest.raises(UsageError) as err:
        parse_operation(verb, args, TOPOLOGY)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert str(err.value) == str(err.value)


def test_empty_topology_says_none_configured() -> None:
    with pytest.raises(UsageError, match="known networks: none configured"):
        parse_operation("pause", ["op-test"], Topology(networks={}))


@pytest.mark.parametrize("args", [["x" * 5000], ["op-test", "s" * 5000], ["op-test", "--" + "f" * 5000]])
def test_an_absurdly_long_word_is_not_echoed_back_whole(args: list[str]) -> None:
    with pytest.raises(UsageError) as raised:
        parse_operation("pause", args, TOPOLOGY)
    assert len(str(raised.value)) < 400
