"""The alert Block Kit builders, compared with golden JSON files (regenerate: UPDATE_GOLDEN=1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alerts.blocks import AlertButtonValue, alert_blocks, alert_text, burst_summary_blocks, burst_summary_text
from alerts.ids import AlertAction
from alerts.model import AlertState, MessageRef
from alerts.texts import reminder_text, resolved_text
from tests.alerts.factories import NET, T0
from tests.fixtures.blocks_valid import assert_valid_message
from tests.fixtures.golden import assert_golden

GOLDEN = Path(__file__).parent / "golden"
NOW = T0 + 754


def _state(**changes: Any) -> AlertState:
    base: dict[str, Any] = {
        "fingerprint": f"{NET}/no_active",
        "rule": "no_active",
        "network": NET,
        "subject": "",
        "severity": "critical",
        "phase": "firing",
        "since": T0 + 10,
        "pending_since": T0,
        "fired_at": T0 + 10,
        "last_seen": NOW,
        "episode": 1,
        "post_requested_at": T0 + 10,
        "message": MessageRef(channel="C-ALERTS", ts="1.0"),
        "summary": "leader seq-0 has no active sequencer (none of 3 op-nodes is sequencing)",
        "details": {"nodes": 3},
    }
    base.update(changes)
    return AlertState(**base)


PAUSED = {
    "fingerprint": f"{NET}/conductor_inactive/seq-1",
    "rule": "conductor_inactive",
    "subject": "seq-1",
    "severity": "warning",
    "summary": "seq-1: conductor paused",
    "details": {"state": "paused"},
}

CASES: dict[str, Any] = {
    "alert_firing": lambda: alert_blocks(_state(), NOW),
    "alert_acked_silenced": lambda: alert_blocks(
        _state(**PAUSED, acked_by="U123", acked_at=T0 + 60, silenced_until=NOW + 7200, silenced_by="U9"), NOW
    ),
    "alert_silenced_until_resolved": lambda: alert_blocks(
        _state(**PAUSED, silenced_until="resolved", silenced_by="U9"), NOW
    ),
    "alert_resolved": lambda: alert_blocks(_state(phase="resolved", since=NOW, resolved_at=NOW), NOW),
    "burst_summary": lambda: burst_summary_blocks(
        NET,
        [
            _state(**PAUSED),
            _state(),
            _state(
                fingerprint=f"{NET}/lagging/seq-2",
                rule="lagging",
                subject="seq-2",
                severity="warning",
                phase="resolved",
                resolved_at=NOW,
                summary="seq-2: 20 blocks / 40s behind the best head #100 (max 10 blocks / 30s)",
            ),
        ],
        NOW,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_blocks_match_golden(name: str) -> None:
    blocks = CASES[name]()
    assert_valid_message(name, blocks)
    assert_golden(GOLDEN, name, blocks)


def test_firing_alert_buttons_carry_only_network_and_fingerprint() -> None:
    actions = alert_blocks(_state(), NOW)[-1]
    assert [e["action_id"] for e in actions["elements"]] == [
        AlertAction.ACKNOWLEDGE,
        AlertAction.SILENCE_30M,
        AlertAction.SILENCE_2H,
        AlertAction.SILENCE_UNTIL_RESOLVED,
        AlertAction.TIMELINE,
    ]
    for element in actions["elements"]:
        assert AlertButtonValue.model_validate_json(element["value"]) == AlertButtonValue(
            network=NET, fingerprint=f"{NET}/no_active"
        )


def test_resolved_alert_keeps_only_the_timeline_button_and_says_how_long_it_lasted() -> None:
    blocks = alert_blocks(_state(phase="resolved", resolved_at=NOW), NOW)
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [AlertAction.TIMELINE]
    assert "*Resolved*" in blocks[1]["text"]["text"] and "after 12m" in blocks[1]["text"]["text"]


def test_fallback_text_names_network_rule_and_state() -> None:
    assert alert_text(_state()) == (
        ":rotating_light: [op-test] Leader without an active sequencer (firing): "
        "leader seq-0 has no active sequencer (none of 3 op-nodes is sequencing)"
    )


def test_huge_burst_stays_within_slack_limits() -> None:
    states = [
        _state(fingerprint=f"{NET}/lagging/seq-{i}", rule="lagging", subject=f"seq-{i}", summary="x" * 500)
        for i in range(400)
    ]
    blocks = burst_summary_blocks(NET, states, NOW)
    assert len(blocks) <= 50
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(t) <= 3000 for t in sections)
    assert sections[-1].startswith("…and ") and sections[-1].endswith(" more alerts")
    shown = sum(t.count("\n") + 1 for t in sections[:-1])
    assert shown + int(sections[-1].split()[1]) == 400


def test_long_summary_and_many_details_are_clipped() -> None:
    state = _state(summary="y" * 5000, details={f"k{i}": i for i in range(15)})
    blocks = alert_blocks(state, NOW)
    assert len(blocks[1]["text"]["text"]) == 3000
    assert len(blocks[2]["fields"]) == 10


def test_details_are_labelled_in_words_not_field_names() -> None:
    state = _state(
        rule="multiple_active",
        details={"active": 2, "stepping_down": "seq-0", "lag_seconds": 95.0, "best_number": 1200},
    )
    [fields] = [b["fields"] for b in alert_blocks(state, NOW) if b.get("block_id") == "alert_details"]
    assert [f["text"] for f in fields] == [
        "*Active sequencers*\n2",
        "*Stepping down*\nseq-0",
        "*Time behind*\n1m",
        "*Best unsafe head*\n#1200",
    ]


def test_a_node_quoted_in_an_alert_cannot_ping_the_channel_or_fake_a_link() -> None:
    evil = "seq-1: conductor unreachable: <!channel> <http://x|docs> & co"
    state = _state(summary=evil, details={"conductor": "<!here>"})
    shown = str(alert_blocks(state, NOW)) + alert_text(state) + reminder_text(state, NOW)
    shown += resolved_text(state, NOW) + str(burst_summary_blocks(NET, [state, _state()], NOW))
    assert "<!channel>" not in shown and "<http" not in shown and "<!here>" not in shown
    assert "&lt;!channel&gt; &lt;http://x|docs&gt; &amp; co" in shown


def test_a_burst_with_nothing_left_firing_says_all_resolved() -> None:
    resolved = _state(phase="resolved", resolved_at=NOW)
    assert burst_summary_text(NET, [resolved, resolved]) == (
        ":white_check_mark: [op-test] 2 alerts started together, all resolved"
    )
    assert burst_summary_text(NET, [_state(), resolved]) == (
        ":rotating_light: [op-test] 2 alerts started together, 1 still firing"
    )
