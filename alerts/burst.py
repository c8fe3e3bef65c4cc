"""Burst grouping: many alerts of one network starting to fire in the same tick make ONE message.

Rule: when a tick of one network yields at least `BURST_THRESHOLD` (3) `PostAlert` effects that go to
the same place, they are replaced by one `PostSummary` listing those alerts, at the position of the
first. "The same place" is the alert channel, or the thread of the request whose operation caused
them (`alerts.own_ops`: `thread_of` names the request, None for the channel), so an approved `pause
all` puts ONE summary of its paused conductors in its request's thread and an unrelated alert of the
same tick still goes to the channel. The notifier posts the summary once and records it for every
alert in it, so later updates re-render the summary. Fewer posts than the threshold pass through
untouched: two alerts are still easier to read as two messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from alerts.effects import Effect, PostAlert, PostSummary

BURST_THRESHOLD = 3


def _top_level(_fingerprint: str) -> str | None:
    return None


def group_effects(
    network: str,
    effects: Sequence[Effect],
    threshold: int = BURST_THRESHOLD,
    thread_of: Callable[[str], str | None] = _top_level,
) -> list[Effect]:
    """`effects` of one network tick, with each burst of new posts to one place folded into a summary."""
    groups: dict[str | None, list[str]] = {}
    for e in effects:
        if isinstance(e, PostAlert):
            groups.setdefault(thread_of(e.fingerprint), []).append(e.fingerprint)
    bursts = {fps[0]: fps for fps in groups.values() if len(fps) >= threshold}
    if not bursts:
        return list(effects)
    folded = {fp for fps in bursts.values() for fp in fps}
    out: list[Effect] = []
    for e in effects:
        if not isinstance(e, PostAlert) or e.fingerprint not in folded:
            out.append(e)
        elif e.fingerprint in bursts:
            out.append(PostSummary(network=network, fingerprints=tuple(bursts[e.fingerprint])))
    return out
