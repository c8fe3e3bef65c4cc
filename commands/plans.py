"""Execution plans: the exact RPC steps an operation runs and the outcome checks that follow.

A `Plan` is data. The executor runs its `steps` in order, stops at the first failure, stores a
step's result under `result_key` when set (a later step's params refer to it with the placeholder
`{"$from": key}`, see `resolve_params`), then takes a fresh snapshot and calls `verify`.
The builders below take already-resolved targets (the leader, the sequencers to stop); choosing
them from a snapshot is `commands.preflight`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from cluster.snapshot import Endpoint, NetworkSnapshot, suffrage_name
from cluster.topology import SequencerSpec

FROM_KEY = "$from"
STOP_HASH = "stop_hash"

# Timeouts per call. conductor_pause/resume wait for the control loop, which can sit inside an
# op-node call; admin_stopSequencer waits for the head to seal and can block forever (op#22318);
# membership changes dial the new member (5 s) before raft's own 5 s enqueue timeout.
CONTROL_TIMEOUT = 10.0
STOP_TIMEOUT = 30.0
MEMBERSHIP_TIMEOUT = 15.0
QUICK_TIMEOUT = 5.0

# Error substrings that mean "already in the wanted state" (op-conductor treats them the same way).
NOT_RUNNING = "sequencer not running"
ALREADY_RUNNING = "sequencer already running"
# op#22924: reported even when the transfer went through; the outcome check decides.
TRANSFER_TIMEOUT = "leadership transfer timeout"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RpcStep(_Frozen):
    """One JSON-RPC call on one sequencer's conductor or op-node."""

    target: str
    endpoint: Endpoint
    method: str
    params: list[JsonValue] = Field(default_factory=list)
    description: str
    timeout: float = Field(default=QUICK_TIMEOUT, gt=0)
    result_key: str | None = None
    tolerate: tuple[str, ...] = ()


class StepResult(_Frozen):
    """What one executed step gave; `detail` is the result or error text, never credentials."""

    index: int
    target: str
    method: str
    ok: bool
    tolerated: bool = False
    detail: str = ""
    seconds: float | None = None


def placeholder(key: str) -> dict[str, JsonValue]:
    """A param standing for the stored result of an earlier step."""
    return {FROM_KEY: key}


class UnresolvedParamError(KeyError):
    """Raised when a step refers to a result no earlier step stored."""


def resolve_params(step: RpcStep, results: Mapping[str, JsonValue]) -> list[JsonValue]:
    """The step's params with every `{"$from": key}` replaced by the stored result."""
    out: list[JsonValue] = []
    for p in step.params:
        if isinstance(p, dict) and set(p) == {FROM_KEY}:
            key = p[FROM_KEY]
            if not isinstance(key, str) or key not in results:
                raise UnresolvedParamError(f"{step.method} on {step.target} needs result {key!r}")
            out.append(results[key])
        else:
            out.append(p)
    return out


def tolerated(step: RpcStep, error_message: str) -> bool:
    """Whether an error from this step means the wanted state already holds."""
    return any(t in error_message for t in step.tolerate)


# --- expected outcomes, checked on the snapshot taken after the steps ---------------------------


class ConductorPaused(_Frozen):
    kind: Literal["conductor_paused"] = "conductor_paused"
    sequencer: str
    paused: bool

    @property
    def description(self) -> str:
        return f"{self.sequencer} conductor {'paused' if self.paused else 'resumed'}"

    def check(self, snap: NetworkSnapshot) -> str | None:
        node = snap.node(self.sequencer)
        actual = node.paused if node is not None else None
        if actual is None:
            return f"{self.sequencer}: paused state unknown (conductor did not answer)"
        if actual != self.paused:
            return f"{self.sequencer} conductor is {'paused' if actual else 'not paused'}"
        return None


class LeaderOverridden(_Frozen):
    kind: Literal["leader_overridden"] = "leader_overridden"
    sequencer: str
    overridden: bool

    @property
    def description(self) -> str:
        return f"{self.sequencer} leader override {'set' if self.overridden else 'cleared'}"

    def check(self, snap: NetworkSnapshot) -> str | None:
        node = snap.node(self.sequencer)
        actual = node.leader_overridden if node is not None else None
        if actual is None:
            return f"{self.sequencer}: override state unknown (conductor did not answer)"
        if actual != self.overridden:
            return f"{self.sequencer} leader override is {'set' if actual else 'not set'}"
        return None


class IsMember(_Frozen):
    kind: Literal["is_member"] = "is_member"
    sequencer: str
    suffrage: int

    @property
    def description(self) -> str:
        return f"{self.sequencer} is a {suffrage_name(self.suffrage)}"

    def check(self, snap: NetworkSnapshot) -> str | None:
        if snap.membership is None or snap.membership.servers is None:
            return "cluster membership unknown"
        member = next((s for s in snap.membership.servers if s.id == self.sequencer), None)
        if member is None:
            return f"{self.sequencer} is not a raft member"
        if member.suffrage != self.suffrage:
            return f"{self.sequencer} is a {suffrage_name(member.suffrage)}"
        return None


class NotMember(_Frozen):
    kind: Literal["not_member"] = "not_member"
    sequencer: str

    @property
    def description(self) -> str:
        return f"{self.sequencer} is not a raft member"

    def check(self, snap: NetworkSnapshot) -> str | None:
        if snap.membership is None or snap.membership.servers is None:
            return "cluster membership unknown"
        if any(s.id == self.sequencer for s in snap.membership.servers):
            return f"{self.sequencer} is still a raft member"
        return None


class LeaderIs(_Frozen):
    kind: Literal["leader_is"] = "leader_is"
    sequencer: str

    @property
    def description(self) -> str:
        return f"leader is {self.sequencer}"

    def check(self, snap: NetworkSnapshot) -> str | None:
        if snap.raft_leader_id != self.sequencer:
            return f"leader is {snap.raft_leader_id or 'unknown'}, expected {self.sequencer}"
        return None


class LeaderIsNot(_Frozen):
    kind: Literal["leader_is_not"] = "leader_is_not"
    sequencer: str

    @property
    def description(self) -> str:
        return f"leader is no longer {self.sequencer}"

    def check(self, snap: NetworkSnapshot) -> str | None:
        if snap.raft_leader_id is None:
            return "no leader after the transfer"
        if snap.raft_leader_id == self.sequencer:
            return f"{self.sequencer} still leads"
        return None


class SequencerStopped(_Frozen):
    kind: Literal["sequencer_stopped"] = "sequencer_stopped"
    sequencer: str

    @property
    def description(self) -> str:
        return f"{self.sequencer} is not sequencing"

    def check(self, snap: NetworkSnapshot) -> str | None:
        node = snap.node(self.sequencer)
        actual = node.sequencer_active if node is not None else None
        if actual is None:
            return f"{self.sequencer}: sequencer state unknown (op-node did not answer)"
        return f"{self.sequencer} is still sequencing" if actual else None


class OnlyActive(_Frozen):
    kind: Literal["only_active"] = "only_active"
    sequencer: str

    @property
    def description(self) -> str:
        return f"exactly one active sequencer and it is {self.sequencer}"

    def check(self, snap: NetworkSnapshot) -> str | None:
        active = snap.active_sequencers
        if active == (self.sequencer,):
            return None
        return f"active sequencers are {', '.join(active) or 'none'}, expected only {self.sequencer}"


class HeadAdvances(_Frozen):
    kind: Literal["head_advances"] = "head_advances"
    beyond: int

    @property
    def description(self) -> str:
        return f"the chain head advances past #{self.beyond}"

    def check(self, snap: NetworkSnapshot) -> str | None:
        best = snap.best_unsafe
        if best is None:
            return "no node reports an unsafe head"
        if best.number > self.beyond:
            return None
        # The usual cause after a disaster-recovery start: op-node commits each block to its conductor,
        # which needs a raft quorum even when its leadership is overridden.
        return (
            f"the chain head is still #{best.number}: no block since the start. Without a raft quorum "
            "the conductor cannot commit blocks; op-node's own override is `override-leader NETWORK "
            "SEQUENCER --node`"
        )


Expectation = Annotated[
    ConductorPaused
    | LeaderOverridden
    | IsMember
    | NotMember
    | LeaderIs
    | LeaderIsNot
    | SequencerStopped
    | OnlyActive
    | HeadAdvances,
    Field(discriminator="kind"),
]


class Plan(_Frozen):
    """Ordered steps, the checks that say whether they had the intended effect, and the steps that undo
    a partial run (`rollback`, run when a step fails after an earlier one succeeded)."""

    summary: str
    steps: tuple[RpcStep, ...]
    expectations: tuple[Expectation, ...] = ()
    rollback: tuple[RpcStep, ...] = ()


def verify(plan: Plan, snapshot: NetworkSnapshot) -> list[str]:
    """The failed expectations of `plan` on a snapshot taken after it ran; empty means success."""
    return [msg for e in plan.expectations if (msg := e.check(snapshot)) is not None]


# --- builders ------------------------------------------------------------------------------------


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
