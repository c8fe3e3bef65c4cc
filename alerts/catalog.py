"""The alert catalogue: how each health condition (`cluster.health`) behaves as an alert.

Names, titles and severities come from the condition table (`cluster.conditions.CONDITIONS`), so a
condition has one name in status, alerts, audit and the README; this table adds only what an alert
needs on top: the `for` duration, the reminder interval and the resolve behaviour.

Durations assume a watcher tick of a few seconds. Critical rules remind every 15 minutes while
firing and unacknowledged; a paused/stopped conductor or a leader override reminds every 30 minutes
because forgetting one after maintenance is the classic way to lose failover.
"""

from __future__ import annotations

from typing import Any

from alerts.model import RuleSpec
from cluster import health as h
from cluster.conditions import CONDITIONS
from cluster.health import CHAIN_STALLED as CHAIN_STALLED  # re-exported: tests name it from here

CRITICAL_REMINDER = 15 * 60.0
FORGOTTEN_REMINDER = 30 * 60.0

_CRITICAL = {"reminder_interval": CRITICAL_REMINDER}
_FORGOTTEN = {"reminder_interval": FORGOTTEN_REMINDER}

# Every condition of the health table, with its alert timing (`for`, reminders, resolve).
_TIMING: dict[str, dict[str, Any]] = {
    # An event, not a state: fires at once and resolves on the next tick without a "resolved" reply.
    h.LEADER_CHANGED: {"send_resolved": False, "clear_observations": 1, "clear_seconds": 0},
    h.ALL_UNREACHABLE: {"for_seconds": 10, **_CRITICAL},
    # An election takes a few seconds; only a leaderless cluster that stays so is an incident.
    h.NO_LEADER: {"for_seconds": 10, **_CRITICAL},
    h.MULTIPLE_LEADERS: {"for_seconds": 4, **_CRITICAL},
    # Two block producers means unsafe reorgs: page at once (the health model holds only the routine
    # hand-over case, an old leader still stepping down, for `cluster.health.STEPPING_DOWN_SECONDS`).
    h.MULTIPLE_ACTIVE: _CRITICAL,
    h.NO_ACTIVE: {"for_seconds": 10, **_CRITICAL},
    # The stall threshold already is the waiting time, so no extra `for`.
    h.CHAIN_STALLED: _CRITICAL,
    h.NODE_UNHEALTHY: {"for_seconds": 10},
    h.NODE_UNREACHABLE: {"for_seconds": 10},
    h.LAGGING: {"for_seconds": 30},
    h.CONDUCTOR_INACTIVE: _FORGOTTEN,
    h.LEADER_OVERRIDDEN: _FORGOTTEN,
    h.MEMBERSHIP_DRIFT: {"for_seconds": 30},
    h.LOW_PEERS: {"for_seconds": 30},
}

RULES: dict[str, RuleSpec] = {
    name: RuleSpec(name=name, title=c.title, severity=c.severity, **_TIMING[name])
    for name, c in CONDITIONS.items()
}


def rule_spec(name: str) -> RuleSpec:
    """The spec of a rule by name; an unknown name (an old record after a rename) gets a safe default."""
    return RULES.get(name) or RuleSpec(name=name, title=name.replace("_", " "), severity="warning")
