"""Start-sequencer preflight beyond `commands.checks`: lag behind the stop hash, quorum, head to beat."""

from __future__ import annotations

from collections.abc import Sequence

from cluster.snapshot import NetworkSnapshot
from cluster.topology import NetworkSpec
from commands.checks import Findings, check_synced, warn


def head_to_beat(snap: NetworkSnapshot, t: str, others: Sequence[str]) -> int | None:
    # A sequencer being stopped may seal one more block before it stops, so beat that one too.
    if others:
        return snap.best_unsafe.number + 1 if snap.best_unsafe is not None else None
    node = snap.node(t)
    return node.unsafe.number if node is not None and node.unsafe is not None else None


def check_commit_quorum(snap: NetworkSnapshot, t: str) -> Findings:
    """op-node commits every sealed block to its conductor, which needs raft (reference §2.1)."""
    node = snap.node(t)
    if node is None or not node.leader_overridden or snap.raft_leader_id == t:
        return []
    return [
        warn(
            "no_commit_quorum",
            f"{t}'s leadership is only overridden: without a raft quorum its conductor cannot commit "
            f"blocks, so op-node will not gossip them unless its own override is set "
            f"(`override-leader {snap.network} {t} --node`)",
        )
    ]


def check_start_lag(snap: NetworkSnapshot, spec: NetworkSpec, t: str) -> Findings:
    lag = snap.lag.get(t)
    if lag is None or lag.blocks == 0:
        return []
    found = check_synced(snap, spec, t, level="block")
    if found and found[0].level == "block":
        return found
    return [
        warn(
            "start_behind",
            f"{t} is {lag.blocks} blocks behind: op-node starts only once its head equals the stop hash",
        )
    ]
