"""The kinds of step a procedure is made of, and what a request resolves to. Pure data.

Act               one existing operation, prepared (preflight and invariants) just before it runs
Wait              a condition over snapshots with a timeout
Checkpoint        a human does something outside the bot and presses Continue
SetExecutionMode  rollup-boost's debug_setExecutionMode, read back after
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from commands.operations import ExecutionMode, Procedure, SingleOperation
from commands.procedures.conditions import Condition


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


StepOperation = Annotated[SingleOperation, Field(discriminator="kind")]

# --- steps ------------------------------------------------------------------------------------------


class Act(_Frozen):
    kind: Literal["act"] = "act"
    title: str
    operation: StepOperation
    # Skipped (and said so) when this holds on the fresh snapshot, e.g. nothing to pause.
    skip_if: Condition | None = None
    # The procedure stops here when this holds (e.g. reconcile never removes the leader).
    refuse_if: Condition | None = None

    @property
    def manual(self) -> str:
        return f"`/conductor {self.operation.command}`"

    @property
    def outline(self) -> str:
        return f"{self.title} — `{self.operation.command}` (preflight and invariants re-checked first)"


class Wait(_Frozen):
    kind: Literal["wait"] = "wait"
    title: str
    until: Condition
    timeout: float = Field(gt=0)
    manual: str

    @property
    def outline(self) -> str:
        return f"wait until {self.until.description} (timeout {_duration(self.timeout)})"


class Checkpoint(_Frozen):
    kind: Literal["checkpoint"] = "checkpoint"
    title: str
    prompt: str
    manual: str

    @property
    def outline(self) -> str:
        return f"checkpoint: {self.prompt}, then press Continue"


class SetExecutionMode(_Frozen):
    """rollup-boost's `debug_setExecutionMode` on the sequencer's `rollup_boost_rpc_url`, read back after.

    Not an operation verb: it changes which engine builds blocks, not raft or who sequences, so the
    preflight invariants have nothing to judge; the runner reads the mode before (to skip or to tell
    a resumed call) and after (to verify)."""

    kind: Literal["set_execution_mode"] = "set_execution_mode"
    title: str
    sequencer: str
    mode: ExecutionMode

    @property
    def manual(self) -> str:
        call = f'debug_setExecutionMode [{{"execution_mode": "{self.mode}"}}]'
        return f"`{call}` on {self.sequencer}'s rollup-boost"

    @property
    def outline(self) -> str:
        return f"{self.title} — `debug_setExecutionMode` on its rollup-boost, then read back"


Step = Annotated[Act | Wait | Checkpoint | SetExecutionMode, Field(discriminator="kind")]


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


class Resolution(_Frozen):
    """A request turned into a procedure, or the reason it cannot be: and why the bot chose what it did."""

    procedure: Procedure | None
    reasons: tuple[str, ...] = ()
    refusal: str | None = None


def refuse(text: str) -> Resolution:
    return Resolution(procedure=None, refusal=text)
