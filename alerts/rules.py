"""Alert rules: the health model's findings (`cluster.health`) turned into alert `Condition`s.

`evaluate` is the only entry point. Every condition, its name and the facts behind it come from
`cluster.conditions.assess`, the same judgement `/conductor status` and `conductor-bot status` show;
this module only maps it onto the alert engine and keeps the memory between ticks.

A finding that holds becomes a `Condition`. A finding that is `unknown` (its facts did not arrive) or
`held` (an old leader still stepping down, or a symptom that follows from a larger outage: see
`cluster.health.INHIBITS`) puts the alert's fingerprint in `WatchMemory.held`, meaning "neither raise
nor clear this tick", so a paused conductor that also stops answering is not reported as resolved.
"""

from __future__ import annotations

from typing import Any

from pydantic import SerializerFunctionWrapHandler, model_serializer

from alerts.model import Condition, LeaderChange, fingerprint
from cluster.conditions import assess
from cluster.health import STEPPING_DOWN_SECONDS, HealthMemory
from cluster.snapshot import NetworkSnapshot
from cluster.topology import NetworkSpec

__all__ = ["STEPPING_DOWN_SECONDS", "WatchMemory", "evaluate", "is_held"]


class WatchMemory(HealthMemory):
    """What the watcher remembers between ticks of one network (persisted as JSON)."""

    # Fingerprint patterns ("net/rule" matches every subject) held this tick: see the module docstring.
    held: tuple[str, ...] = ()
    # Leader changes seen but not yet known to be recorded and in Slack or its outbox. Written with
    # the memory (the tick's fence) before they are recorded, so a replica dying in between leaves
    # them to the next tick instead of losing them: the watcher drops one once it is confirmed.
    leader_changes: tuple[LeaderChange, ...] = ()

    @model_serializer(mode="wrap")
    def _without_no_changes(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Written as before the field existed unless a change is owed, so a replica still on the
        # previous version (a rolling update) keeps reading the memory of almost every tick.
        data: dict[str, Any] = handler(self)
        if not data.get("leader_changes", True):
            del data["leader_changes"]
        return data


def is_held(alert_fingerprint: str, held: tuple[str, ...]) -> bool:
    """True when `alert_fingerprint` matches a held pattern (exactly, or as `pattern/subject`)."""
    return any(alert_fingerprint == p or alert_fingerprint.startswith(p + "/") for p in held)


def evaluate(
    snapshot: NetworkSnapshot, spec: NetworkSpec, memory: WatchMemory, now: float
) -> tuple[list[Condition], WatchMemory]:
    """The conditions that hold in `snapshot`, and the memory to pass to the next tick."""
    health = assess(
        snapshot, spec, HealthMemory(**memory.model_dump(exclude={"held", "leader_changes"})), now
    )
    conditions = [
        Condition(
            network=snapshot.network,
            rule=f.condition,
            subject=f.subject,
            severity=f.severity,
            summary=f.summary,
            details=f.details,
        )
        for f in health.holding
    ]
    held = tuple(
        dict.fromkeys(fingerprint(snapshot.network, f.condition, f.subject) for f in health.not_judged)
    )
    return conditions, WatchMemory(**health.memory.model_dump(), held=held)
