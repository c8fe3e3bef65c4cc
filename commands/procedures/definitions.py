"""The runbook's procedures as data: per procedure, its ordered steps. Pure: no I/O.

Three kinds of step:

    Act         one existing operation (pause, add-voter, override-leader, …). The runner prepares it on
                a fresh snapshot just before it runs, so preflight and the invariants judge it then.
    Wait        a condition over snapshots with a timeout; shows a live number ("lag 120 → 15 blocks").
    Checkpoint  a human does something outside the bot and presses Continue.

`resolve(...)` turns a request (`procedure NAME NETWORK [SEQ]`) into a `Procedure` operation on a
snapshot taken at request time (which sequencer `recover` picks and why, where `redeploy` hands
leadership to); `steps_of(op, spec)` rebuilds the same steps from that record on any replica.
Every step names the manual command an operator uses when the procedure stops there.
"""

from __future__ import annotations

from cluster.snapshot import VOTER, NetworkSnapshot
from cluster.topology import NetworkSpec
from commands.operations import (
    AddNonvoter,
    AddVoter,
    ExecutionMode,
    OverrideLeader,
    Pause,
    Procedure,
    ProcedureName,
    Resume,
    StartSequencer,
    StopSequencer,
    TransferLeader,
)
from commands.procedures.bootstrap import bootstrap_steps, resolve_bootstrap
from commands.procedures.conditions import (
    Answers,
    BlocksFlow,
    ConductorRunning,
    InMembership,
    NoConductorAnswers,
    NothingActive,
    Synced,
)
from commands.procedures.reconcile import REMOVE_EXTRA, reconcile_steps, resolve_reconcile
from commands.procedures.steps import (
    Act,
    Checkpoint,
    Resolution,
    SetExecutionMode,
    Step,
    Wait,
    refuse,
)

# Bounds of the waits (virtual time in tests). Syncing a node from far behind takes long; the rest is
# a few poll intervals of a healthy cluster.
SYNC_TIMEOUT = 1800.0
SETTLE_TIMEOUT = 120.0
BLOCKS_FLOW = 3
EXECUTION_MODES: tuple[ExecutionMode, ...] = ("disabled", "enabled", "dry_run")

PROCEDURE_SUMMARIES: dict[ProcedureName, str] = {
    "add-sequencer": "wait until a new sequencer is synced, add it (voter or not, as configured), resume it",
    "recover": "disaster recovery: pause all, override one leader, start it at the best head",
    "redeploy": "hand leadership away, pause, wait for your redeploy and the catch-up, resume",
    "halt": "pause every conductor and stop the active sequencer: the chain stops",
    "rollup-boost": "set rollup-boost's execution mode on a sequencer and read it back",
    "reconcile": "make the raft membership match the clusters file, one change at a time",
    "bootstrap": "from one bootstrapped paused node: start it, add the others, resume every conductor",
    "standby": "form the raft cluster across every node, conductors left paused, no sequencer started",
}
PROCEDURE_USAGES: dict[ProcedureName, str] = {
    "add-sequencer": "add-sequencer NETWORK SEQUENCER",
    "recover": "recover NETWORK [SEQUENCER]",
    "redeploy": "redeploy NETWORK SEQUENCER",
    "halt": "halt NETWORK",
    "rollup-boost": "rollup-boost NETWORK SEQUENCER disabled|enabled|dry_run",
    "reconcile": "reconcile NETWORK [--remove-extra]",
    "bootstrap": "bootstrap NETWORK",
    "standby": "standby NETWORK",
}


def resolve(
    name: str, network: str, args: tuple[str, ...], snap: NetworkSnapshot, spec: NetworkSpec
) -> Resolution:
    """The procedure a request names, with its choices made on `snap`, or why it cannot run."""
    if name not in PROCEDURE_USAGES:
        return refuse(f"unknown procedure `{name}`; procedures: {', '.join(PROCEDURE_USAGES)}")
    proc: ProcedureName = name
    usage = f"`/conductor procedure {PROCEDURE_USAGES[proc]}`"
    seq = args[0] if args else None
    if proc == "rollup-boost":
        return _resolve_boost(network, args, spec, usage)
    if proc in ("bootstrap", "standby"):
        if args:
            return refuse(f"usage: {usage}")
        return resolve_bootstrap(network, snap, spec, standby=proc == "standby")
    if proc == "reconcile":
        if args not in ((), (REMOVE_EXTRA,)):
            return refuse(f"usage: {usage}")
        return resolve_reconcile(network, snap, spec, remove_extra=bool(args))
    if len(args) > 1 or (seq is None and proc in ("add-sequencer", "redeploy")) or (seq and proc == "halt"):
        return refuse(f"usage: {usage}")
    if seq is not None and spec.sequencer(seq) is None:
        known = ", ".join(s.id for s in spec.sequencers)
        return refuse(f"unknown sequencer `{seq}` in {network}; its sequencers: {known}")
    match proc:
        case "recover":
            return _resolve_recover(network, seq, snap)
        case "redeploy":
            assert seq is not None
            return _resolve_redeploy(network, seq, snap, spec)
        case "halt":
            active = snap.active_sequencers
            if not active:
                return refuse(f"nothing is sequencing on {network}: there is nothing to halt")
            reasons = (
                f"the active sequencer is {active[0]}",
                "this HALTS THE CHAIN: no blocks until someone starts a sequencer again",
            )
            return Resolution(
                procedure=Procedure(network=network, name="halt", sequencer=active[0]), reasons=reasons
            )
        case _:
            return Resolution(procedure=Procedure(network=network, name=proc, sequencer=seq))


def _resolve_boost(network: str, args: tuple[str, ...], spec: NetworkSpec, usage: str) -> Resolution:
    if len(args) != 2 or args[1] not in EXECUTION_MODES:
        return refuse(f"usage: {usage}")
    seq = spec.sequencer(args[0])
    if seq is None:
        known = ", ".join(s.id for s in spec.sequencers)
        return refuse(f"unknown sequencer `{args[0]}` in {network}; its sequencers: {known}")
    if seq.rollup_boost_rpc_url is None:
        return refuse(f"{seq.id} has no `rollup_boost_rpc_url` in the clusters file")
    mode: ExecutionMode = args[1]
    return Resolution(procedure=Procedure(network=network, name="rollup-boost", sequencer=seq.id, mode=mode))


def _resolve_recover(network: str, seq: str | None, snap: NetworkSnapshot) -> Resolution:
    reasons: list[str] = []
    if seq is None:
        candidates = [n for n in snap.nodes if n.node_reachable and n.unsafe is not None]
        if not candidates:
            return refuse("no op-node answers with a head, so there is no sequencer to recover on")
        # Highest head first, then a conductor that answers (one override fewer), then a healthy one.
        best = max(
            candidates,
            key=lambda n: (n.unsafe.number if n.unsafe else -1, n.conductor_reachable, n.healthy is True),
        )
        seq = best.id
        head = best.unsafe.number if best.unsafe else 0
        how = "its conductor answers" if best.conductor_reachable else "its conductor is dead"
        reasons.append(f"proposed {seq}: highest head #{head} among op-nodes that answer; {how}")
    node = snap.node(seq)
    if node is None or not node.node_reachable:
        return refuse(f"{seq}'s op-node does not answer: it cannot sequence; name another sequencer")
    alive = node.conductor_reachable
    return Resolution(
        procedure=Procedure(network=network, name="recover", sequencer=seq, conductor_alive=alive),
        reasons=tuple(reasons),
    )


def _resolve_redeploy(network: str, seq: str, snap: NetworkSnapshot, spec: NetworkSpec) -> Resolution:
    if snap.raft_leader_id != seq:
        return Resolution(procedure=Procedure(network=network, name="redeploy", sequencer=seq))
    voters = [s.id for s in spec.sequencers if s.voting and s.id != seq and not s.standby]

    def health(v: str) -> tuple[bool, int]:
        node, lag = snap.node(v), snap.lag.get(v)
        return (
            node is not None and node.healthy is True and node.paused is False,
            -(lag.blocks if lag else 10**9),
        )

    ranked = sorted(voters, key=health, reverse=True)
    if not ranked or not health(ranked[0])[0]:
        return refuse(f"{seq} leads and no other voter is healthy and unpaused to take over")
    reason = f"{seq} leads: leadership goes first to {ranked[0]}, the healthiest voter"
    proc = Procedure(network=network, name="redeploy", sequencer=seq, transfer_to=ranked[0])
    return Resolution(procedure=proc, reasons=(reason,))


def steps_of(op: Procedure, spec: NetworkSpec) -> tuple[Step, ...]:
    """The procedure's steps; the same on every replica for the same record."""
    net, seq, lag = op.network, op.sequencer or "", spec.thresholds.max_lag_blocks
    match op.name:
        case "add-sequencer":
            return _add_sequencer(spec, net, seq, lag)
        case "recover":
            return _recover(op, net, seq)
        case "redeploy":
            return _redeploy(op, net, seq, lag)
        case "halt":
            return _halt(net, seq)
        case "bootstrap" | "standby":
            return bootstrap_steps(op, spec)
        case "reconcile":
            return tuple(step for change in op.changes for step in reconcile_steps(net, change))
        case "rollup-boost":
            mode = op.mode or "enabled"
            return (SetExecutionMode(title=f"set {seq}'s rollup-boost to {mode}", sequencer=seq, mode=mode),)


def _add_sequencer(spec: NetworkSpec, net: str, seq: str, lag: int) -> tuple[Step, ...]:
    target = spec.sequencer(seq)
    voting = target is None or target.voting
    add = AddVoter(network=net, sequencer=seq) if voting else AddNonvoter(network=net, sequencer=seq)
    return (
        Wait(
            title=f"{seq} synced",
            until=Synced(sequencer=seq, max_lag=lag),
            timeout=SYNC_TIMEOUT,
            manual=f"check {seq}'s op-node sync (`/conductor status {net}`)",
        ),
        Act(title=f"add {seq} as {'voter' if voting else 'nonvoter'}", operation=add),
        Wait(
            title=f"{seq} in the membership",
            until=InMembership(sequencer=seq, suffrage=VOTER if voting else 1),
            timeout=SETTLE_TIMEOUT,
            manual=f"check the membership (`/conductor status {net}`)",
        ),
        Act(title=f"resume {seq}'s conductor", operation=Resume(network=net, sequencer=seq)),
        Wait(
            title=f"{seq}'s conductor running",
            until=ConductorRunning(sequencer=seq),
            timeout=SETTLE_TIMEOUT,
            manual=f"check {seq}'s conductor (`/conductor status {net}`)",
        ),
    )


def _recover(op: Procedure, net: str, seq: str) -> tuple[Step, ...]:
    steps: list[Step] = [
        Act(
            title="pause every conductor that answers",
            operation=Pause(network=net),
            skip_if=NoConductorAnswers(),
        )
    ]
    if op.conductor_alive:
        steps.append(
            Act(
                title=f"override {seq}'s conductor as leader",
                operation=OverrideLeader(network=net, sequencer=seq),
            )
        )
    steps += [
        # The conductor has no quorum to commit blocks to, so op-node needs its own override too.
        Act(
            title=f"override {seq}'s op-node as leader",
            operation=OverrideLeader(network=net, sequencer=seq, node=True),
        ),
        Act(
            title=f"start sequencing on {seq} at the best head",
            operation=StartSequencer(network=net, sequencer=seq),
        ),
        Wait(
            title="blocks flow",
            until=BlocksFlow(sequencer=seq, blocks=BLOCKS_FLOW),
            timeout=SETTLE_TIMEOUT,
            manual=f"check {seq}'s op-node (`/conductor status {net}`)",
        ),
    ]
    return tuple(steps)


def _redeploy(op: Procedure, net: str, seq: str, lag: int) -> tuple[Step, ...]:
    steps: list[Step] = []
    if op.transfer_to is not None:
        steps.append(
            Act(
                title=f"hand leadership to {op.transfer_to}",
                operation=TransferLeader(network=net, sequencer=op.transfer_to),
            )
        )
    steps += [
        Act(title=f"pause {seq}'s conductor", operation=Pause(network=net, sequencer=seq)),
        Checkpoint(
            title=f"redeploy {seq}",
            prompt=f"redeploy {seq} with OP_CONDUCTOR_PAUSED=true",
            manual=f"redeploy {seq} with OP_CONDUCTOR_PAUSED=true",
        ),
        Wait(
            title=f"{seq} answers and caught up",
            until=Answers(sequencer=seq, max_lag=lag),
            timeout=SYNC_TIMEOUT,
            manual=f"check {seq} came back (`/conductor status {net}`)",
        ),
        Act(title=f"resume {seq}'s conductor", operation=Resume(network=net, sequencer=seq)),
    ]
    return tuple(steps)


def _halt(net: str, seq: str) -> tuple[Step, ...]:
    return (
        Act(title="pause every conductor", operation=Pause(network=net)),
        Act(title=f"stop sequencing on {seq}", operation=StopSequencer(network=net, sequencer=seq)),
        Wait(
            title="no sequencer active",
            until=NothingActive(),
            timeout=SETTLE_TIMEOUT,
            manual=f"`/conductor stop-sequencer {net} NODE` on whichever is still active",
        ),
    )


def outline(op: Procedure, spec: NetworkSpec) -> tuple[str, ...]:
    """Every step as the approvers see it: acts, waits with condition and timeout, checkpoints."""
    return tuple(s.outline for s in steps_of(op, spec))


def closing_note(op: Procedure) -> str:
    """What the operator does after a procedure that leaves work for them."""
    match op.name:
        case "recover":
            return (
                f" The chain runs on {op.sequencer}'s leader override without a raft quorum. Next, the "
                "runbook's bootstrap: restart the dead conductors (`OP_CONDUCTOR_PAUSED=true`), "
                f"re-bootstrap the raft cluster from {op.sequencer}, then restart {op.sequencer}'s op-node "
                "to clear its `admin_overrideLeader` and clear its conductor's override "
                f"(`override-leader {op.network} {op.sequencer} --clear`)."
            )
        case "halt":
            return (
                " The chain is halted: every conductor is paused and no sequencer runs. To restart it, "
                f"`/conductor start-sequencer {op.network} NODE` on the node with the best head, then "
                "resume the conductors."
            )
        case _:
            return ""
