"""Stories of the alert state machine, driven through the real rules from hand-made node answers."""

from __future__ import annotations

import pytest

from alerts.catalog import RULES
from alerts.effects import PostAlert, ThreadReply, UpdateAlert
from alerts.model import AlertState, Condition
from alerts.observations import Acknowledge, Cleared, Seen, Silence, Unsilence
from alerts.state import observe_network, transition
from cluster.snapshot import NodeStatus
from tests.alerts.factories import NET, T0, healthy_nodes, replace
from tests.alerts.harness import Pipeline

NO_ACTIVE = f"{NET}/no_active"
PAUSED_1 = f"{NET}/conductor_inactive/seq-1"


def at(now: float, leader_id: str = "seq-0") -> list[NodeStatus]:
    """A healthy cluster at `now`, producing one block every 2 s."""
    return healthy_nodes(head=100 + int((now - T0) // 2), now=now, leader_id=leader_id)


def no_active(now: float) -> list[NodeStatus]:
    return replace(at(now), "seq-0", sequencer_active=False)


def paused(now: float) -> list[NodeStatus]:
    return replace(at(now), "seq-1", paused=True)


def test_story_pending_firing_reminders_ack_flap_and_resolve_with_a_restart() -> None:
    p = Pipeline()
    assert p.tick(at(T0), T0) == []
    # Seen, but a leader without an active sequencer must hold 10 s before anyone is paged.
    assert p.tick(no_active(T0 + 2), T0 + 2) == []
    assert p.states[NO_ACTIVE].phase == "pending"
    assert p.tick(no_active(T0 + 8), T0 + 8) == []
    assert p.tick(no_active(T0 + 12), T0 + 12) == [PostAlert(fingerprint=NO_ACTIVE)]
    fired = p.states[NO_ACTIVE]
    assert (fired.phase, fired.episode, fired.last_transition) == ("firing", 1, "pending_to_firing")
    assert fired.message is not None and fired.message.ts == "1.0"

    # A restart (or another replica taking over) continues from the stored JSON: no second post.
    p.restart()
    assert p.tick(no_active(T0 + 14), T0 + 14) == []

    # Critical alerts remind in the thread every 15 minutes until acknowledged.
    assert p.tick(no_active(T0 + 12 + 899), T0 + 12 + 899) == []
    reminder = p.tick(no_active(T0 + 12 + 900), T0 + 12 + 900)
    assert reminder == [
        ThreadReply(
            fingerprint=NO_ACTIVE,
            kind="reminder",
            text=":rotating_light: Still firing after 15m: "
            "leader seq-0 has no active sequencer (none of 3 op-nodes is sequencing)",
            episode=1,
        )
    ]
    ack = p.act(NO_ACTIVE, Acknowledge(user="U123"), T0 + 1000)
    assert [type(e) for e in ack] == [UpdateAlert, ThreadReply]
    assert p.states[NO_ACTIVE].acked_by == "U123"
    assert p.tick(no_active(T0 + 12 + 1800), T0 + 12 + 1800) == []

    # Flapping: it clears for a tick and comes back — still the same alert, nothing new in Slack.
    t = T0 + 2000.0
    assert p.tick(at(t), t) == []
    assert p.tick(no_active(t + 2), t + 2) == []
    assert p.states[NO_ACTIVE].phase == "firing"
    # Cleared for good: resolved once it was gone for 2 ticks and 20 s.
    for dt in (4, 6, 10, 20):
        assert p.tick(at(t + dt), t + dt) == []
    resolved = p.tick(at(t + 22), t + 22)
    assert resolved == [
        UpdateAlert(fingerprint=NO_ACTIVE),
        ThreadReply(
            fingerprint=NO_ACTIVE,
            kind="resolved",
            text=":white_check_mark: Resolved after 33m. Last seen: "
            "leader seq-0 has no active sequencer (none of 3 op-nodes is sequencing)",
            episode=1,
        ),
    ]
    assert p.posts == [NO_ACTIVE]
    assert p.tick(at(t + 24), t + 24) == []


def test_a_condition_gone_before_its_for_duration_is_never_notified() -> None:
    p = Pipeline()
    p.tick(at(T0), T0)
    p.tick(no_active(T0 + 2), T0 + 2)
    p.tick(no_active(T0 + 4), T0 + 4)
    for dt in range(6, 40, 2):
        assert p.tick(at(T0 + dt), T0 + dt) == []
    assert p.states[NO_ACTIVE].phase == "inactive"
    assert p.posts == [] and p.replies == []


def test_a_new_episode_after_resolution_is_a_new_message() -> None:
    p = Pipeline()
    p.tick(paused(T0), T0)
    for dt in (2, 4, 30):
        p.tick(at(T0 + dt), T0 + dt)
    assert p.states[PAUSED_1].phase == "resolved"
    assert p.tick(paused(T0 + 100), T0 + 100) == [PostAlert(fingerprint=PAUSED_1)]
    assert p.states[PAUSED_1].episode == 2
    message = p.states[PAUSED_1].message
    assert message is not None and message.ts == "2.0"


def test_silence_until_resolved_mutes_reminders_and_the_resolved_reply() -> None:
    p = Pipeline()
    assert p.tick(paused(T0), T0) == [PostAlert(fingerprint=PAUSED_1)]
    effects = p.act(PAUSED_1, Silence(user="U9", until="resolved"), T0 + 5)
    assert effects[1] == ThreadReply(
        fingerprint=PAUSED_1, kind="silenced", text=":no_bell: Silenced by <@U9> until resolved.", episode=1
    )
    # A paused conductor would remind every 30 minutes; silenced, it does not.
    for dt in (1800, 3600, 5400):
        assert p.tick(paused(T0 + dt), T0 + dt) == []
    for dt in (5402, 5404, 5430):
        p.tick(at(T0 + dt), T0 + dt)
    state = p.states[PAUSED_1]
    assert state.phase == "resolved" and state.silenced_until is None
    # The message is corrected in place, but nobody is notified.
    assert [r.kind for r in p.replies] == ["silenced"]
    assert p.updates[-1] == PAUSED_1


def test_timed_silence_ends_and_reminders_resume() -> None:
    p = Pipeline()
    p.tick(paused(T0), T0)
    p.act(PAUSED_1, Silence(user="U9", until=T0 + 1800 + 60), T0)
    assert p.tick(paused(T0 + 1800), T0 + 1800) == []
    after = p.tick(paused(T0 + 1900), T0 + 1900)
    # The message drops its "silenced" line and the overdue reminder goes out.
    assert [(type(e), getattr(e, "kind", None)) for e in after] == [
        (UpdateAlert, None),
        (ThreadReply, "reminder"),
    ]
    assert p.states[PAUSED_1].silenced_until is None


def test_alert_firing_under_a_network_silence_is_posted_once_the_silence_ends() -> None:
    p = Pipeline()
    p.network_silenced_until = T0 + 600
    assert p.tick(paused(T0), T0) == []
    assert p.states[PAUSED_1].phase == "firing"
    assert p.tick(paused(T0 + 300), T0 + 300) == []
    assert p.tick(paused(T0 + 600), T0 + 600) == [PostAlert(fingerprint=PAUSED_1)]
    assert p.tick(paused(T0 + 602), T0 + 602) == []
    assert p.posts == [PAUSED_1]


def test_unsilence_of_an_unposted_alert_posts_it() -> None:
    p = Pipeline()
    p.tick(at(T0), T0)
    p.network_silenced_until = T0 + 600
    p.tick(paused(T0 + 2), T0 + 2)
    p.act(PAUSED_1, Silence(user="U1", until=T0 + 7200), T0 + 3)
    p.network_silenced_until = None
    assert p.tick(paused(T0 + 700), T0 + 700) == []
    assert p.act(PAUSED_1, Unsilence(user="U1"), T0 + 701) == [PostAlert(fingerprint=PAUSED_1)]


def test_leader_change_posts_once_and_closes_itself_without_a_reply() -> None:
    p = Pipeline()
    p.tick(at(T0), T0)
    changed = p.tick(at(T0 + 2, leader_id="seq-1"), T0 + 2)
    fp = f"{NET}/leader_changed"
    assert changed == [PostAlert(fingerprint=fp)]
    assert p.states[fp].summary == "leader changed seq-0 → seq-1"
    assert p.tick(at(T0 + 4, leader_id="seq-1"), T0 + 4) == [UpdateAlert(fingerprint=fp)]
    assert p.states[fp].phase == "resolved"
    assert p.replies == []
    assert p.tick(at(T0 + 6, leader_id="seq-2"), T0 + 6) == [PostAlert(fingerprint=fp)]
    assert p.states[fp].episode == 2


def test_burst_of_new_alerts_becomes_one_summary_message() -> None:
    p = Pipeline()
    p.tick(at(T0), T0)
    nodes = [n.model_copy(update={"paused": True}) for n in at(T0 + 2)]
    effects = p.tick(nodes, T0 + 2)
    fps = tuple(f"{NET}/conductor_inactive/seq-{i}" for i in range(3))
    assert p.summaries == [fps]
    assert p.posts == []
    assert len(effects) == 1
    messages = {p.states[fp].message for fp in fps}
    assert len(messages) == 1
    shared = messages.pop()
    assert shared is not None and shared.shared


def test_unknown_facts_hold_an_alert_instead_of_resolving_it() -> None:
    from tests.alerts.factories import put, unreachable

    p = Pipeline()
    p.tick(paused(T0), T0)
    # seq-1's conductor stops answering: we no longer know it is paused, which is not "resumed".
    for dt in range(2, 60, 2):
        p.tick(put(at(T0 + dt), unreachable("seq-1")), T0 + dt)
    assert p.states[PAUSED_1].phase == "firing"
    assert [r.kind for r in p.replies] == []


def test_transition_needs_an_alert_for_anything_but_a_sighting() -> None:
    with pytest.raises(ValueError, match="needs an existing alert"):
        transition(None, Cleared(), T0, RULES["no_leader"])


def test_observe_network_rejects_another_networks_condition() -> None:
    cond = Condition(network="other", rule="no_leader", severity="critical", summary="x")
    with pytest.raises(ValueError, match="other"):
        observe_network(NET, [cond], {}, T0)


def test_state_json_round_trip_is_lossless() -> None:
    cond = Condition(
        network=NET,
        rule="lagging",
        subject="seq-2",
        severity="warning",
        summary="s",
        details={"lag_blocks": 20, "lag_seconds": 40.5},
    )
    state, _ = transition(None, Seen(condition=cond), T0, RULES["lagging"])
    state, _ = transition(state, Silence(user="U1", until=T0 + 60), T0, RULES["lagging"])
    assert AlertState.model_validate_json(state.model_dump_json()) == state
    assert state.silenced_at(T0 + 59) and not state.silenced_at(T0 + 60)


def test_changing_numbers_re_render_the_message_at_most_once_a_minute() -> None:
    p = Pipeline()
    fp = f"{NET}/lagging/seq-2"

    def lagging(now: float, behind: int) -> list[NodeStatus]:
        nodes = at(now)
        head = nodes[0].unsafe
        assert head is not None
        late = head.model_copy(update={"number": head.number - behind})
        return replace(nodes, "seq-2", unsafe=late)

    p.tick(lagging(T0, 20), T0)
    assert p.tick(lagging(T0 + 30, 21), T0 + 30) == [PostAlert(fingerprint=fp)]
    # The lag grows every tick, but Slack sees one chat.update per minute at most.
    for dt in range(32, 152, 2):
        p.tick(lagging(T0 + dt, 21 + dt), T0 + dt)
    assert p.updates == [fp, fp]
    assert p.states[fp].summary.startswith("seq-2: 171 blocks")
