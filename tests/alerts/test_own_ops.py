"""Pure rules of own-operation attribution, burst grouping per destination and leader change chains."""

from __future__ import annotations

from alerts.burst import group_effects
from alerts.effects import Effect, PostAlert, PostSummary, UpdateAlert
from alerts.leader_events import extend
from alerts.model import LeaderChange, OperationCause
from alerts.own_ops import SETTLE_SECONDS, cause_of
from commands.operations import Pause, StopSequencer, TransferLeader
from commands.own_operation import OperationWindow, expected_conditions

NET = "op-test"
T0 = 1_700_000_000.0


def window(
    operation: Pause | TransferLeader | StopSequencer, finished_at: float | None = None
) -> OperationWindow:
    return OperationWindow(
        request_id="r1",
        network=NET,
        command=operation.command,
        requester="UREQ",
        channel="CREQ",
        ts="1.000001",
        started_at=T0,
        finished_at=finished_at,
        expected=expected_conditions(operation),
    )


def test_a_pause_explains_paused_conductors_only_where_it_paused_and_only_then() -> None:
    one = window(Pause(network=NET, sequencer="seq-1"), finished_at=T0 + 10)
    cause = cause_of(one, "conductor_inactive", "seq-1", T0 + 5)
    assert cause is not None and (cause.request_id, cause.channel, cause.ts) == ("r1", "CREQ", "1.000001")
    assert cause_of(one, "conductor_inactive", "seq-2", T0 + 5) is None  # not the paused one
    assert cause_of(one, "node_unreachable", "seq-1", T0 + 5) is None  # not what a pause does
    assert cause_of(one, "conductor_inactive", "seq-1", T0 - 60) is None  # it was paused before
    assert cause_of(one, "conductor_inactive", "seq-1", T0 + 10 + SETTLE_SECONDS) is not None
    assert cause_of(one, "conductor_inactive", "seq-1", T0 + 11 + SETTLE_SECONDS) is None
    every = window(Pause(network=NET))
    assert all(cause_of(every, "conductor_inactive", s, T0 + 1) for s in ("seq-0", "seq-1", "seq-2"))


def test_only_what_the_plan_does_by_design_is_expected() -> None:
    transfer = window(TransferLeader(network=NET, sequencer="seq-1"))
    assert cause_of(transfer, "leader_changed", "", T0 + 1) is not None
    for dangerous in ("multiple_leaders", "multiple_active", "no_leader", "all_unreachable"):
        assert cause_of(transfer, dangerous, "", T0 + 1) is None
    halt = window(StopSequencer(network=NET, sequencer="seq-0"))
    # A halted chain fails every conductor's health check (the unsafe head stops): expected too.
    assert {e.condition for e in halt.expected} == {"no_active", "chain_stalled", "node_unhealthy"}


def test_a_burst_is_folded_per_destination() -> None:
    caused = [f"{NET}/conductor_inactive/seq-{i}" for i in range(3)]
    other = f"{NET}/node_unreachable/seq-2"
    effects: list[Effect] = [PostAlert(fingerprint=fp) for fp in (caused[0], other, caused[1], caused[2])]
    effects.append(UpdateAlert(fingerprint=other))
    grouped = group_effects(NET, effects, thread_of=lambda fp: "r1" if fp in caused else None)
    assert grouped == [
        PostSummary(network=NET, fingerprints=tuple(caused)),
        PostAlert(fingerprint=other),
        UpdateAlert(fingerprint=other),
    ]


def test_a_leader_chain_grows_within_the_window_and_restarts_after_it() -> None:
    first, new = extend(None, LeaderChange(at=T0, before="seq-0", after="seq-1"), NET, 300, None)
    assert new and first.leaders == ["seq-0", "seq-1"]
    second, new = extend(first, LeaderChange(at=T0 + 20, before="seq-1", after="seq-2"), NET, 300, None)
    assert not new and second.message == first.message
    assert second.leaders == ["seq-0", "seq-1", "seq-2"]
    # A change the watcher missed (its memory expired) still shows both ends of the gap.
    gap, _ = extend(second, LeaderChange(at=T0 + 40, before="seq-0", after="seq-1"), NET, 300, None)
    assert gap.leaders == ["seq-0", "seq-1", "seq-2", "seq-0", "seq-1"]
    later, new = extend(second, LeaderChange(at=T0 + 321, before="seq-2", after="seq-0"), NET, 300, None)
    assert new and later.message != first.message and later.leaders == ["seq-2", "seq-0"]
    cause = OperationCause(request_id="r1", command="transfer-leader", requester="U", channel="C", ts="1.1")
    caused, new = extend(second, LeaderChange(at=T0 + 30, before="seq-2", after="seq-0"), NET, 300, cause)
    assert new and caused.cause == cause  # a request's change is never mixed into another chain
