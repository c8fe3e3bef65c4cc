"""Execution plans: the exact RPC steps an operation runs and the outcome checks that follow.

A `Plan` is data. The executor runs its `steps` in order, stops at the first failure, stores a
step's result under `result_key` when set (a later step's params refer to it with the placeholder
`{"$from": key}`, see `resolve_params`), then takes a fresh snapshot and calls `verify`.
The builders (`commands.plan_builders`) take already-resolved targets (the leader, the sequencers to
stop); choosing them from a snapshot is `commands.preflight`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from cluster.snapshot import Endpoint, NetworkSnapshot, suffrage_name

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
