"""Plan builders: the `Plan` of each operation, from already-resolved targets.

Choosing the targets from a snapshot (the leader, the sequencers to stop) is `commands.preflight`'s job;
what a plan is and how it runs is `commands.plans`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import JsonValue

from cluster.topology import SequencerSpec
from commands.plans import (
    ALREADY_RUNNING,
    CONTROL_TIMEOUT,
    MEMBERSHIP_TIMEOUT,
    NOT_RUNNING,
    STOP_HASH,
    STOP_TIMEOUT,
    TRANSFER_TIMEOUT,
    ConductorPaused,
    HeadAdvances,
    IsMember,
    LeaderIs,
    LeaderIsNot,
    LeaderOverridden,
    NotMember,
    OnlyActive,
    Plan,
    RpcStep,
    SequencerStopped,
    placeholder,
)


def plan_pause(targets: Sequence[str], *, resume: bool = False) -> Plan:
    method, word = ("conductor_resume", "resume") if resume else ("conductor_pause", "pause")
    steps = tuple(
        RpcStep(
            target=t,
            endpoint="conductor",
            method=method,
            description=f"{word} {t}'s conductor",
            timeout=CONTROL_TIMEOUT,
        )
        for t in targets
    )
    return Plan(
        summary=f"{word} the conductor of {', '.join(targets)}",
        steps=steps,
        expectations=tuple(ConductorPaused(sequencer=t, paused=not resume) for t in targets),
    )


def plan_conductor_override(target: str, *, clear: bool) -> Plan:
    word = "clear" if clear else "set"
    return Plan(
        summary=f"{word} the leader override on {target}'s conductor",
        steps=(
            RpcStep(
                target=target,
                endpoint="conductor",
                method="conductor_overrideLeader",
                params=[not clear],
                description=f"{word} {target}'s conductor leader override",
            ),
        ),
        expectations=(LeaderOverridden(sequencer=target, overridden=not clear),),
    )


def plan_node_override(target: str) -> Plan:
    # op-node does not report its override flag, so there is nothing to verify afterwards.
    return Plan(
        summary=f"set the leader override on {target}'s op-node (cleared only by restarting op-node)",
        steps=(
            RpcStep(
                target=target,
                endpoint="node",
                method="admin_overrideLeader",
                description=f"make {target}'s op-node treat itself as leader",
            ),
        ),
    )


def plan_add_server(leader: str, seq: SequencerSpec, *, voter: bool) -> Plan:
    method = "conductor_addServerAsVoter" if voter else "conductor_addServerAsNonvoter"
    role = "voter" if voter else "nonvoter"
    return Plan(
        summary=f"add {seq.id} ({seq.raft_addr}) as a {role}, on leader {leader}",
        steps=(
            RpcStep(
                target=leader,
                endpoint="conductor",
                method=method,
                # version 0: the returned cluster version is always 0 anyway (reference §1.5).
                params=[seq.id, seq.raft_addr, 0],
                description=f"add {seq.id} as a {role}",
                timeout=MEMBERSHIP_TIMEOUT,
            ),
        ),
        expectations=(IsMember(sequencer=seq.id, suffrage=0 if voter else 1),),
    )


def plan_remove_server(leader: str, target: str) -> Plan:
    return Plan(
        summary=f"remove {target} from the raft cluster, on leader {leader}",
        steps=(
            RpcStep(
                target=leader,
                endpoint="conductor",
                method="conductor_removeServer",
                params=[target, 0],
                description=f"remove {target} from the cluster",
                timeout=MEMBERSHIP_TIMEOUT,
            ),
        ),
        expectations=(NotMember(sequencer=target),),
    )


def plan_transfer(leader: str, target: SequencerSpec | None) -> Plan:
    if target is None:
        step = RpcStep(
            target=leader,
            endpoint="conductor",
            method="conductor_transferLeader",
            description=f"{leader} hands leadership to the voter raft picks",
            timeout=CONTROL_TIMEOUT,
            tolerate=(TRANSFER_TIMEOUT,),
        )
        return Plan(
            summary=f"transfer leadership away from {leader}",
            steps=(step,),
            expectations=(LeaderIsNot(sequencer=leader),),
        )
    step = RpcStep(
        target=leader,
        endpoint="conductor",
        method="conductor_transferLeaderToServer",
        params=[target.id, target.raft_addr],
        description=f"{leader} hands leadership to {target.id}",
        timeout=CONTROL_TIMEOUT,
        tolerate=(TRANSFER_TIMEOUT,),
    )
    return Plan(
        summary=f"transfer leadership from {leader} to {target.id}",
        steps=(step,),
        expectations=(LeaderIs(sequencer=target.id),),
    )


def _stop_step(target: str, result_key: str | None) -> RpcStep:
    return RpcStep(
        target=target,
        endpoint="node",
        method="admin_stopSequencer",
        description=f"stop sequencing on {target}",
        timeout=STOP_TIMEOUT,
        result_key=result_key,
        # A stop whose hash is needed must really stop: "not running" returns no hash to start at.
        tolerate=() if result_key else (NOT_RUNNING,),
    )


def plan_stop(target: str) -> Plan:
    return Plan(
        summary=f"stop sequencing on {target}",
        steps=(_stop_step(target, None),),
        expectations=(SequencerStopped(sequencer=target),),
    )


def plan_handover(
    target: str,
    stop: Sequence[str],
    start_hash: str | None,
    head: int | None = None,
    hash_source: str = "the given hash",
) -> Plan:
    """Stop every sequencer in `stop` (the first one's head hash is kept) and start `target`.

    With `start_hash` the start uses it (`hash_source` says where it came from, for the plan's words);
    otherwise the hash returned by the first stop. With `head`, the outcome also needs the chain to grow
    past it: an active flag alone does not prove blocks flow.
    """
    if start_hash is None and not stop:
        raise ValueError("a handover needs a hash or a sequencer to stop")
    steps = [_stop_step(s, STOP_HASH if i == 0 and start_hash is None else None) for i, s in enumerate(stop)]
    hash_param: JsonValue = start_hash if start_hash is not None else placeholder(STOP_HASH)
    source = hash_source if start_hash is not None else f"the head {stop[0]} stopped on"
    steps.append(
        RpcStep(
            target=target,
            endpoint="node",
            method="admin_startSequencer",
            params=[hash_param],
            description=f"start sequencing on {target} at {source}",
            timeout=CONTROL_TIMEOUT,
            tolerate=(ALREADY_RUNNING,),
        )
    )
    stopping = f"stop {', '.join(stop)}, then " if stop else ""
    # If the start fails after the first stop, the chain would halt: restart that one where it stopped.
    rollback = (
        (
            RpcStep(
                target=stop[0],
                endpoint="node",
                method="admin_startSequencer",
                params=[placeholder(STOP_HASH)],
                description=f"restart sequencing on {stop[0]} at the head it stopped on",
                timeout=CONTROL_TIMEOUT,
                tolerate=(ALREADY_RUNNING,),
            ),
        )
        if start_hash is None and stop
        else ()
    )
    return Plan(
        summary=f"{stopping}start {target} at {source}",
        steps=tuple(steps),
        rollback=rollback,
        expectations=(OnlyActive(sequencer=target),) + (() if head is None else (HeadAdvances(beyond=head),)),
    )
