"""Alerts the bot's own approved operation causes: attributed to the request, shown in its thread.

`commands.own_operation` records, per network, the request that is executing (or just finished) and
the conditions its plan causes by design (`pause` → conductor_inactive, `transfer-leader` →
leader_changed, …). An alert episode is attributed to that request when BOTH hold:

- its condition is one the plan expects, on the subject the plan touches (`pause sim-1 seq-1`
  expects `conductor_inactive` on seq-1 only); anything else — a node that stops answering during a
  pause, two leaders after an override — is not what the approvers approved and alerts as usual;
- the condition BEGAN (`pending_since`: the first tick it was seen, not when its `for` elapsed) while
  the operation ran, or within `SETTLE_SECONDS` after it finished. Execution includes the
  verification polls, so "ran" already covers the time the cluster takes to settle under the bot's
  eyes; the extra `SETTLE_SECONDS` (several watcher ticks) covers the watcher seeing the last step's
  effect a tick or two after the executor finished. A condition that was already there when the
  operation started (minus `CLOCK_SKEW_SECONDS` between replicas' clocks) is not its doing.

An attributed episode keeps its cause (`AlertState.cause`) until it resolves: its message is posted
into the request's thread with the request named, its replies (reminders, resolved) go to the same
thread, and a later episode of the same alert starts unattributed.
"""

from __future__ import annotations

from collections.abc import Sequence

from alerts.effects import Effect, PostAlert
from alerts.model import AlertState, OperationCause
from alerts.state import TickOutcome
from commands.own_operation import OperationWindow

SETTLE_SECONDS = 30.0
CLOCK_SKEW_SECONDS = 2.0


def cause_of(window: OperationWindow | None, rule: str, subject: str, began: float) -> OperationCause | None:
    """The request a condition that began at `began` is attributed to, if any (see the module doc)."""
    if window is None or not window.expects(rule, subject):
        return None
    if began < window.started_at - CLOCK_SKEW_SECONDS:
        return None
    if window.finished_at is not None and began > window.finished_at + SETTLE_SECONDS:
        return None
    return OperationCause(
        request_id=window.request_id,
        command=window.command,
        requester=window.requester,
        channel=window.channel,
        ts=window.ts,
    )


def posts_anything(effects: Sequence[Effect]) -> bool:
    """Only a tick that posts a new alert needs the operation window (quiet ticks skip the read)."""
    return any(isinstance(e, PostAlert) for e in effects)


def attribute(outcome: TickOutcome, window: OperationWindow | None) -> TickOutcome:
    """`outcome` with the cause set on every alert it posts that the running operation explains."""
    if window is None:
        return outcome
    changed: dict[str, AlertState] = dict(outcome.changed)
    for effect in outcome.effects:
        if not isinstance(effect, PostAlert):
            continue
        state = changed.get(effect.fingerprint)
        if state is None or state.cause is not None:
            continue
        began = state.pending_since or state.fired_at or state.since
        cause = cause_of(window, state.rule, state.subject, began)
        if cause is not None:
            changed[effect.fingerprint] = state.model_copy(update={"cause": cause})
    return TickOutcome(changed=changed, effects=outcome.effects)
