"""Preflight: per verb, the checks (`commands.checks`) on a fresh snapshot and the plan they allow.

`prepare(op, snapshot, spec)` returns the plan plus findings. A `block` finding stops the request,
unless it is `forceable` and the operation carries `--force` (then it is shown as overridden).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from chat.text import utc_time
from cluster.snapshot import VOTER, NetworkSnapshot
from cluster.topology import NetworkSpec
from commands import invariants
from commands.checks import (
    Findings,
    PreflightFinding,
    block,
    check_conductor_reachable,
    check_leader,
    check_membership_target,
    check_node_reachable,
    check_removal,
    check_resumable,
    check_sequencer_start_gate,
    check_synced,
    check_transfer_target,
    healthy_leader,
    ok,
    unpaused_conductors,
    warn,
    warn_control_loops,
    warn_nothing_fails_over,
)
from commands.operations import (
    AddNonvoter,
    AddVoter,
    Operation,
    OverrideLeader,
    Pause,
    Procedure,
    RemoveServer,
    Resume,
    StartSequencer,
    StopSequencer,
    TransferLeader,
)
from commands.plan_builders import (
    plan_add_server,
    plan_conductor_override,
    plan_handover,
    plan_node_override,
    plan_pause,
    plan_remove_server,
    plan_stop,
    plan_transfer,
)
from commands.plans import Plan
from commands.prediction import unknown_sequencers
from commands.start_checks import check_commit_quorum, check_start_lag, head_to_beat
from store.marks import NodeOverrideMark

Marks = Mapping[str, NodeOverrideMark]


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


# --- one preparer per verb -------------------------------------------------------------------------


def _targets(spec: NetworkSpec, snap: NetworkSnapshot, sequencer: str | None) -> tuple[str, ...]:
    """The named sequencer, or for `all` every one except standby nodes (not raft members yet)."""
    if sequencer is not None:
        return (sequencer,)
    return tuple(s.id for s in spec.sequencers if s.id not in snap.standby)


def _standby_skipped(snap: NetworkSnapshot, op: Pause | Resume) -> Findings:
    if op.sequencer is not None or not snap.standby:
        return []
    names = ", ".join(snap.standby)
    return [
        ok("standby_skipped", f"standby {names} left alone: not a raft member yet (name it to act on it)")
    ]


def prepare_pause(op: Pause, snap: NetworkSnapshot, spec: NetworkSpec) -> PreparedOperation:
    found: Findings = _standby_skipped(snap, op)
    targets: list[str] = []
    for t in _targets(spec, snap, op.sequencer):
        problems = check_conductor_reachable(snap, t)
        if problems and op.sequencer is None:
            # Pausing "all": a conductor that does not answer cannot be paused; say so and go on.
            found += [warn(p.code, p.message + "; skipped") for p in problems]
            continue
        found += problems
        node = snap.node(t)
        if node is not None and node.paused:
            found.append(ok("already_paused", f"{t} is already paused; pause is idempotent"))
        targets.append(t)
    found += warn_nothing_fails_over(snap, tuple(targets))
    if not targets:
        found.append(block("nothing_to_pause", "no conductor answers, nothing can be paused"))
    plan = plan_pause(targets) if targets else None
    return PreparedOperation(operation=op, plan=plan, findings=tuple(found))


def prepare_resume(op: Resume, snap: NetworkSnapshot, spec: NetworkSpec) -> PreparedOperation:
    targets = _targets(spec, snap, op.sequencer)
    found: Findings = _standby_skipped(snap, op)
    for t in targets:
        found += check_resumable(snap, spec, t)
    return PreparedOperation(operation=op, plan=plan_pause(targets, resume=True), findings=tuple(found))


def prepare_override(
    op: OverrideLeader, snap: NetworkSnapshot, spec: NetworkSpec, marks: Marks
) -> PreparedOperation:
    t = op.sequencer
    conductor_problems = check_conductor_reachable(snap, t)
    mark = marks.get(t)
    if op.clear:
        if conductor_problems:
            found = [
                *conductor_problems,
                block("clear_needs_conductor", f"cannot clear: {t}'s conductor does not answer"),
            ]
            return PreparedOperation(operation=op, plan=None, findings=tuple(found))
        node = snap.node(t)
        not_overridden = node is not None and node.leader_overridden is False
        if mark is not None:
            sticky = f"{describe_mark(mark)}, not `--clear`"
            if not_overridden:
                found = [block("node_override_sticky", f"{t}'s conductor is not overridden; the {sticky}")]
                return PreparedOperation(operation=op, plan=None, findings=tuple(found))
            found = [warn("node_override_sticky", f"this clears the conductor's override only; the {sticky}")]
        else:
            found = (
                [ok("not_overridden", f"{t} is not overridden; clearing is a no-op")]
                if not_overridden
                else []
            )
        return PreparedOperation(
            operation=op, plan=plan_conductor_override(t, clear=True), findings=tuple(found)
        )
    found = []
    if (leader := healthy_leader(snap)) is not None:
        found.append(
            block(
                "healthy_leader", f"{leader} is a healthy leader: override only when no healthy leader exists"
            )
        )
    if op.node or conductor_problems:
        if not op.node:
            reasons = "; ".join(p.message for p in conductor_problems)
            found.append(warn("node_fallback", f"{reasons}: using op-node's admin_overrideLeader instead"))
        found += check_node_reachable(snap, t)
        found.append(
            warn("node_override_sticky", f"op-node's override on {t} is cleared only by restarting op-node")
        )
        return PreparedOperation(operation=op, plan=plan_node_override(t), findings=tuple(found))
    found.append(
        warn(
            "override_no_sequencing",
            "the conductor override does not make its control loop sequence: pause all conductors, "
            f"override, then start {t} manually (`start-sequencer {op.network} {t}`)",
        )
    )
    running = unpaused_conductors(snap)
    if running:
        found.append(warn("conductors_running", f"conductors not paused: {', '.join(running)}"))
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
        found.append(block("leader_paused", f"the leader {leader}'s conductor is paused", forceable=True))
    if op.sequencer is None:
        servers = snap.membership.servers if snap.membership is not None else None
        others = [s.id for s in servers or () if s.suffrage == VOTER and s.id != leader]
        if not others:
            found.append(block("no_other_voter", f"no voter besides {leader} to take over"))
        else:
            found.append(ok("raft_picks", f"raft picks the most up-to-date of {', '.join(others)}"))
            lagging = [
                f for o in others for f in check_synced(snap, spec, o, level="warn") if f.level == "warn"
            ]
            if len(lagging) == len(others):
                # Like a targeted transfer to a lagging voter: whoever raft picks cannot start in time.
                found += [block(f.code, f.message, forceable=True) for f in lagging]
            else:
                found += [warn(f.code, f"{f.message}: raft may still pick it") for f in lagging]
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
        found.append(ok("not_active", f"{t} is not sequencing; stopping it is a no-op"))
    elif active == (t,):
        found.append(
            warn(
                "only_active",
                f"{t} is the only active sequencer: no blocks are produced until one is started",
            )
        )
    # A running control loop that restarts it is the invariants' `stop_undone`.
    return PreparedOperation(operation=op, plan=plan_stop(t), findings=tuple(found))


def prepare_start(
    op: StartSequencer, snap: NetworkSnapshot, spec: NetworkSpec, marks: Marks
) -> PreparedOperation:
    t = op.sequencer
    found = check_node_reachable(snap, t)
    active = snap.active_sequencers
    if t in active:
        found.append(block("already_active", f"{t} is already sequencing"))
    # Stop the sequencer with the best head first: its hash is where the new one starts.
    others = sorted(
        (a for a in active if a != t),
        key=lambda a: -(n.unsafe.number if (n := snap.node(a)) and n.unsafe else -1),
    )
    if len(others) > 1:
        found.append(
            warn("several_active", f"{len(others)} sequencers are active: stopping {', '.join(others)}")
        )
    elif others:
        found.append(ok("handover", f"{others[0]} stops first; {t} starts at the head it stopped on"))
    start_hash = op.hash
    hash_source = "the given hash"
    target = snap.node(t)
    if start_hash is None and not others:
        if target is None or target.unsafe is None:
            found.append(
                block(
                    "no_start_hash",
                    f"nothing is sequencing and {t}'s head is unknown: wait until its op-node answers",
                )
            )
        else:
            start_hash = target.unsafe.hash
            hash_source = f"its own head #{target.unsafe.number}"
            # Whether that head is below the best one is the invariants' call (`start_below_best`).
            unknown = unknown_sequencers(snap)
            nothing = (
                f"no node that answered is sequencing ({', '.join(unknown)} did not say)"
                if unknown
                else "nothing is sequencing"
            )
            found.append(warn("no_active", f"{nothing}: {t} starts at its own head #{target.unsafe.number}"))
    if op.hash is None and others:
        found += check_start_lag(snap, spec, t)
    found += check_sequencer_start_gate(snap, t, node_overridden=t in marks) + warn_control_loops(snap)
    found += check_commit_quorum(snap, t)
    plan = (
        plan_handover(t, others, start_hash, head_to_beat(snap, t, others), hash_source)
        if (start_hash is not None or others)
        else None
    )
    return PreparedOperation(operation=op, plan=plan, findings=tuple(found))


def _unknown(op: Operation, spec: NetworkSpec) -> PreparedOperation:
    known = ", ".join(s.id for s in spec.sequencers)
    finding = block("unknown_sequencer", f"unknown sequencer in {spec.name}; its sequencers: {known}")
    return PreparedOperation(operation=op, plan=None, findings=(finding,))


def prepare(
    op: Operation, snapshot: NetworkSnapshot, spec: NetworkSpec, marks: Marks | None = None
) -> PreparedOperation:
    """Run the preflight checks of `op` on a fresh snapshot, build its plan, and judge the cluster
    that plan leaves behind (`commands.invariants`). `marks`: op-node overrides this bot set."""
    if snapshot.network != spec.name or op.network != spec.name:
        raise ValueError(f"operation on {op.network}, snapshot of {snapshot.network}, spec of {spec.name}")
    marks = marks or {}
    prepared = _prepare_verb(op, snapshot, spec, marks)
    if prepared.plan is None:
        return prepared
    halting = isinstance(op, StopSequencer)
    found = invariants.check(snapshot, prepared.plan, marks, halting=halting)
    return prepared.model_copy(update={"findings": prepared.findings + tuple(found)})


def describe_mark(mark: NodeOverrideMark) -> str:
    return (
        f"op-node override on {mark.sequencer} was set by request `{mark.request_id}` (<@{mark.requester}>) "
        f"at {utc_time(mark.at)}; only an op-node restart clears it"
    )


def _prepare_verb(
    op: Operation, snapshot: NetworkSnapshot, spec: NetworkSpec, marks: Marks
) -> PreparedOperation:
    match op:
        case Pause():
            return prepare_pause(op, snapshot, spec)
        case Resume():
            return prepare_resume(op, snapshot, spec)
        case OverrideLeader():
            return prepare_override(op, snapshot, spec, marks)
        case AddVoter() | AddNonvoter():
            return prepare_add(op, snapshot, spec)
        case RemoveServer():
            return prepare_remove(op, snapshot, spec)
        case TransferLeader():
            return prepare_transfer(op, snapshot, spec)
        case StopSequencer():
            return prepare_stop(op, snapshot, spec)
        case StartSequencer():
            return prepare_start(op, snapshot, spec, marks)
        case Procedure():
            # A procedure is checked step by step (`commands.procedures.runner`), never as one plan.
            finding = block("procedure", "a procedure has no single plan; each step is prepared as it runs")
            return PreparedOperation(operation=op, plan=None, findings=(finding,))
