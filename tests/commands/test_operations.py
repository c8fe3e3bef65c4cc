"""Operations are values that survive storage: they round-trip through JSON by their `kind`."""

from __future__ import annotations

import pydantic
import pytest

from commands.operations import (
    AddNonvoter,
    AddVoter,
    Operation,
    OverrideLeader,
    Pause,
    RemoveServer,
    Resume,
    StartSequencer,
    StopSequencer,
    TransferLeader,
)

# How a stored request's operation is read back (a pydantic field of type Operation does the same).
OPERATIONS: pydantic.TypeAdapter[Operation] = pydantic.TypeAdapter(Operation)

ALL_KINDS: list[Operation] = [
    Pause(network="n"),
    Resume(network="n", sequencer="s", force=True),
    OverrideLeader(network="n", sequencer="s", clear=True),
    AddVoter(network="n", sequencer="s"),
    AddNonvoter(network="n", sequencer="s"),
    RemoveServer(network="n", sequencer="s"),
    TransferLeader(network="n"),
    StopSequencer(network="n", sequencer="s"),
    StartSequencer(network="n", sequencer="s", hash="0x" + "0f" * 32),
]


@pytest.mark.parametrize("op", ALL_KINDS, ids=lambda op: op.kind)
def test_operation_round_trips_through_json(op: Operation) -> None:
    restored = OPERATIONS.validate_json(OPERATIONS.dump_json(op))
    assert restored == op
    assert type(restored) is type(op)


def test_operations_are_frozen_and_validated() -> None:
    op = Pause(network="n")
    with pytest.raises(pydantic.ValidationError):
        op.network = "other"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        StartSequencer(network="n", sequencer="s", hash="0xnothex")
    with pytest.raises(pydantic.ValidationError):
        OPERATIONS.validate_python({"kind": "reboot", "network": "n"})


def test_command_line_names_every_choice() -> None:
    assert Pause(network="n").command == "pause n all"
    assert Resume(network="n", sequencer="s", force=True).command == "resume n s --force"
    assert OverrideLeader(network="n", sequencer="s", node=True).command == "override-leader n s --node"
    assert TransferLeader(network="n").command == "transfer-leader n"
