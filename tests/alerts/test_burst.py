"""Burst grouping: three or more new alerts in one tick become one summary post."""

from __future__ import annotations

from alerts.burst import group_effects
from alerts.effects import Effect, PostAlert, PostSummary, ThreadReply, UpdateAlert
from tests.alerts.factories import NET


def test_two_new_alerts_stay_two_messages() -> None:
    effects: list[Effect] = [PostAlert(fingerprint="a"), PostAlert(fingerprint="b")]
    assert group_effects(NET, effects) == effects


def test_three_new_alerts_become_one_summary_and_other_effects_are_kept_in_order() -> None:
    reply = ThreadReply(fingerprint="old", kind="reminder", text="still firing")
    effects: list[Effect] = [
        UpdateAlert(fingerprint="old"),
        PostAlert(fingerprint="a"),
        reply,
        PostAlert(fingerprint="b"),
        PostAlert(fingerprint="c"),
    ]
    assert group_effects(NET, effects) == [
        UpdateAlert(fingerprint="old"),
        PostSummary(network=NET, fingerprints=("a", "b", "c")),
        reply,
    ]
