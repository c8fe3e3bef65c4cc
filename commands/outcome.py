"""Is the chain alive after a plan ran? One leader with quorum, one active sequencer, the head moving.

Pure functions of snapshots taken after the steps; the executor polls and waits (bounded) in between.
An override counts as the leader only on the sequencer that is active: the runbook's disaster recovery
runs that way until the cluster is re-bootstrapped, and the outcome says so.
"""

from __future__ import annotations

from collections.abc import Mapping

from cluster.health import chain_advancing, has_quorum, is_overridden
from cluster.snapshot import NetworkSnapshot
from commands.plans import Plan
from commands.prediction import unknown_sequencers
from store.marks import NodeOverrideMark


def committers(snap: NetworkSnapshot, marks: Mapping[str, NodeOverrideMark]) -> tuple[str, ...]:
    """Active sequencers whose blocks can reach the chain: op-node commits each block to its own
    conductor, which must lead raft, unless an override stands in (reference §2.1). An active op-node
    behind a dead or follower conductor seals nothing anyone sees."""
    overridden = {n.id for n in snap.nodes if is_overridden(n)} | set(marks)
    return tuple(a for a in snap.active_sequencers if a == snap.raft_leader_id or a in overridden)


def was_live(snap: NetworkSnapshot, marks: Mapping[str, NodeOverrideMark]) -> bool:
    """Blocks were being produced when the plan was checked (as far as one snapshot can tell): a
    sequencer is active and can commit (a raft leader with quorum, or the DR override)."""
    return bool(committers(snap, marks)) and has_quorum(snap) is not False


def starts_sequencing(plan: Plan) -> bool:
    return any(s.method == "admin_startSequencer" for s in plan.steps)


def chain_problems(
    first: NetworkSnapshot, latest: NetworkSnapshot, marks: Mapping[str, NodeOverrideMark]
) -> list[str]:
    """Why the chain is not live on `latest`, judged against `first` (taken earlier); empty if it is."""
    problems: list[str] = []
    active = committers(latest, marks)
    unknown = unknown_sequencers(latest)
    if len(active) > 1:
        problems.append(f"{len(active)} sequencers are active ({', '.join(active)})")
    elif not active:
        maybe = f" ({', '.join(unknown)} did not answer)" if unknown else ""
        problems.append(f"no sequencer is active and able to commit blocks{maybe}")
    quorum = has_quorum(latest)
    by_override = len(active) == 1 and active[0] != latest.raft_leader_id
    if (latest.raft_leader_id is None or quorum is False) and not by_override:
        problems.append("no raft leader with quorum")
    best = latest.best_unsafe
    if best is None:
        problems.append("no node reports an unsafe head")
    elif chain_advancing(first, latest) is False:
        problems.append(f"the best head is still #{best.number}")
    return problems


def override_note(latest: NetworkSnapshot, marks: Mapping[str, NodeOverrideMark]) -> str:
    """A reminder when the chain runs on an override without a raft quorum (disaster recovery)."""
    if has_quorum(latest) is not False and latest.raft_leader_id is not None:
        return ""
    return (
        " The chain runs on a leader override without a raft quorum: re-bootstrap the cluster as the "
        "runbook's disaster recovery says (step 6) before resuming any conductor."
    )


def next_step(network: str, problems: list[str]) -> str:
    """The manual step an operator takes first for these problems."""
    text = " ".join(problems)
    if "sequencers are active" in text:
        return f"stop all but the one with the best head (`/conductor stop-sequencer {network} NODE`)"
    if "no raft leader" in text:
        return (
            "restore a raft quorum (restart the dead conductors), or follow the runbook's disaster "
            f"recovery (`/conductor pause {network} all`, then `override-leader`)"
        )
    if "no sequencer is active" in text:
        return f"start the node with the best head (`/conductor start-sequencer {network} NODE`)"
    return f"check the active sequencer's op-node and conductor (`/conductor status {network}`)"
