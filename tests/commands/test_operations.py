"""Operations are values that survive storage: they round-trip through JSON by their `kind`."""

from __future__ import annotations

import pydantic
import pytest

from commands import operations as ops

# How a stored request's operation is read back (a pydantic field of type Operation does the same).
OPERATIONS: pydantic.TypeAdapter[ops.Operation] = pydantic.TypeAdapter(ops.Operation)

ALL_KINDS: list[ops.Operation] = [
    ops.Pause(network="n"),
    ops.Resume(network="n", sequencer="s", force=True),
    ops.OverrideLeader(network="n", sequencer="s", clear=True),
    ops.AddVoter(network="n", sequencer="s"),
    ops.AddNonvoter(network="n", sequencer="s"),
    ops.RemoveServer(network="n", sequencer="s"),
    ops.TransferLeader(network="n"),
    ops.StopSequencer(network="n", sequencer="s"),
    ops.StartSequencer(network="n", sequencer="s", hash="0x" + "0f" * 32),
]


@pytest.mark.parametrize("op", ALL_KINDS, ids=lambda op: op.kind)
def test_operation_round_trips_through_json(op: ops.Operation) -> None:
    restored = OPERATIONS.validate_json(OPERATIONS.dump_json(op))
    assert restored == op
    assert type(restored) is type(op)


def test_operations_are_frozen_and_validated() -> None:
    op = ops.Pause(network="n")
    with pytest.raises(pydantic.ValidationError):
        op.network = "other"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        ops.StartSequencer(network="n", sequencer="s", hash="0xnothex")
    with pytest.raises(pydantic.ValidationError):
        OPERATIONS.validate_python({"kind": "reboot", "network": "n"})


def test_command_line_names_every_choice() -> None:
    assert ops.Pause(network="n").command == "pause n all"
    assert ops.Resume(network="n", sequencer="s", force=True).command == "resume n s --force"
    assert ops.OverrideLeader(network="n", sequencer="s", node=True).command == "override-leader n s --node"
    assert ops.TransferLeader(network="n").command == "transfer-leader n"
