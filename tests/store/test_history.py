"""The per-network history: appended per tick, bounded, read back by time, gone when unused."""

from __future__ import annotations

from store import history
from store.gateway import Store, Versioned
from store.history import HistoryPoint
from store.locks import LEASE_TAKEN, NOT_ABSENT, VERSION_MOVED, lease_and_write

NET = "op-mainnet"


def point(at: float, head: int | None = 10) -> HistoryPoint:
    return HistoryPoint(at=at, heads={"seq-0": head, "seq-1": 9}, leaders=("seq-0",), active=("seq-0",))


async def test_points_come_back_oldest_first_from_the_given_time(store: Store) -> None:
    for at in (1.0, 2.0, 3.0, 4.0):
        await history.append(store, NET, point(at))
    assert [p.at for p in await history.read(store, NET, since=2.5)] == [3.0, 4.0]
    assert await history.read(store, "other-net", since=0.0) == []


async def test_the_list_keeps_only_the_newest_points_and_expires(store: Store) -> None:
    for at in range(10):
        await history.append(store, NET, point(float(at)), max_points=4)
    assert [p.at for p in await history.read(store, NET, since=0.0)] == [6.0, 7.0, 8.0, 9.0]
    assert await store.redis.llen(store.keys.history(NET)) == 4
    ttl = await store.redis.ttl(store.keys.history(NET))
    assert 0 < ttl <= history.TTL_SECONDS


async def test_a_point_is_compact_and_survives_a_round_trip(store: Store) -> None:
    original = HistoryPoint(
        at=5.0, heads={"seq-0": None, "seq-1": 12}, leaders=(), active=("seq-1",), fired=("leader_change",)
    )
    await history.append(store, NET, original)
    [raw] = await store.redis.lrange(store.keys.history(NET), 0, -1)
    assert raw == '{"t":5.0,"h":{"seq-0":null,"seq-1":12},"a":["seq-1"],"f":["leader_change"]}'
    assert await history.read(store, NET, since=0.0) == [original]


async def test_an_unreadable_point_does_not_hide_the_others(store: Store) -> None:
    await history.append(store, NET, point(1.0))
    await store.redis.rpush(store.keys.history(NET), "not json")
    await history.append(store, NET, point(2.0))
    assert [p.at for p in await history.read(store, NET, since=0.0)] == [1.0, 2.0]


async def test_a_point_written_with_a_record_is_kept_only_when_the_record_is_written(store: Store) -> None:
    keys = store.keys
    record, lease = keys.memory(NET), keys.watch_lease(NET)

    async def write(version: int, data: str, at: float, owner: str = "me", keep: int = 4) -> int:
        return await lease_and_write(
            store,
            lease,
            owner,
            30_000,
            record=record,
            expected_version=version,
            data_json=data,
            record_ttl_ms=60_000,
            append=history.appending(store, NET, point(at), keep),
            absent=(keys.silence(NET), keys.outbox(NET)),
        )

    for at in range(6):
        assert await write(at, '{"n": 1}', float(at)) == at + 1
    # A writer still at an old version loses the CAS, and its point is not appended either.
    assert await write(2, '{"n": 2}', 99.0) == VERSION_MOVED
    # Another replica holding the lease, or a key the tick did not read now existing: nothing written.
    await store.redis.set(lease, "other", px=30_000)
    assert await write(6, '{"n": 3}', 98.0, owner="me") == LEASE_TAKEN
    await store.redis.set(lease, "me", px=30_000)
    await store.redis.rpush(keys.outbox(NET), "queued")
    assert await write(6, '{"n": 4}', 97.0) == NOT_ABSENT
    assert [p.at for p in await history.read(store, NET, since=0.0)] == [2.0, 3.0, 4.0, 5.0]
    assert await store.get(record) == Versioned(version=6, data='{"n": 1}')
    assert 0 < await store.redis.ttl(keys.history(NET)) <= history.TTL_SECONDS
    assert 0 < await store.redis.pttl(record) <= 60_000
