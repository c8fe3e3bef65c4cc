"""Each network's recent past, one compact `HistoryPoint` per watcher tick, for `/conductor timeline`.

A Redis list (`Keys.history`), oldest first: `append` pushes a point, trims the list to the newest
`MAX_POINTS` and renews its TTL in one pipelined round trip (a quiet watcher tick does it in its
memory write's round trip instead: `appending`, `store.locks.lease_and_write`), so the watcher's
tick pays at most one call and the memory is bounded per network (about 100 bytes a point for 3
nodes: ~200 KB a network).
Points are written by the replica holding the network's watch lease only, so they are in time order.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from store.gateway import ListAppend, Store, text

logger = logging.getLogger(__name__)

# One hour at the default 2 s poll interval; longer with a longer interval.
MAX_POINTS = 1800
TTL_SECONDS = 24 * 3600


class HistoryPoint(BaseModel):
    """What the watcher saw at one tick. Short JSON keys: a network keeps up to `MAX_POINTS` of them."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    at: float = Field(alias="t")
    # Unsafe head number per sequencer id (topology order); None where the node did not answer.
    heads: dict[str, int | None] = Field(alias="h")
    leaders: tuple[str, ...] = Field(default=(), alias="l")
    active: tuple[str, ...] = Field(default=(), alias="a")
    # Alert rules that started firing at this tick.
    fired: tuple[str, ...] = Field(default=(), alias="f")

    def dump(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_defaults=True)


_POINTS = TypeAdapter(list[HistoryPoint])


async def append(store: Store, network: str, point: HistoryPoint, max_points: int = MAX_POINTS) -> None:
    """Add one point and keep only the newest `max_points` (one round trip)."""
    key = store.keys.history(network)
    async with store.redis.pipeline(transaction=False) as pipe:
        pipe.rpush(key, point.dump())
        pipe.ltrim(key, -max_points, -1)
        pipe.expire(key, TTL_SECONDS)
        await pipe.execute()


def appending(store: Store, network: str, point: HistoryPoint, max_points: int = MAX_POINTS) -> ListAppend:
    """`append` as a `ListAppend`, to go in the same round trip as another write
    (`store.locks.lease_and_write`)."""
    return ListAppend(
        key=store.keys.history(network), entry=point.dump(), keep=max_points, ttl_ms=TTL_SECONDS * 1000
    )


async def read(store: Store, network: str, since: float) -> list[HistoryPoint]:
    """The points taken at or after `since`, oldest first."""
    raw = [text(item) for item in await store.redis.lrange(store.keys.history(network), 0, -1)]
    try:
        # One validation of the whole list is several times faster than one per point.
        points = _POINTS.validate_json("[" + ",".join(raw) + "]")
    except ValidationError:
        points = [p for item in raw if (p := _one(network, item)) is not None]
    return [p for p in points if p.at >= since]


def _one(network: str, item: str) -> HistoryPoint | None:
    try:
        return HistoryPoint.model_validate_json(item)
    except ValidationError:
        # One unreadable point (e.g. written by a newer version) must not hide the rest.
        logger.warning("unreadable history point network=%s", network)
        return None
