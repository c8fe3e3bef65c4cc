"""Alert rules: pure functions from a `NetworkSnapshot` (plus what earlier ticks showed) to `Condition`s.

`evaluate` is the only entry point. What one snapshot cannot show (who led before, when the best head
last moved) lives in `WatchMemory`, which the watcher persists between ticks.

Unknown is not healthy. When a node's endpoint is down its conductor-derived facts are None; the rules
that need them put the alert's fingerprint in `WatchMemory.held`, meaning "neither raise nor clear this
tick", so a paused conductor that also stops answering is not reported as resolved. Likewise, when no
answering conductor claims leadership but the followers name a leader whose conductor we cannot reach,
`no_leader` is held: that node's `node_unreachable` tells the story without a false critical page.

A leader transfer leaves the old leader sequencing for a tick or two: `multiple_active` with just the
previous leader beside the new leader's sequencer is held for `STEPPING_DOWN_SECONDS` (when it began
is in `WatchMemory.stepping_down_since`) and raised only if it lasts; any other second active
sequencer is a split brain and raised at once.

Inhibition (kept deliberately small): while `all_unreachable` or `no_leader` holds, the per-node
`node_unhealthy`, `head_lag`, `low_peers` and the network's `chain_stalled` are held (they follow from
the outage, and one page is enough); while `all_unreachable` holds, `node_unreachable` and the
leadership rules (`no_leader`, `multiple_leaders`, `no_active`, `multiple_active`) are held as well.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from alerts import catalog as r
from alerts.model import Condition, DetailValue, fingerprint
from cluster.snapshot import NetworkSnapshot, NodeStatus
from cluster.topology import NetworkSpec

# A leader transfer leaves the old leader's sequencer active for a tick or two while it stops: that
# alone is no split brain. Held this long (two ticks at the default interval); a genuine split
# brain (any other second active sequencer) still fires at once.
STEPPING_DOWN_SECONDS = 4.0


class WatchMemory(BaseModel):
    """What the watcher remembers between ticks of one network (persisted as JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The last known raft leader, and the one before it (to recognise a stepping-down old leader).
    leader_id: str | None = None
    previous_leader_id: str | None = None
    # Since when the routine hand-over case of `multiple_active` (the previous leader still active
    # beside the new one) has been seen; it is held, not raised, for `STEPPING_DOWN_SECONDS`.
    stepping_down_since: float | None = None
    best_unsafe_number: int | None = None
    best_advanced_at: float | None = None
    # Fingerprint patterns ("net/rule" matches every subject) held this tick: see the module docstring.
    held: tuple[str, ...] = ()


def is_held(alert_fingerprint: str, held: tuple[str, ...]) -> bool:
    """True when `alert_fingerprint` matches a held pattern (exactly, or as `pattern/subject`)."""
    return any(alert_fingerprint == p or alert_fingerprint.startswith(p + "/") for p in held)


class _Collector:
    """Accumulates one tick's conditions and held patterns for one network."""

    def __init__(self, network: str) -> None:
        self.network = network
        self.conditions: list[Condition] = []
        self.held: list[str] = []

    def add(self, rule: str, subject: str, summary: str, **details: DetailValue) -> None:
        self.conditions.append(
            Condition(
                network=self.network,
                rule=rule,
                subject=subject,
                severity=r.RULES[rule].severity,
                summary=summary,
                details=details,
            )
        )

    def hold(self, rule: str, subject: str = "") -> None:
        self.held.append(fingerprint(self.network, rule, subject))


def evaluate(
    snapshot: NetworkSnapshot, spec: NetworkSpec, memory: WatchMemory, now: float
) -> tuple[list[Condition], WatchMemory]:
    """The conditions that hold in `snapshot`, and the memory to pass to the next tick."""
    out = _Collector(snapshot.network)
    memory = _leadership(snapshot, memory, now, out)
    memory = _stall(snapshot, spec, memory, now, out)
    for node in snapshot.nodes:
        _node_rules(snapshot, spec, node, out)
    _drift(snapshot, out)
    _inhibit(out)
    return out.conditions, memory.model_copy(update={"held": tuple(dict.fromkeys(out.held))})


def _leadership(snapshot: NetworkSnapshot, memory: WatchMemory, now: float, out: _Collector) -> WatchMemory:
    answering = [n for n in snapshot.nodes if n.conductor_reachable]
    total = len(snapshot.nodes)
    if not answering:
        out.add(r.ALL_UNREACHABLE, "", f"none of the {total} conductors answers", conductors=total)
        for rule in (r.NO_LEADER, r.MULTIPLE_LEADERS, r.NO_ACTIVE, r.MULTIPLE_ACTIVE):
            out.hold(rule)
        return memory
    leaders = snapshot.leaders
    believed = snapshot.node(snapshot.raft_leader_id) if snapshot.raft_leader_id else None
    if not leaders and believed is not None and not believed.conductor_reachable:
        # The followers name a leader we cannot reach: that is node_unreachable, not a lost leader.
        out.hold(r.NO_LEADER)
    elif not leaders:
        out.add(
            r.NO_LEADER,
            "",
            f"no conductor reports leadership ({len(answering)} of {total} conductors answer)",
            answering=len(answering),
            conductors=total,
        )
    elif len(leaders) > 1:
        out.add(
            r.MULTIPLE_LEADERS,
            "",
            f"{len(leaders)} conductors report leadership: {', '.join(leaders)}",
            leaders=len(leaders),
        )
    current = snapshot.raft_leader_id
    if current is not None and current != memory.leader_id:
        if memory.leader_id is not None:
            out.add(
                r.LEADER_CHANGED,
                "",
                f"leader changed {memory.leader_id} → {current}",
                **{"from": memory.leader_id, "to": current},
            )
        memory = memory.model_copy(update={"leader_id": current, "previous_leader_id": memory.leader_id})
    return _active(snapshot, memory, now, out)


def _active(snapshot: NetworkSnapshot, memory: WatchMemory, now: float, out: _Collector) -> WatchMemory:
    active = snapshot.active_sequencers
    all_known = all(n.sequencer_active is not None for n in snapshot.nodes)
    stepping_down_since: float | None = None
    if len(active) > 1:
        stepping = [a for a in active if a not in snapshot.leaders and a == memory.previous_leader_id]
        others = [a for a in active if a not in stepping]
        if len(stepping) == 1 and len(others) == 1 and others[0] in snapshot.leaders:
            # Routine hand-over: hold the alert (neither raise nor clear) until it has lasted a while.
            stepping_down_since = memory.stepping_down_since or now
        if stepping_down_since is not None and now - stepping_down_since < STEPPING_DOWN_SECONDS:
            out.hold(r.MULTIPLE_ACTIVE)
        else:
            note = f" ({stepping[0]} is the previous leader, stepping down)" if stepping else ""
            details: dict[str, DetailValue] = {"active": len(active)}
            if stepping:
                details["stepping_down"] = stepping[0]
            out.add(
                r.MULTIPLE_ACTIVE,
                "",
                f"{len(active)} active sequencers: {', '.join(active)}{note}",
                **details,
            )
    elif not all_known:
        # Unknown is not over: keep when the hand-over began.
        stepping_down_since = memory.stepping_down_since
        out.hold(r.MULTIPLE_ACTIVE)
    if stepping_down_since != memory.stepping_down_since:
        memory = memory.model_copy(update={"stepping_down_since": stepping_down_since})
    if active or not snapshot.leaders:
        return memory
    if not all_known:
        out.hold(r.NO_ACTIVE)
        return memory
    out.add(
        r.NO_ACTIVE,
        "",
        f"leader {snapshot.leaders[0]} has no active sequencer "
        f"(none of {len(snapshot.nodes)} op-nodes is sequencing)",
        nodes=len(snapshot.nodes),
    )
    return memory


def _stall(
    snapshot: NetworkSnapshot, spec: NetworkSpec, memory: WatchMemory, now: float, out: _Collector
) -> WatchMemory:
    best = snapshot.best_unsafe
    if best is None:
        out.hold(r.CHAIN_STALLED)
        return memory
    if memory.best_unsafe_number != best.number or memory.best_advanced_at is None:
        memory = memory.model_copy(update={"best_unsafe_number": best.number, "best_advanced_at": now})
    th = spec.thresholds
    still_for = now - (memory.best_advanced_at or now)
    age = now - best.timestamp
    if still_for >= th.stall_seconds:
        out.add(
            r.CHAIN_STALLED,
            "",
            f"best unsafe head #{best.number} has not advanced for {still_for:.0f}s "
            f"(threshold {th.stall_seconds:.0f}s)",
            best_number=best.number,
            stalled_seconds=round(still_for, 1),
        )
    elif age > th.max_head_age_seconds:
        # Right after a restart memory has no history; an old head timestamp still tells.
        out.add(
            r.CHAIN_STALLED,
            "",
            f"best unsafe head #{best.number} is {age:.0f}s old (max {th.max_head_age_seconds:.0f}s)",
            best_number=best.number,
            head_age_seconds=round(age, 1),
        )
    return memory


def _node_rules(snapshot: NetworkSnapshot, spec: NetworkSpec, n: NodeStatus, out: _Collector) -> None:
    th = spec.thresholds
    down = [e for ep in ("conductor", "node") if (e := n.endpoint_down(ep)) is not None]
    if down:
        out.add(
            r.NODE_UNREACHABLE,
            n.id,
            f"{n.id}: " + "; ".join(f"{e.endpoint} {e.kind}: {e.message}" for e in down),
            **{e.endpoint: e.kind for e in down},
        )
    if n.healthy is None:
        out.hold(r.NODE_UNHEALTHY, n.id)
    elif not n.healthy:
        out.add(r.NODE_UNHEALTHY, n.id, f"{n.id}: sequencer unhealthy (conductor health check)")
    if n.id in snapshot.standby:
        pass  # kept paused on purpose until it is added to the cluster
    elif n.paused is None and n.stopped is None:
        out.hold(r.CONDUCTOR_INACTIVE, n.id)
    elif n.stopped or n.paused:
        how = "stopped" if n.stopped else "paused"
        out.add(r.CONDUCTOR_INACTIVE, n.id, f"{n.id}: conductor {how}", state=how)
    if n.leader_overridden is None:
        out.hold(r.LEADER_OVERRIDDEN, n.id)
    elif n.leader_overridden:
        out.add(r.LEADER_OVERRIDDEN, n.id, f"{n.id}: leader overridden on the conductor")
    lag = snapshot.lag.get(n.id)
    if lag is None:
        out.hold(r.HEAD_LAG, n.id)
    elif lag.blocks > th.max_lag_blocks or lag.seconds > th.max_lag_seconds:
        best = snapshot.best_unsafe.number if snapshot.best_unsafe else 0
        out.add(
            r.HEAD_LAG,
            n.id,
            f"{n.id}: {lag.blocks} blocks / {lag.seconds:.0f}s behind the best head #{best} "
            f"(max {th.max_lag_blocks} blocks / {th.max_lag_seconds:.0f}s)",
            lag_blocks=lag.blocks,
            lag_seconds=lag.seconds,
        )
    if n.peers is None:
        out.hold(r.LOW_PEERS, n.id)
    elif n.peers < th.min_peers:
        out.add(r.LOW_PEERS, n.id, f"{n.id}: {n.peers} peers (min {th.min_peers})", peers=n.peers)


def _drift(snapshot: NetworkSnapshot, out: _Collector) -> None:
    if snapshot.membership is None:
        out.hold(r.MEMBERSHIP_DRIFT)
        return
    by_node: dict[str, list[str]] = {}
    for d in snapshot.drift:
        by_node.setdefault(d.sequencer_id, []).append(d.message)
    for node_id, messages in by_node.items():
        kinds = ",".join(d.kind for d in snapshot.drift if d.sequencer_id == node_id)
        out.add(
            r.MEMBERSHIP_DRIFT,
            node_id,
            "; ".join(messages) + f" (membership as {snapshot.membership_source} sees it)",
            kinds=kinds,
        )


_OUTAGE_MUTES = (r.NODE_UNHEALTHY, r.HEAD_LAG, r.LOW_PEERS, r.CHAIN_STALLED)


def _inhibit(out: _Collector) -> None:
    outage = {c.rule for c in out.conditions} & {r.ALL_UNREACHABLE, r.NO_LEADER}
    if not outage:
        return
    muted = set(_OUTAGE_MUTES)
    if r.ALL_UNREACHABLE in outage:
        muted.add(r.NODE_UNREACHABLE)
    out.conditions = [c for c in out.conditions if c.rule not in muted]
    for rule in sorted(muted):
        out.hold(rule)
