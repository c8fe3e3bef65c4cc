"""The condition table of the health model (`cluster.health`) and `assess`, which runs it.

Each row names a condition, its title, severity and scope (network-wide or per node) and the function
that judges it from the facts of one snapshot and the memory of earlier looks. Network rows run in
table order; node rows run node by node where the first of them stands. After the table, `INHIBITS`
holds the symptoms that follow from a larger outage. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from cluster.health import (
    ALL_UNREACHABLE,
    CHAIN_STALLED,
    CONDUCTOR_INACTIVE,
    FOLLOWS_FROM,
    INHIBITS,
    LAGGING,
    LEADER_CHANGED,
    LEADER_OVERRIDDEN,
    LOW_PEERS,
    MEMBERSHIP_DRIFT,
    MULTIPLE_ACTIVE,
    MULTIPLE_LEADERS,
    NO_ACTIVE,
    NO_LEADER,
    NODE_UNHEALTHY,
    NODE_UNREACHABLE,
    STEPPING_DOWN_SECONDS,
    DetailValue,
    Finding,
    Health,
    HealthMemory,
    Scope,
    Severity,
    inactive_state,
    is_overridden,
    lag_exceeds,
)
from cluster.snapshot import NetworkSnapshot, NodeStatus
from cluster.topology import NetworkSpec


def _finding(name: str, subject: str, summary: str, **fields: Any) -> Finding:
    return Finding(
        condition=name, subject=subject, severity=CONDITIONS[name].severity, summary=summary, **fields
    )


@dataclass
class _Look:
    """One evaluation in progress: the facts, and the memory as it is being updated."""

    snapshot: NetworkSnapshot
    spec: NetworkSpec
    memory: HealthMemory
    now: float
    out: list[Finding] = field(default_factory=list)
    # Whether the memory passed in had seen a leader: if not, this is a first look.
    remembers: bool = False

    def add(self, name: str, subject: str, summary: str, /, **details: DetailValue) -> None:
        self.put(_finding(name, subject, summary, details=details))

    def put(self, finding: Finding) -> None:
        self.out.append(finding)

    def unknown(self, name: str, subject: str, why: str) -> None:
        summary = f"{subject + ': ' if subject else ''}{name} unknown ({why})"
        self.put(_finding(name, subject, summary, state="unknown", reason=why))

    @property
    def answering(self) -> list[NodeStatus]:
        return [n for n in self.snapshot.nodes if n.conductor_reachable]


@dataclass(frozen=True)
class ConditionSpec:
    """One row of the table; `judge` takes the look (and, for node scope, the node)."""

    name: str
    title: str
    severity: Severity
    scope: Scope
    judge: Callable[..., None]


def _silent(n: NodeStatus, endpoint: Literal["conductor", "node"]) -> str:
    err = n.endpoint_down(endpoint)
    return f"its {endpoint} did not answer" + (f": {err.kind}" if err else "")


def _all_unreachable(look: _Look) -> None:
    if not look.answering:
        total = len(look.snapshot.nodes)
        look.add(ALL_UNREACHABLE, "", f"none of the {total} conductors answers", conductors=total)


def _no_leader(look: _Look) -> None:
    snap, answering = look.snapshot, look.answering
    if not answering:
        look.unknown(NO_LEADER, "", "no conductor answers")
        return
    if snap.leaders:
        return
    believed = snap.node(snap.raft_leader_id) if snap.raft_leader_id else None
    if believed is not None and not believed.conductor_reachable:
        # The followers name a leader we cannot reach: node_unreachable, not a lost leader.
        look.unknown(NO_LEADER, "", f"the followers name {believed.id}, whose conductor does not answer")
        return
    total = len(snap.nodes)
    look.add(
        NO_LEADER,
        "",
        f"no conductor reports leadership ({len(answering)} of {total} conductors answer)",
        answering=len(answering),
        conductors=total,
    )


def _multiple_leaders(look: _Look) -> None:
    leaders = look.snapshot.leaders
    if len(leaders) > 1:
        look.add(
            MULTIPLE_LEADERS,
            "",
            f"{len(leaders)} conductors report leadership: {', '.join(leaders)}",
            leaders=len(leaders),
        )


def _leader_changed(look: _Look) -> None:
    current, before = look.snapshot.raft_leader_id, look.memory.leader_id
    if current is None or current == before:
        return
    if before is not None:
        look.add(
            LEADER_CHANGED, "", f"leader changed {before} → {current}", **{"from": before, "to": current}
        )
    look.memory = look.memory.model_copy(update={"leader_id": current, "previous_leader_id": before})


def _stepping_down(look: _Look, active: tuple[str, ...]) -> str | None:
    """The old leader still sequencing beside the single new leader, if that is all there is."""
    snap = look.snapshot
    extra = [a for a in active if a not in snap.leaders]
    if len(active) != 2 or len(extra) != 1 or len(snap.leaders) != 1 or snap.leaders[0] not in active:
        return None
    if look.remembers:
        return extra[0] if extra[0] == look.memory.previous_leader_id else None
    # A first look: only a running, non-leading conductor will stop its sequencer by itself.
    node = snap.node(extra[0])
    running = node is not None and node.leader is False and node.paused is False and node.stopped is False
    return extra[0] if running else None


def _multiple_active(look: _Look) -> None:
    snap = look.snapshot
    active = snap.active_sequencers
    since: float | None = None
    if len(active) > 1:
        stepping = _stepping_down(look, active)
        details: dict[str, DetailValue] = {"active": len(active)}
        note = ""
        if stepping is not None:
            since = look.memory.stepping_down_since or look.now
            details["stepping_down"] = stepping
            note = f" ({stepping} is the previous leader, stepping down)"
        held = since is not None and look.now - since < STEPPING_DOWN_SECONDS
        summary = f"{len(active)} active sequencers: {', '.join(active)}{note}"
        if held:
            reason = f"held for up to {STEPPING_DOWN_SECONDS:.0f}s while its conductor stops it"
            look.put(_finding(MULTIPLE_ACTIVE, "", summary, state="held", details=details, reason=reason))
        else:
            look.add(MULTIPLE_ACTIVE, "", summary, **details)
    elif any(n.sequencer_active is None for n in snap.nodes):
        # Unknown is not over: keep when the hand-over began.
        since = look.memory.stepping_down_since
        look.unknown(MULTIPLE_ACTIVE, "", "not every op-node says whether it is sequencing")
    if since != look.memory.stepping_down_since:
        look.memory = look.memory.model_copy(update={"stepping_down_since": since})


def _no_active(look: _Look) -> None:
    snap = look.snapshot
    if snap.active_sequencers or not snap.leaders:
        return
    if any(n.sequencer_active is None for n in snap.nodes):
        look.unknown(NO_ACTIVE, "", "not every op-node says whether it is sequencing")
        return
    look.add(
        NO_ACTIVE,
        "",
        f"leader {snap.leaders[0]} has no active sequencer "
        f"(none of {len(snap.nodes)} op-nodes is sequencing)",
        nodes=len(snap.nodes),
    )


def _chain_stalled(look: _Look) -> None:
    best = look.snapshot.best_unsafe
    if best is None:
        look.unknown(CHAIN_STALLED, "", "no op-node reports its unsafe head")
        return
    memory = look.memory
    if memory.best_unsafe_number != best.number or memory.best_advanced_at is None:
        look.memory = memory = memory.model_copy(
            update={"best_unsafe_number": best.number, "best_advanced_at": look.now}
        )
    th = look.spec.thresholds
    still_for = look.now - (memory.best_advanced_at or look.now)
    age = look.now - best.timestamp
    if still_for >= th.stall_seconds:
        look.add(
            CHAIN_STALLED,
            "",
            f"best unsafe head #{best.number} has not advanced for {still_for:.0f}s "
            f"(threshold {th.stall_seconds:.0f}s)",
            best_number=best.number,
            stalled_seconds=round(still_for, 1),
        )
    elif age > th.max_head_age_seconds:
        # Without history (a one-shot status, a restart) an old head timestamp still tells.
        look.add(
            CHAIN_STALLED,
            "",
            f"best unsafe head #{best.number} is {age:.0f}s old (max {th.max_head_age_seconds:.0f}s)",
            best_number=best.number,
            head_age_seconds=round(age, 1),
        )


def _node_unreachable(look: _Look, n: NodeStatus) -> None:
    down = [e for ep in ("conductor", "node") if (e := n.endpoint_down(ep)) is not None]
    if down:
        summary = f"{n.id}: " + "; ".join(f"{e.endpoint} {e.kind}: {e.message}" for e in down)
        look.add(NODE_UNREACHABLE, n.id, summary, **{e.endpoint: e.kind for e in down})


def _node_unhealthy(look: _Look, n: NodeStatus) -> None:
    if n.healthy is None:
        look.unknown(NODE_UNHEALTHY, n.id, _silent(n, "conductor"))
    elif not n.healthy:
        look.add(NODE_UNHEALTHY, n.id, f"{n.id}: sequencer unhealthy (conductor health check)")


def _conductor_inactive(look: _Look, n: NodeStatus) -> None:
    if n.id in look.snapshot.standby:
        return  # kept paused on purpose until it is added to the cluster
    if n.paused is None and n.stopped is None:
        look.unknown(CONDUCTOR_INACTIVE, n.id, _silent(n, "conductor"))
    elif (how := inactive_state(n)) is not None:
        look.add(CONDUCTOR_INACTIVE, n.id, f"{n.id}: conductor {how}", state=how)


def _leader_overridden(look: _Look, n: NodeStatus) -> None:
    overridden = is_overridden(n)
    if overridden is None:
        look.unknown(LEADER_OVERRIDDEN, n.id, _silent(n, "conductor"))
    elif overridden:
        look.add(LEADER_OVERRIDDEN, n.id, f"{n.id}: leader overridden on the conductor")


def _lagging(look: _Look, n: NodeStatus) -> None:
    snap, th = look.snapshot, look.spec.thresholds
    lag = snap.lag.get(n.id)
    if lag is None:
        look.unknown(LAGGING, n.id, _silent(n, "node"))
    elif lag_exceeds(lag, th):
        best = snap.best_unsafe.number if snap.best_unsafe else 0
        look.add(
            LAGGING,
            n.id,
            f"{n.id}: {lag.blocks} blocks / {lag.seconds:.0f}s behind the best head #{best} "
            f"(max {th.max_lag_blocks} blocks / {th.max_lag_seconds:.0f}s)",
            lag_blocks=lag.blocks,
            lag_seconds=lag.seconds,
        )


def _low_peers(look: _Look, n: NodeStatus) -> None:
    minimum = look.spec.thresholds.min_peers
    if n.peers is None:
        look.unknown(LOW_PEERS, n.id, _silent(n, "node"))
    elif n.peers < minimum:
        look.add(LOW_PEERS, n.id, f"{n.id}: {n.peers} peers (min {minimum})", peers=n.peers)


def _membership_drift(look: _Look) -> None:
    snap = look.snapshot
    if snap.membership is None:
        look.unknown(MEMBERSHIP_DRIFT, "", "no conductor reports the raft membership")
        return
    for node_id in dict.fromkeys(d.sequencer_id for d in snap.drift):
        mine = [d for d in snap.drift if d.sequencer_id == node_id]
        look.add(
            MEMBERSHIP_DRIFT,
            node_id,
            "; ".join(d.message for d in mine) + f" (membership as {snap.membership_source} sees it)",
            kinds=",".join(d.kind for d in mine),
        )


_TABLE = (
    ConditionSpec(ALL_UNREACHABLE, "No conductor answers", "critical", "network", _all_unreachable),
    ConditionSpec(NO_LEADER, "No raft leader", "critical", "network", _no_leader),
    ConditionSpec(MULTIPLE_LEADERS, "More than one leader", "critical", "network", _multiple_leaders),
    ConditionSpec(LEADER_CHANGED, "Raft leader changed", "info", "network", _leader_changed),
    ConditionSpec(MULTIPLE_ACTIVE, "More than one active sequencer", "critical", "network", _multiple_active),
    ConditionSpec(NO_ACTIVE, "Leader without an active sequencer", "critical", "network", _no_active),
    ConditionSpec(CHAIN_STALLED, "Chain stalled", "critical", "network", _chain_stalled),
    ConditionSpec(NODE_UNREACHABLE, "Node unreachable", "warning", "node", _node_unreachable),
    ConditionSpec(NODE_UNHEALTHY, "Sequencer unhealthy", "warning", "node", _node_unhealthy),
    ConditionSpec(CONDUCTOR_INACTIVE, "Conductor paused or stopped", "warning", "node", _conductor_inactive),
    ConditionSpec(LEADER_OVERRIDDEN, "Leader overridden", "warning", "node", _leader_overridden),
    ConditionSpec(LAGGING, "Unsafe head lagging", "warning", "node", _lagging),
    ConditionSpec(LOW_PEERS, "Too few peers", "warning", "node", _low_peers),
    ConditionSpec(MEMBERSHIP_DRIFT, "Raft membership drift", "warning", "network", _membership_drift),
)
CONDITIONS: dict[str, ConditionSpec] = {c.name: c for c in _TABLE}


def _run(look: _Look) -> None:
    """Table order; the node rows run node by node where the first of them stands."""
    per_node = [c for c in _TABLE if c.scope == "node"]
    for row in _TABLE:
        if row.scope == "network":
            row.judge(look)
        elif row is per_node[0]:
            for n in look.snapshot.nodes:
                for node_row in per_node:
                    node_row.judge(look, n)


def _inhibit(findings: list[Finding]) -> Iterator[Finding]:
    """Hold what follows from a larger outage; one held finding per muted condition covers every subject."""
    outage = [f.condition for f in findings if f.state == "holds" and f.condition in INHIBITS]
    muted = {m: cause for cause in outage for m in INHIBITS[cause]}
    yield from (f for f in findings if f.condition not in muted)
    for name, cause in muted.items():
        yield Finding(
            condition=name,
            state="held",
            severity=CONDITIONS[name].severity,
            summary=f"{name}: not judged while {cause} holds",
            reason=f"{FOLLOWS_FROM} {cause}",
        )


def assess(
    snapshot: NetworkSnapshot, spec: NetworkSpec, memory: HealthMemory | None = None, now: float | None = None
) -> Health:
    """Judge every condition of the table on `snapshot` (at `now`, default its time) with `memory`."""
    memory = memory or HealthMemory()
    at = snapshot.taken_at if now is None else now
    look = _Look(snapshot, spec, memory, at, remembers=memory.leader_id is not None)
    _run(look)
    return Health(network=snapshot.network, findings=tuple(_inhibit(look.out)), memory=look.memory)
