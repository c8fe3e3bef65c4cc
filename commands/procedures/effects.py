"""Did a call that may have been sent take effect? Asked of a fresh snapshot before anything is re-sent.

Pure. `effect_seen(step, snap)` is True when the cluster shows the call's effect, False when it shows
it did not happen, None when the cluster cannot tell (op-node's `admin_overrideLeader` has no read
method; a node that does not answer). The runner sends again only on False: at most once where the
cluster cannot tell, and the act's outcome check (or the next wait) then says if it did not happen.
"""

from __future__ import annotations

from pydantic import JsonValue

from cluster.snapshot import VOTER, NetworkSnapshot
from commands.plans import STOP_HASH, RpcStep


def _suffrage(snap: NetworkSnapshot, sequencer: str) -> int | None:
    servers = snap.membership.servers if snap.membership is not None else None
    if servers is None:
        return None
    member = next((s for s in servers if s.id == sequencer), None)
    return None if member is None else member.suffrage


def effect_seen(step: RpcStep, snap: NetworkSnapshot) -> bool | None:
    node = snap.node(step.target)
    match step.method:
        case "conductor_pause" | "conductor_resume":
            paused = node.paused if node is not None else None
            return None if paused is None else paused == (step.method == "conductor_pause")
        case "conductor_overrideLeader":
            overridden = node.leader_overridden if node is not None else None
            wanted = bool(step.params[0]) if step.params else True
            return None if overridden is None else overridden == wanted
        case "conductor_addServerAsVoter" | "conductor_addServerAsNonvoter":
            if snap.membership is None or snap.membership.servers is None:
                return None
            suffrage = VOTER if step.method == "conductor_addServerAsVoter" else 1
            return _suffrage(snap, str(step.params[0])) == suffrage
        case "conductor_removeServer":
            if snap.membership is None or snap.membership.servers is None:
                return None
            return _suffrage(snap, str(step.params[0])) is None
        case "conductor_transferLeaderToServer":
            return None if snap.raft_leader_id is None else snap.raft_leader_id == str(step.params[0])
        case "conductor_transferLeader":
            return None if snap.raft_leader_id is None else snap.raft_leader_id != step.target
        case "admin_startSequencer" | "admin_stopSequencer":
            active = node.sequencer_active if node is not None else None
            return None if active is None else active == (step.method == "admin_startSequencer")
        case _:
            return None


def recovered_results(step: RpcStep, snap: NetworkSnapshot) -> dict[str, JsonValue]:
    """Results a later call needs from a call that ran but whose answer was lost with its replica.

    `admin_stopSequencer` answers the hash of the head it stopped on; a stopped node's head is that
    block until something else moves it, which only the (paused) plan itself would do.
    """
    node = snap.node(step.target)
    if step.result_key == STOP_HASH and node is not None and node.unsafe is not None:
        return {STOP_HASH: node.unsafe.hash}
    return {}
