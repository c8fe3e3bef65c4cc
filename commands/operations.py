"""The mutating operations a user can request, one frozen model per verb.

`Operation` is a discriminated union on `kind` (the verb as typed in Slack), so a request stored in
Redis round-trips unchanged. Parsing from Slack text lives in
`commands.args`; what each operation will run lives in `commands.plans`, and its checks in
`commands.preflight`.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

OperationKind = Literal[
    "pause",
    "resume",
    "override-leader",
    "add-voter",
    "add-nonvoter",
    "remove-server",
    "transfer-leader",
    "stop-sequencer",
    "start-sequencer",
    "procedure",
]

# Verbs where the runbook or op-conductor-ops lets an operator override a blocking check:
# resume of a lagging node (the runbook calls catching up "not strictly necessary"), transfer-leader
# to or from a paused conductor (op-conductor-ops `transfer-leader --force`, infra#156) or to a lagging
# target, and start-sequencer on a node whose conductor is not leader (right only when its op-node
# override is set, which op-node does not report).
FORCEABLE_KINDS: frozenset[str] = frozenset({"resume", "transfer-leader", "start-sequencer"})


class OperationBase(BaseModel):
    """What every operation has: the network it acts on and whether `--force` was given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    network: str = Field(min_length=1)
    force: bool = False

    def _suffix(self) -> str:
        return " --force" if self.force else ""


class Pause(OperationBase):
    """`conductor_pause` on one sequencer, or on all of them when `sequencer` is None."""

    kind: Literal["pause"] = "pause"
    sequencer: str | None = None

    @property
    def command(self) -> str:
        return f"pause {self.network} {self.sequencer or 'all'}{self._suffix()}"


class Resume(OperationBase):
    """`conductor_resume` on one sequencer, or on all of them when `sequencer` is None."""

    kind: Literal["resume"] = "resume"
    sequencer: str | None = None

    @property
    def command(self) -> str:
        return f"resume {self.network} {self.sequencer or 'all'}{self._suffix()}"


class OverrideLeader(OperationBase):
    """Force one sequencer to treat itself as leader (disaster recovery), or clear that override."""

    kind: Literal["override-leader"] = "override-leader"
    sequencer: str
    clear: bool = False
    # Use op-node's `admin_overrideLeader` even if the conductor answers.
    node: bool = False

    @property
    def command(self) -> str:
        flags = (" --clear" if self.clear else "") + (" --node" if self.node else "")
        return f"override-leader {self.network} {self.sequencer}{flags}{self._suffix()}"


class OnSequencer(OperationBase):
    """A verb on one named sequencer and no other argument: its command is `VERB NETWORK SEQUENCER`."""

    kind: str
    sequencer: str

    @property
    def command(self) -> str:
        return f"{self.kind} {self.network} {self.sequencer}{self._suffix()}"


class AddVoter(OnSequencer):
    kind: Literal["add-voter"] = "add-voter"


class AddNonvoter(OnSequencer):
    kind: Literal["add-nonvoter"] = "add-nonvoter"


class RemoveServer(OnSequencer):
    kind: Literal["remove-server"] = "remove-server"


class TransferLeader(OperationBase):
    """Move raft leadership to `sequencer`, or to whichever voter raft picks when None."""

    kind: Literal["transfer-leader"] = "transfer-leader"
    sequencer: str | None = None

    @property
    def command(self) -> str:
        target = f" {self.sequencer}" if self.sequencer else ""
        return f"transfer-leader {self.network}{target}{self._suffix()}"


class StopSequencer(OnSequencer):
    kind: Literal["stop-sequencer"] = "stop-sequencer"


class StartSequencer(OperationBase):
    """Force-active handover: stop whoever sequences, then start `sequencer` at the hash it stopped on."""

    kind: Literal["start-sequencer"] = "start-sequencer"
    sequencer: str
    # Start at this block hash instead of the one the stopped sequencer returns.
    hash: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{64}$")

    @property
    def command(self) -> str:
        h = f" --hash {self.hash}" if self.hash else ""
        return f"start-sequencer {self.network} {self.sequencer}{h}{self._suffix()}"


ProcedureName = Literal[
    "add-sequencer", "recover", "redeploy", "halt", "rollup-boost", "reconcile", "bootstrap", "standby"
]
ExecutionMode = Literal["disabled", "enabled", "dry_run"]


class MembershipChange(BaseModel):
    """One change `reconcile` makes, decided when it was requested."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["add-voter", "add-nonvoter", "remove-server"]
    sequencer: str


class Procedure(OperationBase):
    """A runbook procedure (`commands.procedures`): many steps, approved once as a whole.

    The arguments are resolved when it is requested (e.g. the sequencer `recover` chose, the voter
    `redeploy` hands leadership to), so every replica rebuilds the same steps from this record.
    """

    kind: Literal["procedure"] = "procedure"
    name: ProcedureName
    sequencer: str | None = None
    # recover: the chosen sequencer's conductor answered when requested (else op-node's override only).
    conductor_alive: bool = True
    # redeploy: the voter that takes over leadership first, when the sequencer leads.
    transfer_to: str | None = None
    # rollup-boost: the execution mode to set on the sequencer's rollup-boost.
    mode: ExecutionMode | None = None
    # reconcile, bootstrap, standby: the membership changes, in order.
    changes: tuple[MembershipChange, ...] = ()

    @property
    def command(self) -> str:
        seq = f" {self.sequencer}" if self.sequencer else ""
        mode = f" {self.mode}" if self.mode else ""
        return f"procedure {self.name} {self.network}{seq}{mode}"


# The verbs that run one plan (everything but `procedure`); a procedure's steps are made of them.
SingleOperation: TypeAlias = (
    Pause
    | Resume
    | OverrideLeader
    | AddVoter
    | AddNonvoter
    | RemoveServer
    | TransferLeader
    | StopSequencer
    | StartSequencer
)

Operation = Annotated[SingleOperation | Procedure, Field(discriminator="kind")]
