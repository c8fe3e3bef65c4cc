"""What the alert engine asks the notifier to do, as data. A later adapter executes them on Slack."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

ReplyKind = Literal["resolved", "reminder", "acknowledged", "silenced", "unsilenced"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PostAlert(_Frozen):
    """Post this episode's alert message (once per episode) and record its (channel, ts)."""

    effect: Literal["post"] = "post"
    fingerprint: str


class UpdateAlert(_Frozen):
    """Re-render the alert's existing message in place (`chat.update`)."""

    effect: Literal["update"] = "update"
    fingerprint: str


class ThreadReply(_Frozen):
    """Reply in the alert message's thread."""

    effect: Literal["reply"] = "reply"
    fingerprint: str
    kind: ReplyKind
    text: str
    # The episode it is about: a reply still queued when the alert has moved on to a new episode (a long
    # Slack outage across a flap) must not land in the new episode's thread. None: entries queued before.
    episode: int | None = None


class PostSummary(_Frozen):
    """Post ONE burst summary for several alerts that started firing in the same tick; they share it."""

    effect: Literal["summary"] = "summary"
    network: str
    fingerprints: tuple[str, ...]


Effect = Annotated[PostAlert | UpdateAlert | ThreadReply | PostSummary, Field(discriminator="effect")]


def effect_fingerprints(effect: Effect) -> frozenset[str]:
    """The alerts an effect is about (a burst summary names several)."""
    if isinstance(effect, PostSummary):
        return frozenset(effect.fingerprints)
    return frozenset({effect.fingerprint})


def is_post(effect: Effect) -> bool:
    """True for the effects that post an alert's first message (a post or a burst summary)."""
    return isinstance(effect, PostAlert | PostSummary)
