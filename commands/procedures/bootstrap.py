"""`bootstrap` and `standby`: op-conductor-ops' bootstrap-cluster and bootstrap-standby-cluster.

Both start from the runbook's first step: one node bootstrapped (`OP_CONDUCTOR_RAFT_BOOTSTRAP=true`)
and paused, the others started paused outside the cluster. `bootstrap`: wait until every listed node
answers; refuse if the cluster already runs; check the leader's conductor is paused and nobody else
sequences; start the leader at its head if it is not sequencing; see blocks flow; wait until every
node is synced; add the others as the clusters file says, one at a time; resume every conductor.
`standby`: the same raft cluster, every conductor left paused and no sequencer started.
"""

from __future__ import annotations

from cluster.snapshot import NetworkSnapshot
from cluster.topology import NetworkSpec
from commands.operations import MembershipChange, Procedure, Resume, StartSequencer
from commands.procedures.conditions import (
    AllAnswer,
    AllRunning,
    AllSynced,
    BlocksFlow,
    IsActive,
    UnsafeToStart,
)
from commands.procedures.reconcile import reconcile_steps
from commands.procedures.steps import Act, Resolution, Step, Wait, refuse

SETTLE_TIMEOUT = 120.0
SYNC_TIMEOUT = 1800.0


def resolve_bootstrap(network: str, snap: NetworkSnapshot, spec: NetworkSpec, *, standby: bool) -> Resolution:
    leader = snap.raft_leader_id
    if leader is None:
        return refuse(
            "no conductor leads raft: start the first node with OP_CONDUCTOR_RAFT_BOOTSTRAP=true and "
            "OP_CONDUCTOR_PAUSED=true, then ask again"
        )
    servers = snap.membership.servers if snap.membership is not None else None
    members = {s.id for s in servers or ()}
    missing = [s for s in spec.sequencers if s.id not in members]
    if standby and snap.active_sequencers:
        return refuse(
            f"{', '.join(snap.active_sequencers)} sequences: a standby cluster has no sequencer running"
        )
    running = all(n.paused is False for n in snap.nodes)
    if not standby and len(snap.active_sequencers) == 1 and not missing and running:
        return refuse("the cluster is already healthy and sequencing; nothing to bootstrap")
    changes = tuple(
        MembershipChange(kind="add-voter" if s.voting else "add-nonvoter", sequencer=s.id) for s in missing
    )
    name = "standby" if standby else "bootstrap"
    reasons = [f"{leader} leads the bootstrapped raft cluster"]
    if changes:
        reasons.append("then, one at a time: " + ", ".join(f"{c.kind} {c.sequencer}" for c in changes))
    proc = Procedure(network=network, name=name, sequencer=leader, changes=changes)
    return Resolution(procedure=proc, reasons=tuple(reasons))


def bootstrap_steps(op: Procedure, spec: NetworkSpec) -> tuple[Step, ...]:
    net, leader, lag = op.network, op.sequencer or "", spec.thresholds.max_lag_blocks
    everyone = tuple(s.id for s in spec.sequencers)
    status = f"check the nodes (`/conductor status {net}`)"
    steps: list[Step] = [
        Wait(
            title="every node answers",
            until=AllAnswer(sequencers=everyone),
            timeout=SETTLE_TIMEOUT,
            manual=status,
        )
    ]
    if op.name == "bootstrap":
        steps += [
            Act(
                title=f"start sequencing on {leader}",
                operation=StartSequencer(network=net, sequencer=leader),
                skip_if=IsActive(sequencer=leader),
                refuse_if=UnsafeToStart(sequencer=leader),
            ),
            Wait(
                title="blocks flow",
                until=BlocksFlow(sequencer=leader, blocks=2),
                timeout=SETTLE_TIMEOUT,
                manual=f"check {leader}'s op-node (`/conductor status {net}`)",
            ),
            Wait(
                title="every node synced",
                until=AllSynced(sequencers=everyone, max_lag=lag),
                timeout=SYNC_TIMEOUT,
                manual=status,
            ),
        ]
    steps += [step for change in op.changes for step in reconcile_steps(net, change)]
    if op.name == "bootstrap":
        steps += [
            Act(title="resume every conductor", operation=Resume(network=net)),
            Wait(
                title="every conductor running",
                until=AllRunning(sequencers=everyone),
                timeout=SETTLE_TIMEOUT,
                manual=f"`/conductor resume {net} NODE` for any still paused",
            ),
        ]
    return tuple(steps)
