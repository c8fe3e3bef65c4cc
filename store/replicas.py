"""The live replicas of one deployment: each heartbeats into a sorted set scored by its expiry.

`heartbeat` is one round trip (a MULTI of ZADD, a prune of expired members, and a read of the rest),
so every replica learns the live set each time it says it is alive. Scores are the replicas' own
clocks (`cluster.clock`), so their clocks must agree to well within an interval (NTP does). A replica
that stops heartbeating drops out of every other replica's view once its entry expires, at most
`ttl` after its last heartbeat plus one heartbeat period of the observer.
"""

from __future__ import annotations

import logging

from store.gateway import Store, text

log = logging.getLogger(__name__)


class ReplicaRegistry:
    """One replica's view of, and entry in, the deployment's replica set."""

    def __init__(self, store: Store, replica: str, ttl: float) -> None:
        if not replica:
            raise ValueError("replica id must not be empty")
        if ttl <= 0:
            raise ValueError("heartbeat ttl must be positive")
        self.store = store
        self.replica = replica
        self.ttl = ttl

    @property
    def key(self) -> str:
        return self.store.keys.replicas()

    async def heartbeat(self, now: float) -> list[str]:
        """Say we are alive until `now + ttl`; returns every live replica (us included), sorted."""
        pipe = self.store.redis.pipeline(transaction=True)
        pipe.zadd(self.key, {self.replica: now + self.ttl})
        pipe.zremrangebyscore(self.key, "-inf", repr(now))
        pipe.zrangebyscore(self.key, f"({now!r}", "+inf")
        _added, _pruned, live = await pipe.execute()
        return sorted(text(r) for r in live)

    async def live(self, now: float) -> list[str]:
        """The live replicas without heartbeating (for status displays)."""
        return sorted(text(r) for r in await self.store.redis.zrangebyscore(self.key, f"({now!r}", "+inf"))

    async def leave(self) -> None:
        """Drop out at once (clean shutdown), so the others take our networks without waiting."""
        await self.store.redis.zrem(self.key, self.replica)
        log.info("replica left the registry replica=%s", self.replica)
