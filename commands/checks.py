"""Preflight checks: the runbook's rules as small functions of a snapshot, each returning findings.

A `block` finding stops a request unless it is `forceable` and the operation carries `--force`; `warn`
and `ok` findings are shown to the approvers. Messages name nodes and numbers. `commands.preflight`
combines these per verb into a plan.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from cluster.health import is_overridden, lag_exceeds
from cluster.snapshot import VOTER, NetworkSnapshot, ServerInfo, suffrage_name
from cluster.topology import NetworkSpec, SequencerSpec

Level = Literal["block", "warn", "ok"]


class PreflightFinding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    level: Level
    message: str
    code: str = ""
    # A blocking finding an operator may override with --force (see FORCEABLE_KINDS).
    forceable: bool = False


Findings = list[PreflightFinding]


def block(code: str, message: str, *, forceable: bool = False) -> PreflightFinding:
    return PreflightFinding(level="block", code=code, message=message, forceable=forceable)


def warn(code: str, message: str) -> PreflightFinding:
    return PreflightFinding(level="warn", code=code, message=message)


def ok(code: str, message: str) -> PreflightFinding:
    return PreflightFinding(level="ok", code=code, message=message)


def check_conductor_reachable(snap: NetworkSnapshot, node_id: str) -> Findings:
    node = snap.node(node_id)
    if node is None:
        return [block("target_unknown", f"{node_id} is not in the snapshot")]
    if (err := node.endpoint_down("conductor")) is not None:
        return [block("conductor_unreachable", f"{node_id} conductor {err.kind}: {err.message}")]
    if node.stopped:
        return [block("conductor_stopped", f"{node_id} conductor is stopped (needs a process restart)")]
    return []


def check_node_reachable(snap: NetworkSnapshot, node_id: str) -> Findings:
    node = snap.node(node_id)
    if node is None:
        return [block("target_unknown", f"{node_id} is not in the snapshot")]
    if (err := node.endpoint_down("node")) is not None:
        return [block("node_unreachable", f"{node_id} op-node {err.kind}: {err.message}")]
    return []


def check_synced(
    snap: NetworkSnapshot, spec: NetworkSpec, node_id: str, *, level: Level, forceable: bool = False
) -> Findings:
    """The node's unsafe head is within the network's lag thresholds of the best head."""
    th = spec.thresholds
    lag = snap.lag.get(node_id)
    best = snap.best_unsafe
    if lag is None or best is None:
        msg = f"{node_id} head is unknown, cannot tell whether it is synced"
        return [PreflightFinding(level=level, code="head_unknown", message=msg, forceable=forceable)]
    if lag_exceeds(lag, th):  # the health model's `lagging` predicate
        msg = (
            f"{node_id} is {lag.blocks} blocks / {lag.seconds:.0f}s behind the best head #{best.number} "
            f"(max {th.max_lag_blocks} blocks / {th.max_lag_seconds:.0f}s)"
        )
        return [PreflightFinding(level=level, code="lagging", message=msg, forceable=forceable)]
    return [ok("synced", f"{node_id} is synced ({lag.blocks} blocks behind #{best.number})")]


def check_leader(snap: NetworkSnapshot) -> tuple[str | None, Findings]:
    """The raft leader that membership and transfer calls must run on."""
    leader = snap.raft_leader_id
    if leader is None:
        return None, [block("no_leader", "no raft leader: membership and transfer calls need one")]
    found = check_conductor_reachable(snap, leader)
    return (None, found) if found else (leader, [ok("leader", f"runs on the leader {leader}")])


def healthy_leader(snap: NetworkSnapshot) -> str | None:
    """A conductor that leads by raft (not by override), answers, and reports a healthy sequencer."""
    leader = snap.raft_leader_id
    node = snap.node(leader) if leader else None
    if node is None or not node.conductor_reachable or node.stopped:
        return None
    if node.leader and not is_overridden(node) and node.healthy:
        return node.id
    return None


def member(snap: NetworkSnapshot, node_id: str) -> ServerInfo | None:
    servers = snap.membership.servers if snap.membership is not None else None
    return next((s for s in servers or () if s.id == node_id), None)


def unpaused_conductors(snap: NetworkSnapshot, exclude: tuple[str, ...] = ()) -> list[str]:
    return [n.id for n in snap.nodes if n.id not in exclude and n.conductor_reachable and n.paused is False]


def warn_nothing_fails_over(snap: NetworkSnapshot, pausing: tuple[str, ...]) -> Findings:
    if unpaused_conductors(snap, exclude=pausing):
        return []
    return [
        warn(
            "no_failover",
            "with every conductor paused nothing fails over automatically: "
            "if the active sequencer dies, sequencing stops until someone acts",
        )
    ]


def check_resumable(snap: NetworkSnapshot, spec: NetworkSpec, node_id: str) -> Findings:
    found = check_conductor_reachable(snap, node_id) + check_node_reachable(snap, node_id)
    if found:
        return found
    node = snap.node(node_id)
    if node is not None and node.paused is False:
        found.append(ok("not_paused", f"{node_id} is not paused; resume is a no-op"))
    # Runbook: a lagging sequencer should not rejoin and possibly lead; --force overrides.
    return found + check_synced(snap, spec, node_id, level="block", forceable=True)


def check_membership_target(
    snap: NetworkSnapshot, spec: NetworkSpec, seq: SequencerSpec, *, voter: bool
) -> Findings:
    found = check_conductor_reachable(snap, seq.id) + check_node_reachable(snap, seq.id)
    # A voter may become leader, so it must be synced; a lagging nonvoter only needs a warning.
    found += check_synced(snap, spec, seq.id, level="block" if voter else "warn")
    current = member(snap, seq.id)
    if current is not None:
        found += _already_member(seq.id, current, voter=voter)
    if voter != seq.voting:
        found.append(
            warn(
                "topology_suffrage",
                f"the topology lists {seq.id} as a {suffrage_name(seq.suffrage)}; "
                "membership will drift from the topology",
            )
        )
    return found


def _already_member(node_id: str, current: ServerInfo, *, voter: bool) -> Findings:
    is_voter = current.suffrage == VOTER
    if voter and is_voter:
        return [warn("already_voter", f"{node_id} is already a voter; AddVoter only updates its address")]
    if voter:
        return [warn("promote", f"{node_id} is a nonvoter: AddVoter promotes it to a voter")]
    if is_voter:
        return [
            block(
                "no_demote",
                f"{node_id} is a voter and AddNonvoter does not demote it: remove-server, then add-nonvoter",
            )
        ]
    return [warn("already_nonvoter", f"{node_id} is already a nonvoter; this changes nothing")]


def check_removal(snap: NetworkSnapshot, node_id: str, leader: str) -> Findings:
    current = member(snap, node_id)
    if current is None:
        return [warn("not_member", f"{node_id} is not a raft member; removing it changes nothing")]
    found: Findings = []
    servers = snap.membership.servers if snap.membership is not None else None
    voters = [s.id for s in servers or () if s.suffrage == VOTER]
    if voters == [node_id]:
        found.append(block("last_voter", f"{node_id} is the last voter; raft refuses to remove it"))
    if node_id == leader:
        found.append(
            warn("removing_leader", f"{node_id} is the leader: it steps down once the removal commits")
        )
    found.append(
        warn(
            "raft_shutdown",
            f"{node_id}'s raft shuts down when removed; "
            "its conductor needs a restart before it can be re-added",
        )
    )
    return found


def check_transfer_target(snap: NetworkSnapshot, spec: NetworkSpec, target: str, leader: str) -> Findings:
    if target == leader:
        return [block("already_leader", f"{target} already leads")]
    found = check_conductor_reachable(snap, target)
    # A lagging new leader retries "unsafe head mismatch" while the old one has stopped: a halt.
    found += check_synced(snap, spec, target, level="block", forceable=True)
    current = member(snap, target)
    if current is None:
        found.append(block("not_member", f"{target} is not a raft member"))
    elif current.suffrage != VOTER:
        found.append(block("not_voter", f"{target} is a {suffrage_name(current.suffrage)}, not a voter"))
    node = snap.node(target)
    if node is not None and node.healthy is False:
        found.append(block("target_unhealthy", f"{target} reports an unhealthy sequencer"))
    if node is not None and node.paused:
        found.append(
            block(
                "target_paused",
                f"{target}'s conductor is paused and would not start sequencing",
                forceable=True,
            )
        )
    return found


def check_sequencer_start_gate(
    snap: NetworkSnapshot, target: str, *, node_overridden: bool = False
) -> Findings:
    """op-node asks its conductor `conductor_leader` before it starts (reference §2.1), unless this bot
    set op-node's own override (`node_overridden`, from the bot's records: op-node cannot report it)."""
    node = snap.node(target)
    if node is not None and node.conductor_reachable and (node.leader or node.leader_overridden):
        return []
    if node_overridden:
        return [ok("start_gate", f"{target}'s op-node override (set by this bot) lets it start")]
    message = (
        f"{target}'s conductor is neither leader nor overridden: its op-node refuses to start unless its "
        f"own override is set (`override-leader {snap.network} {target} --node`)"
    )
    if node is not None and node.conductor_reachable and node.leader is False:
        # The conductor answers "not leader", so the start would fail after the active sequencer was
        # already stopped: a halt. Only an op-node override (invisible to us) lets it through.
        return [block("start_gate", message + "; use --force if that override is set", forceable=True)]
    return [warn("start_gate", message)]


def warn_control_loops(snap: NetworkSnapshot) -> Findings:
    running = unpaused_conductors(snap)
    if not running:
        return []
    return [
        warn(
            "conductors_running",
            f"conductors not paused ({', '.join(running)}) may undo a manual start/stop: "
            "the runbook pauses every conductor first",
        )
    ]


def _shape(f: PreflightFinding) -> tuple[str, str, str]:
    # Numbers (lag, head heights, seconds) move between two snapshots without changing the risk; the
    # digits inside a node id (`seq-2`) do not, so only free-standing numbers are masked.
    return (f.level, f.code, re.sub(r"(?<![\w-])\d+(\.\d+)?", "#", f.message))


_RANK = {"ok": 0, "warn": 1, "block": 2}


def new_findings(
    seen: tuple[PreflightFinding, ...], now: tuple[PreflightFinding, ...]
) -> list[PreflightFinding]:
    """Warnings and blocks in `now` that the approvers did not see in `seen` (new, or now worse)."""
    before = {_shape(f) for f in seen}
    worst: dict[str, int] = {}
    for f in seen:
        worst[f.code] = max(worst.get(f.code, 0), _RANK[f.level])
    return [
        f
        for f in now
        if f.level != "ok" and _shape(f) not in before and _RANK[f.level] >= worst.get(f.code, 0)
    ]
