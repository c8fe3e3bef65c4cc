"""Preflight: the runbook's rules as checks on a fresh snapshot, and the plan they allow.

`prepare(op, snapshot, spec)` returns the plan plus findings. A `block` finding stops the request,
unless it is `forceable` and the operation carries `--force` (then it is shown as overridden).
Each check is a small function named after the rule; messages name nodes and numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.snapshot import VOTER, NetworkSnapshot, ServerInfo, suffrage_name
from bot.topology import NetworkSpec, SequencerSpec
from commands.operations import (
    AddNonvoter,
    AddVoter,
    Operation,
    OverrideLeader,
    Pause,
    RemoveServer,
    Resume,
    StartSequencer,
    StopSequencer,
    TransferLeader,
)
from commands.plans import (
    Plan,
    plan_add_server,
    plan_conductor_override,
    plan_handover,
    plan_node_override,
    plan_pause,
    plan_remove_server,
    plan_stop,
    plan_transfer,
)

Level = Literal["block", "warn", "ok"]


class PreflightFinding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    level: Level
    message: str
    code: str = ""
    # A blocking finding an operator may override with --force (see FORCEABLE_KINDS).
    forceable: bool = False


class PreparedOperation(BaseModel):
    """An operation with its plan (None when nothing sensible can run) and its findings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    operation: Operation
    plan: Plan | None
    findings: tuple[PreflightFinding, ...]

    @property
    def blocking(self) -> tuple[PreflightFinding, ...]:
        """Block findings that still stop the request after --force is taken into account."""
        force = self.operation.force
        return tuple(f for f in self.findings if f.level == "block" and not (force and f.forceable))

    @property
    def forced(self) -> tuple[PreflightFinding, ...]:
        """Block findings overridden by --force: shown loudly to approvers."""
        if not self.operation.force:
            return ()
        return tuple(f for f in self.findings if f.level == "block" and f.forceable)

    @property
    def blocked(self) -> bool:
        return self.plan is None or bool(self.blocking)


Findings = list[PreflightFinding]


def _block(code: str, message: str, *, forceable: bool = False) -> PreflightFinding:
    return PreflightFinding(level="block", code=code, message=message, forceable=forceable)


def _warn(code: str, message: str) -> PreflightFinding:
    return PreflightFinding(level="warn", code=code, message=message)


def _ok(code: str, message: str) -> PreflightFinding:
    return PreflightFinding(level="ok", code=code, message=message)


# --- small named checks ----------------------------------------------------------------------------


def check_conductor_reachable(snap: NetworkSnapshot, node_id: str) -> Findings:
    node = snap.node(node_id)
    if node is None:
        return [_block("target_unknown", f"{node_id} is not in the snapshot")]
    if (err := node.endpoint_down("conductor")) is not None:
        return [_block("conductor_unreachable", f"{node_id} conductor {err.kind}: {err.message}")]
    if node.stopped:
        return [_block("conductor_stopped", f"{node_id} conductor is stopped (needs a process restart)")]
    return []


def check_node_reachable(snap: NetworkSnapshot, node_id: str) -> Findings:
    node = snap.node(node_id)
    if node is None:
        return [_block("target_unknown", f"{node_id} is not in the snapshot")]
    if (err := node.endpoint_down("node")) is not None:
        return [_block("node_unreachable", f"{node_id} op-node {err.kind}: {err.message}")]
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
    if lag.blocks > th.max_lag_blocks or lag.seconds > th.max_lag_seconds:
        msg = (
            f"{node_id} is {lag.blocks} blocks / {lag.seconds:.0f}s behind the best head #{best.number} "
            f"(max {th.max_lag_blocks} blocks / {th.max_lag_seconds:.0f}s)"
        )
        return [PreflightFinding(level=level, code="lagging", message=msg, forceable=forceable)]
    return [_ok("synced", f"{node_id} is synced ({lag.blocks} blocks behind #{best.number})")]


def check_leader(snap: NetworkSnapshot) -> tuple[str | None, Findings]:
    """The raft leader that membership and transfer calls must run on."""
    leader = snap.raft_leader_id
    if leader is None:
        return None, [_block("no_leader", "no raft leader: membership and transfer calls need one")]
    found = check_conductor_reachable(snap, leader)
    return (None, found) if found else (leader, [_ok("leader", f"runs on the leader {leader}")])


def healthy_leader(snap: NetworkSnapshot) -> str | None:
    """A conductor that leads by raft (not by override), answers, and reports a healthy sequencer."""
    leader = snap.raft_leader_id
    node = snap.node(leader) if leader else None
    if node is None or not node.conductor_reachable or node.stopped:
        return None
    if node.leader and not node.leader_overridden and node.healthy:
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
        _warn(
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
        found.append(_ok("not_paused", f"{node_id} is not paused; resume is a no-op"))
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
            _warn(
                "topology_suffrage",
                f"the topology lists {seq.id} as a {suffrage_name(seq.suffrage)}; "
                "membership will drift from the topology",
            )
        )
    return found


def _already_member(node_id: str, current: ServerInfo, *, voter: bool) -> Findings:
    is_voter = current.suffrage == VOTER
    if voter and is_voter:
        return [_warn("already_voter", f"{node_id} is already a voter; AddVoter only updates its address")]
    if voter:
        return [_warn("promote", f"{node_id} is a nonvoter: AddVoter promotes it to a voter")]
    if is_voter:
        return [
            _block(
                "no_demote",
                f"{node_id} is a voter and AddNonvoter does not demote it: remove-server, then add-nonvoter",
            )
        ]
    return [_warn("already_nonvoter", f"{node_id} is already a nonvoter; this changes nothing")]


def check_removal(snap: NetworkSnapshot, node_id: str, leader: str) -> Findings:
    current = member(snap, node_id)
    if current is None:
        return [_warn("not_member", f"{node_id} is not a raft member; removing it changes nothing")]
    found: Findings = []
    servers = snap.membership.servers if snap.membership is not None else None
    voters = [s.id for s in servers or () if s.suffrage == VOTER]
    if voters == [node_id]:
        found.append(_block("last_voter", f"{node_id} is the last voter; raft refuses to remove it"))
    if node_id == leader:
        found.append(
            _warn("removing_leader", f"{node_id} is the leader: it steps down once the removal commits")
        )
    found.append(
        _warn(
            "raft_shutdown",
            f"{node_id}'s raft shuts down when removed; "
            "its conductor needs a restart before it can be re-added",
        )
    )
    return found


def check_transfer_target(snap: NetworkSnapshot, spec: NetworkSpec, target: str, leader: str) -> Findings:
    if target == leader:
        return [_block("already_leader", f"{target} already leads")]
    found = check_conductor_reachable(snap, target)
    # A lagging new leader retries "unsafe head mismatch" while the old one has stopped: a halt.
    found += check_synced(snap, spec, target, level="block", forceable=True)
    current = member(snap, target)
    if current is None:
        found.append(_block("not_member", f"{target} is not a raft member"))
    elif current.suffrage != VOTER:
        found.append(_block("not_voter", f"{target} is a {suffrage_name(current.suffrage)}, not a voter"))
    node = snap.node(target)
    if node is not None and node.healthy is False:
        found.append(_block("target_unhealthy", f"{target} reports an unhealthy sequencer"))
    if node is not None and node.paused:
        found.append(
            _block(
                "target_paused",
                f"{target}'s conductor is paused and would not start sequencing",
                forceable=True,
            )
        )
    return found


def check_sequencer_start_gate(snap: NetworkSnapshot, target: str) -> Findings:
    """op-node asks its conductor `conductor_leader` before it starts (reference §2.1)."""
    node = snap.node(target)
    if node is not None and node.conductor_reachable and (node.leader or node.leader_overridden):
        return []
    message = (
        f"{target}'s conductor is neither leader nor overridden: its op-node refuses to start unless its "
        f"own override is set (`override-leader {snap.network} {target} --node`)"
    )
    if node is not None and node.conductor_reachable and node.leader is False:
        # The conductor answers "not leader", so the start would fail after the active sequencer was
        # already stopped: a halt. Only an op-node override (invisible to us) lets it through.
        return [_block("start_gate", message + "; use --force if that override is set", forceable=True)]
    return [_warn("start_gate", message)]


def warn_control_loops(snap: NetworkSnapshot) -> Findings:
    running = unpaused_conductors(snap)
    if not running:
        return []
    return [
        _warn(
            "conductors_running",
            f"conductors not paused ({', '.join(running)}) may undo a manual start/stop: "
            "the runbook pauses every conductor first",
        )
    ]


# --- one preparer per verb -------------------------------------------------------------------------


def _targets(spec: NetworkSpec, sequencer: str | None) -> tuple[str, ...]:
    return (sequencer,) if sequencer is not None else tuple(s.id for s in spec.sequencers)


def prepare_pause(op: Pause, snap: NetworkSnapshot, spec: NetworkSpec) -> PreparedOperation:
    found: Findings = []
    targets: list[str] = []
    for t in _targets(spec, op.sequencer):
        problems = check_conductor_reachable(snap, t)
        if problems and op.sequencer is None:
            # Pausing "all": a conductor that does not answer cannot be paused; say so and go on.
            found += [_warn(p.code, p.message + "; skipped") for p in problems]
            continue
        found += problems
        node = snap.node(t)
        if node is not None and node.paused:
            found.append(_ok("already_paused", f"{t} is already paused; pause is idempotent"))
        targets.append(t)
    found += warn_nothing_fails_over(snap, tuple(targets))
    if not targets:
        found.append(_block("nothing_to_pause", "no conductor answers, nothing can be paused"))
    plan = plan_pause(targets) if targets else None
    return PreparedOperation(operation=op, plan=plan, findings=tuple(found))


def prepare_resume(op: Resume, snap: NetworkSnapshot, spec: NetworkSpec) -> PreparedOperation:
    targets = _targets(spec, op.sequencer)
    found: Findings = []
    for t in targets:
        found += check_resumable(snap, spec, t)
    return PreparedOperation(operation=op, plan=plan_pause(targets, resume=True), findings=tuple(found))


def prepare_override(op: OverrideLeader, snap: NetworkSnapshot, spec: NetworkSpec) -> PreparedOperation:
    t = op.sequencer
    conductor_problems = check_conductor_reachable(snap, t)
    if op.clear:
        if conductor_problems:
            found = [
                *conductor_problems,
                _block("clear_needs_conductor", f"cannot clear: {t}'s conductor does not answer"),
            ]
            return PreparedOperation(operation=op, plan=None, findings=tuple(found))
        node = snap.node(t)
        found = (
            [_ok("not_overridden", f"{t} is not overridden; clearing is a no-op")]
            if node and (node.leader_overridden is False)
            else []
        )
        return PreparedOperation(
            operation=op, plan=plan_conductor_override(t, clear=True), findings=tuple(found)
        )
    found = []
    if (leader := healthy_leader(snap)) is not None:
        found.append(
            _block(
                "healthy_leader", f"{leader} is a healthy leader: override only when no healthy leader exists"
            )
        )
    if op.node or conductor_problems:
        if not op.node:
            reasons = "; ".join(p.message for p in conductor_problems)
            found.append(_warn("node_fallback", f"{reasons}: using op-node's admin_overrideLeader instead"))
        found += check_node_reachable(snap, t)
        found.append(
            _warn("node_override_sticky", f"op-node's override on {t} is cleared only by restarting op-node")
        )
        return PreparedOperation(operation=op, plan=plan_node_override(t), findings=tuple(found))
    found.append(
        _warn(
            "override_no_sequencing",
            "the conductor override does not make its control loop sequence: pause all conductors, "
            f"override, then start {t} manually (`start-sequencer {op.network} {t}`)",
        )
    )
    running = unpaused_conductors(snap)
    if running:
        found.append(_warn("conductors_running", f"conductors not paused: {', '.join(running)}"))
    return PreparedOperation(
        operation=op, plan=plan_conductor_override(t, clear=False), findings=tuple(found)
    )


def prepare_add(op: AddVoter | AddNonvoter, snap: NetworkSnapshot, spec: NetworkSpec) -> PreparedOperation:
    voter = isinstance(op, AddVoter)
    seq = spec.sequencer(op.sequencer)
    if seq is None:
        return _unknown(op, spec)
    leader, found = check_leader(snap)
    found += check_membership_target(snap, spec, seq, voter=voter)
    plan = plan_add_server(leader, seq, voter=voter) if leader is not None else None
    return PreparedOperation(operation=op, plan=plan, findings=tuple(found))


def prepare_remove(op: RemoveServer, snap: NetworkSnapshot, spec: NetworkSpec) -> PreparedOperation:
    leader, found = check_leader(snap)
    if leader is None:
        return PreparedOperation(operation=op, plan=None, findings=tuple(found))
    found += check_removal(snap, op.sequencer, leader)
    return PreparedOperation(
        operation=op, plan=plan_remove_server(leader, op.sequencer), findings=tuple(found)
    )


def prepare_transfer(op: TransferLeader, snap: NetworkSnapshot, spec: NetworkSpec) -> PreparedOperation:
    leader, found = check_leader(snap)
    if leader is None:
        return PreparedOperation(operation=op, plan=None, findings=tuple(found))
    leader_node = snap.node(leader)
    if leader_node is not None and leader_node.paused:
        found.append(_block("leader_paused", f"the leader {leader}'s conductor is paused", forceable=True))
    if op.sequencer is None:
        servers = snap.membership.servers if snap.membership is not None else None
        others = [s.id for s in servers or () if s.suffrage == VOTER and s.id != leader]
        if not others:
            found.append(_block("no_other_voter", f"no voter besides {leader} to take over"))
        else:
            found.append(_ok("raft_picks", f"raft picks the most up-to-date of {', '.join(others)}"))
            found += [
                _warn(f.code, f"{f.message}: raft may still pick it")
                for o in others
                for f in check_synced(snap, spec, o, level="warn")
                if f.level == "warn"
            ]
        return PreparedOperation(operation=op, plan=plan_transfer(leader, None), findings=tuple(found))
    target = spec.sequencer(op.sequencer)
    if target is None:
        return _unknown(op, spec)
    found += check_transfer_target(snap, spec, target.id, leader)
    return PreparedOperation(operation=op, plan=plan_transfer(leader, target), findings=tuple(found))


def prepare_stop(op: StopSequencer, snap: NetworkSnapshot, spec: NetworkSpec) -> PreparedOperation:
    t = op.sequencer
    found = check_node_reachable(snap, t)
    active = snap.active_sequencers
    if t not in active:
        found.append(_ok("not_active", f"{t} is not sequencing; stopping it is a no-op"))
    elif active == (t,):
        found.append(
            _warn(
                "only_active",
                f"{t} is the only active sequencer: no blocks are produced until one is started",
            )
        )
    node = snap.node(t)
    if node is not None and node.leader and node.paused is False:
        found.append(
            _warn(
                "control_loop", f"{t} leads and its conductor is not paused: it will start sequencing again"
            )
        )
    return PreparedOperation(operation=op, plan=plan_stop(t), findings=tuple(found))


def prepare_start(op: StartSequencer, snap: NetworkSnapshot, spec: NetworkSpec) -> PreparedOperation:
    t = op.sequencer
    found = check_node_reachable(snap, t)
    active = snap.active_sequencers
    if t in active:
        found.append(_block("already_active", f"{t} is already sequencing"))
    # Stop the sequencer with the best head first: its hash is where the new one starts.
    others = sorted(
        (a for a in active if a != t),
        key=lambda a: -(n.unsafe.number if (n := snap.node(a)) and n.unsafe else -1),
    )
    if len(others) > 1:
        found.append(
            _warn("several_active", f"{len(others)} sequencers are active: stopping {', '.join(others)}")
        )
    elif others:
        found.append(_ok("handover", f"{others[0]} stops first; {t} starts at the head it stopped on"))
    start_hash = op.hash
    target = snap.node(t)
    if start_hash is None and not others:
        if target is None or target.unsafe is None:
            found.append(
                _block("no_start_hash", f"nothing is sequencing and {t}'s head is unknown: give --hash")
            )
        else:
            start_hash = target.unsafe.hash
            lag = snap.lag.get(t)
            if lag is not None and lag.blocks > 0:
                # Starting below the best head would build a competing block and reorg the others.
                found.append(
                    _block(
                        "start_below_best",
                        f"nothing is sequencing and {t} is {lag.blocks} blocks behind the best head: "
                        f"starting at its own head #{target.unsafe.number} would reorg those blocks; "
                        "start the node with the best head, or give --hash",
                    )
                )
            found.append(
                _warn(
                    "no_active", f"nothing is sequencing: {t} starts at its own head #{target.unsafe.number}"
                )
            )
    if op.hash is None and others:
        found += _check_start_lag(snap, spec, t)
    found += check_sequencer_start_gate(snap, t) + warn_control_loops(snap)
    found += _check_commit_quorum(snap, t)
    plan = (
        plan_handover(t, others, start_hash, _head_to_beat(snap, t, others))
        if (start_hash is not None or others)
        else None
    )
    return PreparedOperation(operation=op, plan=plan, findings=tuple(found))


def _head_to_beat(snap: NetworkSnapshot, t: str, others: Sequence[str]) -> int | None:
    # A sequencer being stopped may seal one more block before it stops, so beat that one too.
    if others:
        return snap.best_unsafe.number + 1 if snap.best_unsafe is not None else None
    node = snap.node(t)
    return node.unsafe.number if node is not None and node.unsafe is not None else None


def _check_commit_quorum(snap: NetworkSnapshot, t: str) -> Findings:
    """op-node commits every sealed block to its conductor, which needs raft (reference §2.1)."""
    node = snap.node(t)
    if node is None or not node.leader_overridden or snap.raft_leader_id == t:
        return []
    return [
        _warn(
            "no_commit_quorum",
            f"{t}'s leadership is only overridden: without a raft quorum its conductor cannot commit "
            f"blocks, so op-node will not gossip them unless its own override is set "
            f"(`override-leader {snap.network} {t} --node`)",
        )
    ]


def _check_start_lag(snap: NetworkSnapshot, spec: NetworkSpec, t: str) -> Findings:
    lag = snap.lag.get(t)
    if lag is None or lag.blocks == 0:
        return []
    found = check_synced(snap, spec, t, level="block")
    if found and found[0].level == "block":
        return found
    return [
        _warn(
            "start_behind",
            f"{t} is {lag.blocks} blocks behind: op-node starts only once its head equals the stop hash",
        )
    ]


def _unknown(op: Operation, spec: NetworkSpec) -> PreparedOperation:
    known = ", ".join(s.id for s in spec.sequencers)
    finding = _block("unknown_sequencer", f"unknown sequencer in {spec.name}; its sequencers: {known}")
    return PreparedOperation(operation=op, plan=None, findings=(finding,))


def prepare(op: Operation, snapshot: NetworkSnapshot, spec: NetworkSpec) -> PreparedOperation:
    """Run the preflight checks of `op` on a fresh snapshot and build its plan."""
    if snapshot.network != spec.name or op.network != spec.name:
        raise ValueError(f"operation on {op.network}, snapshot of {snapshot.network}, spec of {spec.name}")
    match op:
        case Pause():
            return prepare_pause(op, snapshot, spec)
        case Resume():
            return prepare_resume(op, snapshot, spec)
        case OverrideLeader():
            return prepare_override(op, snapshot, spec)
        case AddVoter() | AddNonvoter():
            return prepare_add(op, snapshot, spec)
        case RemoveServer():
            return prepare_remove(op, snapshot, spec)
        case TransferLeader():
            return prepare_transfer(op, snapshot, spec)
        case StopSequencer():
            return prepare_stop(op, snapshot, spec)
        case StartSequencer():
            return prepare_start(op, snapshot, spec)
