"""Burst grouping: many alerts of one network starting to fire in the same tick make ONE message.

Rule: when a tick of one network yields at least `BURST_THRESHOLD` (3) `PostAlert` effects, they are
replaced by one `PostSummary` listing those alerts, at the position of the first. The notifier posts
the summary once and records its (channel, ts) with `shared=True` on every alert in it, so later
updates re-render the summary and thread replies go to the summary's thread. Fewer posts than the
threshold pass through untouched: two alerts are still easier to read as two messages.
"""

from __future__ import annotations

from collections.abc import Sequence

from alerts.effects import Effect, PostAlert, PostSummary

BURST_THRESHOLD = 3


def group_effects(network: str, effects: Sequence[Effect], threshold: int = BURST_THRESHOLD) -> list[Effect]:
    """`effects` of one network tick, with a burst of new posts folded into one `PostSummary`."""
    posts = [e.fingerprint for e in effects if isinstance(e, PostAlert)]
    if len(posts) < threshold:
        return list(effects)
    out: list[Effect] = []
    for e in effects:
        if not isinstance(e, PostAlert):
            out.append(e)
        elif e.fingerprint == posts[0]:
            out.append(PostSummary(network=network, fingerprints=tuple(posts)))
    return out
