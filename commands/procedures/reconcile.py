"""`reconcile`: op-conductor-ops' update-cluster-membership done safely, as procedure steps.

Decided on the request's snapshot: add missing members with the file's suffrage (quorum only grows),
promote nonvoters the file calls voters, one change at a time, each confirmed in the membership; remove
members not in the file only with `--remove-extra`, never the leader (checked again before the act).
Demotion is left to a human: raft's addNonvoter does not demote and remove-then-add shuts the node's
raft down.
"""

from __future__ import annotations

from cluster.snapshot import VOTER, NetworkSnapshot
from cluster.topology import NetworkSpec
from commands.operations import AddNonvoter, AddVoter, MembershipChange, Procedure, RemoveServer
from commands.procedures.conditions import InMembership, Leads, NotInMembership
from commands.procedures.steps import Act, Resolution, Step, Wait, refuse

SETTLE_TIMEOUT = 120.0


REMOVE_EXTRA = "--remove-extra"


def resolve_reconcile(
    network: str, snap: NetworkSnapshot, spec: NetworkSpec, *, remove_extra: bool
) -> Resolution:
    """The changes that make the leader's membership match the file: adds first (quorum only grows),
    promotions next, removals (with `--remove-extra`, never the leader) last."""
    servers = snap.membership.servers if snap.membership is not None else None
    if servers is None:
        return refuse("the membership is unknown (no conductor answered it); nothing to reconcile against")
    current = {s.id: s.suffrage for s in servers}
    adds: list[MembershipChange] = []
    promotions: list[MembershipChange] = []
    reasons: list[str] = []
    for seq in spec.sequencers:
        if seq.standby and seq.id not in current:
            continue
        if seq.id not in current:
            adds.append(
                MembershipChange(kind="add-voter" if seq.voting else "add-nonvoter", sequencer=seq.id)
            )
        elif seq.voting and current[seq.id] != VOTER:
            promotions.append(MembershipChange(kind="add-voter", sequencer=seq.id))
        elif not seq.voting and current[seq.id] == VOTER:
            # addServerAsNonvoter does not demote; remove-then-add shuts the node's raft down.
            reasons.append(
                f"{seq.id} is a voter but the file says nonvoter: demote it by hand (remove, restart, add)"
            )
    removals: list[MembershipChange] = []
    for extra in (i for i in current if spec.sequencer(i) is None):
        if extra == snap.raft_leader_id:
            reasons.append(f"{extra} is not in the file but leads: reconcile never removes the leader")
        elif remove_extra:
            removals.append(MembershipChange(kind="remove-server", sequencer=extra))
        else:
            reasons.append(f"{extra} is not in the file: kept (pass `{REMOVE_EXTRA}` to remove it)")
    changes = (*adds, *promotions, *removals)
    if not changes:
        return refuse("the membership already matches the clusters file" + "".join(f"; {r}" for r in reasons))
    listed = ", ".join(f"{c.kind} {c.sequencer}" for c in changes)
    proc = Procedure(network=network, name="reconcile", changes=changes)
    return Resolution(procedure=proc, reasons=(f"changes, one at a time: {listed}", *reasons))


def reconcile_steps(net: str, change: MembershipChange) -> tuple[Step, ...]:
    seq = change.sequencer
    timeout, manual = SETTLE_TIMEOUT, f"check the membership (`/conductor status {net}`)"
    if change.kind == "remove-server":
        gone = NotInMembership(sequencer=seq)
        return (
            Act(
                title=f"remove {seq}",
                operation=RemoveServer(network=net, sequencer=seq),
                skip_if=gone,
                refuse_if=Leads(sequencer=seq),
            ),
            Wait(title=f"{seq} removed", until=gone, timeout=timeout, manual=manual),
        )
    voter = change.kind == "add-voter"
    op = AddVoter(network=net, sequencer=seq) if voter else AddNonvoter(network=net, sequencer=seq)
    member = InMembership(sequencer=seq, suffrage=VOTER if voter else 1)
    return (
        Act(title=f"{change.kind} {seq}", operation=op, skip_if=member),
        Wait(title=f"{seq} a member", until=member, timeout=timeout, manual=manual),
    )
