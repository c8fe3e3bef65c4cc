"""The alert state machine: ONE function, `transition`, moves an alert on every observation.

    inactive ──seen──► pending ──held `for`──► firing ──clear (hysteresis)──► resolved
        ▲                │ clear (hysteresis)      │ seen again within the hysteresis: same alert
        └────────────────┘                         ▼ reminders, ack, silence
    resolved ──seen──► pending (a new episode, a new message)

- Flapping: an alert resolves only after its condition was absent for `clear_observations`
  consecutive ticks AND `clear_seconds` since last seen. A condition that returns sooner stays the
  same alert and episode: no new post, no "resolved" reply. A pending alert that flaps keeps its
  `pending_since`, so a condition that keeps coming back does eventually fire.
- Silences (per alert, or the network-wide one carried on ticks) suppress notifications: posts,
  reminders and thread replies. State still moves. An alert that fired while silenced is posted
  when the silence ends and it is still firing; one that resolves while silenced is never posted.
  An already posted message is still updated in place on resolve, so it never shows a stale state.
- Acknowledging stops reminders for the episode; a new episode starts unacknowledged.
- Every branch has a name, stored in `AlertState.last_transition` and logged.

`observe_network` applies one tick's conditions to all stored alerts of a network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from pydantic import BaseModel, ConfigDict

from alerts import texts
from alerts.catalog import rule_spec
from alerts.effects import Effect, PostAlert, ReplyKind, ThreadReply, UpdateAlert
from alerts.model import AlertState, Condition, RuleSpec
from alerts.observations import Acknowledge, Cleared, Observation, Seen, Silence, Unsilence
from alerts.rules import is_held

logger = logging.getLogger(__name__)

# A firing alert whose numbers change is re-rendered at most this often (Slack's chat.update is
# rate limited and numbers like lag change every tick).
UPDATE_INTERVAL_SECONDS = 60.0

_Step = tuple[str, AlertState, list[Effect]]


def transition(
    state: AlertState | None, observation: Observation, now: float, policy: RuleSpec
) -> tuple[AlertState, list[Effect]]:
    """The alert's next state and the Slack effects to carry out, for one observation at `now`."""
    if state is None:
        if not isinstance(observation, Seen):
            raise ValueError(f"a {observation.kind} observation needs an existing alert")
        state = _new(observation.condition, now)
    before = state.phase
    match observation:
        case Seen():
            name, state, effects = _seen(state, observation, now, policy)
        case Cleared():
            name, state, effects = _cleared(state, observation, now, policy)
        case Acknowledge():
            name, state, effects = _acknowledge(state, observation, now)
        case Silence():
            name, state, effects = _silence(state, observation, now)
        case Unsilence():
            name, state, effects = _unsilence(state, observation, now)
    state = state.model_copy(update={"last_transition": name})
    level = logging.INFO if effects or before != state.phase else logging.DEBUG
    logger.log(
        level,
        "alert transition fingerprint=%s rule=%s phase=%s->%s effects=%s",
        state.fingerprint,
        name,
        before,
        state.phase,
        ",".join(e.effect for e in effects) or "-",
    )
    return state, effects


def _new(condition: Condition, now: float) -> AlertState:
    return AlertState(
        fingerprint=condition.fingerprint,
        rule=condition.rule,
        network=condition.network,
        subject=condition.subject,
        severity=condition.severity,
        since=now,
    )


def _quiet(state: AlertState, tick: Seen | Cleared, now: float) -> bool:
    network = tick.network_silenced_until
    return state.silenced_at(now) or (network is not None and network > now)


def _expire_silence(state: AlertState, now: float) -> AlertState:
    end = state.silenced_until
    if isinstance(end, float) and end <= now:
        return state.model_copy(update={"silenced_until": None, "silenced_by": None})
    return state


def _seen(state: AlertState, tick: Seen, now: float, policy: RuleSpec) -> _Step:
    c = tick.condition
    unexpired = state
    state = _expire_silence(state, now)
    # A silence that just ended also changes what the message shows.
    changed = c.summary != state.summary or c.severity != state.severity or state != unexpired
    state = state.model_copy(
        update={
            "summary": c.summary,
            "details": c.details,
            "severity": c.severity,
            "last_seen": now,
            "clear_count": 0,
        }
    )
    if state.phase in ("inactive", "resolved"):
        state = _new_episode(state, now)
        if policy.for_seconds > 0:
            return "inactive_to_pending", state, []
        return _fire(state, tick, now, "inactive_to_firing")
    if state.phase == "pending":
        if now - (state.pending_since or now) >= policy.for_seconds:
            return _fire(state, tick, now, "pending_to_firing")
        return "pending_holds", state, []
    return _firing_seen(state, tick, now, policy, changed)


def _new_episode(state: AlertState, now: float) -> AlertState:
    # A timed silence outlives the episode (it silences the alert's identity); "until resolved" not.
    keep_silence = isinstance(state.silenced_until, float)
    return state.model_copy(
        update={
            "phase": "pending",
            "since": now,
            "pending_since": now,
            "fired_at": None,
            "resolved_at": None,
            "last_reminder_at": None,
            "post_requested_at": None,
            "updated_at": None,
            "message": None,
            "acked_by": None,
            "acked_at": None,
            "cause": None,
            "silenced_until": state.silenced_until if keep_silence else None,
            "silenced_by": state.silenced_by if keep_silence else None,
        }
    )


def _fire(state: AlertState, tick: Seen, now: float, name: str) -> _Step:
    state = state.model_copy(
        update={"phase": "firing", "since": now, "fired_at": now, "episode": state.episode + 1}
    )
    if _quiet(state, tick, now):
        return f"{name}_silenced", state, []
    state = state.model_copy(update={"post_requested_at": now, "updated_at": now})
    return name, state, [PostAlert(fingerprint=state.fingerprint)]


def _firing_seen(state: AlertState, tick: Seen, now: float, policy: RuleSpec, changed: bool) -> _Step:
    fp = state.fingerprint
    if _quiet(state, tick, now):
        return "firing_silenced", state, []
    if state.post_requested_at is None:
        # It fired during a silence that has ended since: tell the channel now.
        state = state.model_copy(update={"post_requested_at": now, "updated_at": now})
        return "firing_post_after_silence", state, [PostAlert(fingerprint=fp)]
    effects: list[Effect] = []
    name = "firing_holds"
    if changed and now - (state.updated_at or 0.0) >= UPDATE_INTERVAL_SECONDS:
        state = state.model_copy(update={"updated_at": now})
        effects.append(UpdateAlert(fingerprint=fp))
        name = "firing_updated"
    interval = policy.reminder_interval
    last = state.last_reminder_at or state.fired_at or now
    if interval is not None and state.acked_by is None and now - last >= interval:
        state = state.model_copy(update={"last_reminder_at": now})
        effects.append(
            ThreadReply(
                fingerprint=fp, kind="reminder", text=texts.reminder_text(state, now), episode=state.episode
            )
        )
        name = "firing_reminder"
    return name, state, effects


def _cleared(state: AlertState, tick: Cleared, now: float, policy: RuleSpec) -> _Step:
    state = _expire_silence(state, now)
    if state.phase in ("inactive", "resolved"):
        return "clear_idle", state, []
    state = state.model_copy(update={"clear_count": state.clear_count + 1, "last_clear": now})
    settled = (
        state.clear_count >= policy.clear_observations
        and now - (state.last_seen or now) >= policy.clear_seconds
    )
    if state.phase == "pending":
        if settled:
            return "pending_to_inactive", state.model_copy(update={"phase": "inactive", "since": now}), []
        return "pending_clearing", state, []
    if not settled:
        return "firing_clearing", state, []
    return _resolve(state, tick, now, policy)


def _resolve(state: AlertState, tick: Cleared, now: float, policy: RuleSpec) -> _Step:
    quiet = _quiet(state, tick, now)
    until_resolved = state.silenced_until == "resolved"
    state = state.model_copy(
        update={
            "phase": "resolved",
            "since": now,
            "resolved_at": now,
            "silenced_until": None if until_resolved else state.silenced_until,
            "silenced_by": None if until_resolved else state.silenced_by,
        }
    )
    if state.post_requested_at is None:
        return "firing_to_resolved_unposted", state, []
    fp = state.fingerprint
    effects: list[Effect] = [UpdateAlert(fingerprint=fp)]
    if policy.send_resolved and not quiet:
        effects.append(
            ThreadReply(
                fingerprint=fp, kind="resolved", text=texts.resolved_text(state, now), episode=state.episode
            )
        )
    return "firing_to_resolved", state, effects


def _acknowledge(state: AlertState, ack: Acknowledge, now: float) -> _Step:
    if state.phase != "firing":
        return "ack_ignored_not_firing", state, []
    if state.acked_by is not None:
        return "ack_repeated", state, []
    state = state.model_copy(update={"acked_by": ack.user, "acked_at": now})
    return "firing_acknowledged", state, _feedback(state, "acknowledged", texts.acknowledged_text(ack.user))


def _silence(state: AlertState, silence: Silence, now: float) -> _Step:
    if silence.until == "resolved" and state.phase in ("inactive", "resolved"):
        return "silence_ignored_not_active", state, []
    state = state.model_copy(update={"silenced_until": silence.until, "silenced_by": silence.user})
    text = texts.silenced_text(silence.user, silence.until, now)
    return "silenced", state, _feedback(state, "silenced", text)


def _unsilence(state: AlertState, unsilence: Unsilence, now: float) -> _Step:
    if state.silenced_until is None:
        return "unsilence_ignored", state, []
    state = state.model_copy(update={"silenced_until": None, "silenced_by": None})
    if state.phase == "firing" and state.post_requested_at is None:
        state = state.model_copy(update={"post_requested_at": now, "updated_at": now})
        return "unsilenced_post", state, [PostAlert(fingerprint=state.fingerprint)]
    return "unsilenced", state, _feedback(state, "unsilenced", texts.unsilenced_text(unsilence.user))


def _feedback(state: AlertState, kind: ReplyKind, text: str) -> list[Effect]:
    """Re-render and confirm in the thread, when this episode has a message at all."""
    if state.post_requested_at is None or state.phase != "firing":
        return []
    fp = state.fingerprint
    return [
        UpdateAlert(fingerprint=fp),
        ThreadReply(fingerprint=fp, kind=kind, text=text, episode=state.episode),
    ]


class TickOutcome(BaseModel):
    """One network tick: the alerts whose state changed, and the effects in order."""

    model_config = ConfigDict(frozen=True)

    changed: dict[str, AlertState]
    effects: list[Effect]


def observe_network(
    network: str,
    conditions: Iterable[Condition],
    states: Mapping[str, AlertState],
    now: float,
    *,
    held: tuple[str, ...] = (),
    network_silenced_until: float | None = None,
    policy_for: Callable[[str], RuleSpec] | None = None,
) -> TickOutcome:
    """Apply one tick to every alert of `network`: `Seen` for each condition, `Cleared` for every stored
    alert whose condition is gone, nothing for alerts `held` (unknown or inhibited this tick)."""
    policy = policy_for or rule_spec
    current: dict[str, Condition] = {}
    for c in conditions:
        if c.network != network:
            raise ValueError(f"condition of network {c.network!r} in a tick of {network!r}")
        current.setdefault(c.fingerprint, c)
    if strays := [s.fingerprint for s in states.values() if s.network != network]:
        raise ValueError(f"alerts {strays} are not of network {network!r}")
    changed: dict[str, AlertState] = {}
    effects: list[Effect] = []
    for fp in sorted(current.keys() | states.keys()):
        old = states.get(fp)
        cond = current.get(fp)
        if cond is not None:
            obs: Seen | Cleared = Seen(condition=cond, network_silenced_until=network_silenced_until)
            rule = cond.rule
        elif old is not None and not is_held(fp, held):
            obs = Cleared(network_silenced_until=network_silenced_until)
            rule = old.rule
        else:
            continue
        new, out = transition(old, obs, now, policy(rule))
        if new != old:
            changed[fp] = new
        effects.extend(out)
    return TickOutcome(changed=changed, effects=effects)
