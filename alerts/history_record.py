"""The compact record of one watcher tick kept for `/conductor timeline` (`store.history`).

Pure: built from the tick's snapshot and the alerts before and after it, so the watcher appends it
with one call and the record says only what a picture of the incident needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from alerts.alert_store import Stored
from alerts.model import AlertState
from cluster.snapshot import NetworkSnapshot
from store.history import HistoryPoint


def history_point(
    snapshot: NetworkSnapshot,
    before: Mapping[str, Stored],
    after: Mapping[str, AlertState],
    events: Sequence[str] = (),
) -> HistoryPoint:
    """Heads, leaders and active sequencers of the tick, and the rules that started firing at it
    (with `events`, the conditions that happened at it, like a leader change)."""
    fired = sorted(
        {
            state.rule
            for fp, state in after.items()
            if state.phase == "firing" and (fp not in before or before[fp].state.phase != "firing")
        }
        | set(events)
    )
    return HistoryPoint(
        at=snapshot.taken_at,
        heads={n.id: n.unsafe.number if n.unsafe is not None else None for n in snapshot.nodes},
        leaders=snapshot.leaders,
        active=snapshot.active_sequencers,
        fired=tuple(fired),
    )
