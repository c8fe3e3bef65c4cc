"""The rule table: every alert rule's name, title, severity, `for` duration and reminder interval.

Durations assume a watcher tick of a few seconds. Critical rules remind every 15 minutes while
firing and unacknowledged; a paused/stopped conductor or a leader override reminds every 30 minutes
because forgetting one after maintenance is the classic way to lose failover.
"""

from __future__ import annotations

from alerts.model import RuleSpec

CRITICAL_REMINDER = 15 * 60.0
FORGOTTEN_REMINDER = 30 * 60.0

LEADER_CHANGED = "leader_changed"
ALL_UNREACHABLE = "all_unreachable"
NO_LEADER = "no_leader"
MULTIPLE_LEADERS = "multiple_leaders"
MULTIPLE_ACTIVE = "multiple_active"
NO_ACTIVE = "no_active"
CHAIN_STALLED = "chain_stalled"
NODE_UNHEALTHY = "node_unhealthy"
NODE_UNREACHABLE = "node_unreachable"
HEAD_LAG = "head_lag"
CONDUCTOR_INACTIVE = "conductor_inactive"
LEADER_OVERRIDDEN = "leader_overridden"
MEMBERSHIP_DRIFT = "membership_drift"
LOW_PEERS = "low_peers"

_SPECS = (
    RuleSpec(
        name=LEADER_CHANGED,
        title="Raft leader changed",
        severity="info",
        one_shot=True,
        send_resolved=False,
        clear_observations=1,
        clear_seconds=0,
    ),
    RuleSpec(
        name=ALL_UNREACHABLE,
        title="No conductor answers",
        severity="critical",
        for_seconds=10,
        reminder_interval=CRITICAL_REMINDER,
    ),
    # An election takes a few seconds; only a leaderless cluster that stays so is an incident.
    RuleSpec(
        name=NO_LEADER,
        title="No raft leader",
        severity="critical",
        for_seconds=10,
        reminder_interval=CRITICAL_REMINDER,
    ),
    RuleSpec(
        name=MULTIPLE_LEADERS,
        title="More than one leader",
        severity="critical",
        for_seconds=4,
        reminder_interval=CRITICAL_REMINDER,
    ),
    # Two block producers means unsafe reorgs: page at once (the rules hold only the routine
    # hand-over case, an old leader still stepping down, for a few seconds: `rules.STEPPING_DOWN_SECONDS`).
    RuleSpec(
        name=MULTIPLE_ACTIVE,
        title="More than one active sequencer",
        severity="critical",
        reminder_interval=CRITICAL_REMINDER,
    ),
    RuleSpec(
        name=NO_ACTIVE,
        title="Leader without an active sequencer",
        severity="critical",
        for_seconds=10,
        reminder_interval=CRITICAL_REMINDER,
    ),
    # The stall threshold already is the waiting time, so no extra `for`.
    RuleSpec(
        name=CHAIN_STALLED,
        title="Chain stalled",
        severity="critical",
        reminder_interval=CRITICAL_REMINDER,
    ),
    RuleSpec(name=NODE_UNHEALTHY, title="Sequencer unhealthy", severity="warning", for_seconds=10),
    RuleSpec(name=NODE_UNREACHABLE, title="Node unreachable", severity="warning", for_seconds=10),
    RuleSpec(name=HEAD_LAG, title="Unsafe head lagging", severity="warning", for_seconds=30),
    RuleSpec(
        name=CONDUCTOR_INACTIVE,
        title="Conductor paused or stopped",
        severity="warning",
        reminder_interval=FORGOTTEN_REMINDER,
    ),
    RuleSpec(
        name=LEADER_OVERRIDDEN,
        title="Leader overridden",
        severity="warning",
        reminder_interval=FORGOTTEN_REMINDER,
    ),
    RuleSpec(name=MEMBERSHIP_DRIFT, title="Raft membership drift", severity="warning", for_seconds=30),
    RuleSpec(name=LOW_PEERS, title="Too few peers", severity="warning", for_seconds=30),
)

RULES: dict[str, RuleSpec] = {s.name: s for s in _SPECS}


def rule_spec(name: str) -> RuleSpec:
    """The spec of a rule by name; an unknown name (an old record after a rename) gets a safe default."""
    return RULES.get(name) or RuleSpec(name=name, title=name.replace("_", " "), severity="warning")
