"""The one health model: named conditions judged on a snapshot, plus what earlier looks remembered.

This module holds the vocabulary (one constant per condition name), the values (`Finding`,
`HealthMemory`, `Health` with its verdict) and the predicates preflight and verification share
(`lag_exceeds`, `lagging`, `has_quorum`, `is_overridden`, `active_count`, `chain_advancing`). The
table itself, `cluster.conditions.CONDITIONS`, gives each name its title, severity, scope and judge;
`cluster.conditions.assess(snapshot, spec, memory, now)` runs it and returns a `Health`: one `Finding`
per (condition, subject) that is not plainly clear, and the memory for the next look. Status renders a
`Health` and takes its verdict (and exit code) from it; the alert rules wrap the same findings with
`for`, reminders and silences. One name per condition everywhere.

A finding is in one of three states:
- `holds`: the facts show the condition.
- `unknown`: the facts it needs did not arrive (an endpoint did not answer). Unknown is not healthy
  and not broken: alerts neither raise nor clear it; status says what it could not see.
- `held`: it holds but is held back on purpose: an old leader still stepping down after a hand-over
  (for `STEPPING_DOWN_SECONDS`), or a symptom that follows from a larger outage (`INHIBITS`).

Without memory (a one-shot `status`) every time-based rule judges from one snapshot: a leader change
is unseen, a stall is judged from the head's age, and a second active sequencer beside a new leader
whose conductor is still running is taken for a hand-over in progress (held, never critical).
Everything here is pure.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cluster.snapshot import NetworkSnapshot, NodeLag, NodeStatus
from cluster.topology import NetworkSpec, Thresholds

Severity = Literal["info", "warning", "critical"]
Verdict = Literal["healthy", "degraded", "critical"]
State = Literal["holds", "unknown", "held"]
Scope = Literal["network", "node"]
DetailValue = int | float | str

# A leader transfer leaves the old leader's sequencer active until its conductor stops it (a tick or
# two): that alone is no split brain. Held this long; any other second active sequencer is not held.
STEPPING_DOWN_SECONDS = 4.0

LEADER_CHANGED = "leader_changed"
ALL_UNREACHABLE = "all_unreachable"
NO_LEADER = "no_leader"
MULTIPLE_LEADERS = "multiple_leaders"
MULTIPLE_ACTIVE = "multiple_active"
NO_ACTIVE = "no_active"
CHAIN_STALLED = "chain_stalled"
NODE_UNREACHABLE = "node_unreachable"
NODE_UNHEALTHY = "node_unhealthy"
CONDUCTOR_INACTIVE = "conductor_inactive"
LEADER_OVERRIDDEN = "leader_overridden"
LAGGING = "lagging"
LOW_PEERS = "low_peers"
MEMBERSHIP_DRIFT = "membership_drift"

FOLLOWS_FROM = "follows from"

# While the key holds, the listed conditions follow from it: held, so one page tells the story.
INHIBITS: dict[str, tuple[str, ...]] = {
    ALL_UNREACHABLE: (
        NO_LEADER,
        MULTIPLE_LEADERS,
        NO_ACTIVE,
        MULTIPLE_ACTIVE,
        NODE_UNREACHABLE,
        NODE_UNHEALTHY,
        LAGGING,
        LOW_PEERS,
        CHAIN_STALLED,
    ),
    NO_LEADER: (NODE_UNHEALTHY, LAGGING, LOW_PEERS, CHAIN_STALLED),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Finding(_Frozen):
    """One condition for one subject (a node id, or "" network-wide) at one look."""

    condition: str
    subject: str = ""
    state: State = "holds"
    severity: Severity
    summary: str
    details: dict[str, DetailValue] = Field(default_factory=dict)
    # Why an `unknown` or `held` finding was not judged.
    reason: str = ""


class HealthMemory(_Frozen):
    """What one snapshot cannot show: who led before, when the best head last moved."""

    leader_id: str | None = None
    previous_leader_id: str | None = None
    # Since when an old leader has been seen stepping down beside the new one.
    stepping_down_since: float | None = None
    best_unsafe_number: int | None = None
    best_advanced_at: float | None = None


class Health(_Frozen):
    network: str
    findings: tuple[Finding, ...]
    memory: HealthMemory

    @property
    def holding(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.state == "holds")

    @property
    def not_judged(self) -> tuple[Finding, ...]:
        """Unknown or held findings: what the verdict does not count."""
        return tuple(f for f in self.findings if f.state != "holds")

    @property
    def verdict(self) -> Verdict:
        severities = {f.severity for f in self.holding}
        if "critical" in severities:
            return "critical"
        # A critical condition held back (a hand-over in progress) is worth a look, not a page.
        held = any(f.state == "held" and f.severity == "critical" for f in self.findings)
        return "degraded" if "warning" in severities or held else "healthy"

    @property
    def reasons(self) -> list[str]:
        return [f.summary for f in self.holding if f.severity != "info"]

    @property
    def summary(self) -> str:
        """The one-line verdict with its reasons."""
        reasons = self.reasons
        return self.verdict if not reasons else f"{self.verdict}: " + "; ".join(reasons)

    def notes(self) -> list[str]:
        """One line per group of findings not judged: what is unknown and why, what is held back."""
        groups: dict[tuple[State, str, str], list[Finding]] = {}
        for f in self.not_judged:
            groups.setdefault((f.state, f.subject, f.reason), []).append(f)
        out: list[str] = []
        for (state, subject, reason), found in groups.items():
            names = ", ".join(f.condition for f in found)
            if state == "unknown":
                out.append(f"{subject or self.network}: {names} unknown ({reason})")
            elif reason.startswith(FOLLOWS_FROM):
                out.append(f"{names} not judged ({reason})")
            else:
                out.extend(f"{f.summary} — {reason}" for f in found)
        return out


# ---- predicates shared with preflight and verification -------------------------------------------


def lag_exceeds(lag: NodeLag, th: Thresholds) -> bool:
    return lag.blocks > th.max_lag_blocks or lag.seconds > th.max_lag_seconds


def lagging(snapshot: NetworkSnapshot, spec: NetworkSpec, node_id: str) -> bool | None:
    """Whether the node's unsafe head is beyond the lag thresholds; None when its head is unknown."""
    lag = snapshot.lag.get(node_id)
    return None if lag is None else lag_exceeds(lag, spec.thresholds)


def inactive_state(n: NodeStatus) -> Literal["stopped", "paused"] | None:
    """`stopped` or `paused` when the conductor is not running its control loop."""
    return "stopped" if n.stopped else "paused" if n.paused else None


def is_overridden(n: NodeStatus) -> bool | None:
    return n.leader_overridden


def active_count(snapshot: NetworkSnapshot) -> int:
    return len(snapshot.active_sequencers)


def has_quorum(snapshot: NetworkSnapshot) -> bool | None:
    """Whether a majority of raft voters answer; None when the membership is unknown."""
    servers = snapshot.membership.servers if snapshot.membership is not None else None
    if not servers:
        return None
    voters = [s.id for s in servers if s.suffrage == 0]
    answering = [v for v in voters if (n := snapshot.node(v)) is not None and n.conductor_reachable]
    return len(answering) * 2 > len(voters)


def chain_advancing(before: NetworkSnapshot, after: NetworkSnapshot) -> bool | None:
    """Whether the best unsafe head moved forward between two snapshots; None when either is unknown."""
    if before.best_unsafe is None or after.best_unsafe is None:
        return None
    return after.best_unsafe.number > before.best_unsafe.number
