"""Everything that can happen to one alert: a watcher tick (condition seen or clear) or a user action.

Timers need no event of their own: every tick is a `Seen` or `Cleared`, and the state machine checks
reminders and silence ends on it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from alerts.model import Condition, SilenceEnd


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Seen(_Frozen):
    """A tick on which the alert's condition holds."""

    kind: Literal["seen"] = "seen"
    condition: Condition
    # The network-wide silence in force at this tick, if any (unix end time).
    network_silenced_until: float | None = None


class Cleared(_Frozen):
    """A tick on which the alert's condition does not hold."""

    kind: Literal["cleared"] = "cleared"
    network_silenced_until: float | None = None


class Acknowledge(_Frozen):
    """A user clicked Acknowledge."""

    kind: Literal["acknowledge"] = "acknowledge"
    user: str


class Silence(_Frozen):
    """A user silenced the alert until a time or until it resolves."""

    kind: Literal["silence"] = "silence"
    user: str
    until: SilenceEnd


class Unsilence(_Frozen):
    """A user lifted the alert's silence."""

    kind: Literal["unsilence"] = "unsilence"
    user: str


Observation = Annotated[Seen | Cleared | Acknowledge | Silence | Unsilence, Field(discriminator="kind")]
