"""The alert engine's values: what a rule observed (`Condition`), how each rule behaves (`RuleSpec`),
and the persisted record of one alert (`AlertState`).

Identity: an alert is keyed by `fingerprint(network, rule, subject)`. Every observation, button click
and stored record for the same (network, rule, subject) meets under that one string.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from cluster.health import Severity

Phase = Literal["inactive", "pending", "firing", "resolved"]
# A silence either ends at a unix time or lasts until the alert resolves.
SilenceEnd = float | Literal["resolved"]
DetailValue = int | float | str


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def fingerprint(network: str, rule: str, subject: str) -> str:
    """The identity of an alert: `network/rule` for network-wide rules, `network/rule/subject` otherwise.

    Readable on purpose (it shows up in logs, Redis keys and button values) and stable across
    restarts and replicas: it depends only on the three names, never on time or on message text, so
    a condition seen again edits the same alert instead of posting a new one.
    """
    return f"{network}/{rule}/{subject}" if subject else f"{network}/{rule}"


class Condition(_Frozen):
    """One rule holding for one subject at one tick, with the evidence a human needs."""

    network: str
    rule: str
    # The node id, or "" for network-wide rules.
    subject: str = ""
    severity: Severity
    summary: str
    details: dict[str, DetailValue] = Field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.network, self.rule, self.subject)


class RuleSpec(_Frozen):
    """How one rule's alerts move: how long before firing, how often to remind, how to resolve."""

    name: str
    title: str
    severity: Severity
    # The condition must hold this long (pending) before the alert fires; 0 fires on first sight.
    for_seconds: float = Field(default=0.0, ge=0)
    # Thread reminders while firing, unacknowledged and not silenced; None means never.
    reminder_interval: float | None = Field(default=None, gt=0)
    # Resolve hysteresis: the condition must be absent for this many consecutive observations AND
    # this many seconds since it was last seen. A condition that returns sooner is the same alert.
    clear_observations: int = Field(default=2, ge=1)
    clear_seconds: float = Field(default=20.0, ge=0)
    send_resolved: bool = True


class MessageRef(_Frozen):
    """Where the alert's Slack message lives; `shared` when it is a burst summary of several alerts."""

    channel: str
    ts: str
    shared: bool = False


class LeaderChange(_Frozen):
    """One raft leader change the watcher saw (`alerts.leader_events` chains them into messages)."""

    at: float
    before: str
    after: str


class OperationCause(_Frozen):
    """The approved request whose operation caused an alert episode (`alerts.own_ops`): the episode
    is shown in the request's thread, naming the request."""

    request_id: str
    command: str
    requester: str
    channel: str
    ts: str


class AlertState(_Frozen):
    """The persisted record of one alert (stored as JSON; never forgets across restarts)."""

    fingerprint: str
    rule: str
    network: str
    subject: str
    severity: Severity
    phase: Phase = "inactive"
    # When the current phase began.
    since: float
    pending_since: float | None = None
    fired_at: float | None = None
    resolved_at: float | None = None
    last_seen: float | None = None
    last_clear: float | None = None
    # Consecutive clear observations since the condition was last seen (resolve hysteresis).
    clear_count: int = 0
    last_reminder_at: float | None = None
    episode: int = 0
    # Set when a PostAlert (or burst summary) was emitted for this episode: never post twice.
    post_requested_at: float | None = None
    # When the message was last (re-)rendered; updates for changed numbers are paced from it.
    updated_at: float | None = None
    message: MessageRef | None = None
    acked_by: str | None = None
    acked_at: float | None = None
    silenced_until: SilenceEnd | None = None
    silenced_by: str | None = None
    summary: str = ""
    details: dict[str, DetailValue] = Field(default_factory=dict)
    # Set when this episode was caused by the bot's own approved operation (None: an ordinary alert).
    cause: OperationCause | None = None
    # The name of the transition branch that produced this state (for logs and tests).
    last_transition: str = "created"

    @model_serializer(mode="wrap")
    def _without_unset_cause(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A record without a cause is written exactly as before the field existed, so a replica
        # still on the previous version (a rolling update) keeps reading ordinary alerts.
        data: dict[str, Any] = handler(self)
        if data.get("cause", "") is None:
            del data["cause"]
        return data

    def silenced_at(self, now: float) -> bool:
        """True while a per-alert silence is in force."""
        end = self.silenced_until
        return end == "resolved" or (isinstance(end, float) and end > now)

    def posted(self, channel: str, ts: str, *, shared: bool = False) -> AlertState:
        """The state after the notifier posted this episode's message at (`channel`, `ts`)."""
        return self.model_copy(update={"message": MessageRef(channel=channel, ts=ts, shared=shared)})
