"""Versioned records against a real Valkey: create, compare-and-set, indexes, idempotency."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.asyncio import Redis

from store.gateway import CrossSlotError, IndexUpdate, LockLost, Store, StoreError, retry_cas
from store.locks import acquire, release

NET = "op-mainnet"


async def test_create_only_once(store: Store) -> None:
    key = store.keys.request(NET, "r1")
    assert await store.create(key, '{"state": "pending"}', ttl_ms=None)
    assert not await store.create(key, '{"state": "other"}', ttl_ms=None)
    record = await store.get(key)
    assert record is not None
    assert (record.version, record.data) == (1, '{"state": "pending"}')


async def test_get_missing_record_is_none(store: Store) -> None:
    assert await store.get(store.keys.request(NET, "nope")) is None


async def test_cas_moves_version_and_refuses_stale_writer(store: Store) -> None:
    key = store.keys.request(NET, "r1")
    await store.create(key, '{"state": "pending"}', ttl_ms=None)

    assert await store.cas(key, 1, '{"state": "approved"}', ttl_ms=None)
    # A second replica that read version 1 before the write must be refused, not overwrite it.
    assert not await store.cas(key, 1, '{"state": "rejected"}', ttl_ms=None)

    record = await store.get(key)
    assert record is not None
    assert (record.version, json.loads(record.data)) == (2, {"state": "approved"})


async def test_cas_on_expired_or_missing_record_is_refused(store: Store) -> None:
    key = store.keys.request(NET, "gone")
    assert not await store.cas(key, 1, "{}", ttl_ms=None)
    assert await store.get(key) is None


async def test_fifty_concurrent_writers_from_one_version_exactly_one_wins(store: Store) -> None:
    key = store.keys.request(NET, "race")
    await store.create(key, '{"by": null}', ttl_ms=None)

    results = await asyncio.gather(
        *(store.cas(key, 1, json.dumps({"by": f"u{i}"}), ttl_ms=None) for i in range(50))
    )

    winners = [i for i, won in enumerate(results) if won]
    assert len(winners) == 1
    record = await store.get(key)
    assert record is not None
    assert record.version == 2
    assert json.loads(record.data) == {"by": f"u{winners[0]}"}


async def test_ttl_is_set_per_write_and_none_means_no_expiry(store: Store, redis: Redis) -> None:
    key = store.keys.request(NET, "ttl")
    await store.create(key, "{}", ttl_ms=60_000)
    assert 0 < await redis.pttl(key) <= 60_000

    await store.cas(key, 1, "{}", ttl_ms=None)
    assert await redis.pttl(key) == -1


async def test_cas_updates_index_in_the_same_step(store: Store) -> None:
    pending = store.keys.pending(NET)
    for rid, expiry in (("a", 100.0), ("b", 200.0), ("c", 300.0)):
        key = store.keys.request(NET, rid)
        assert await store.create(key, "{}", ttl_ms=None, index=IndexUpdate.add(pending, rid, expiry))

    assert await store.members(pending) == ["a", "b", "c"]
    assert await store.due(pending, now=200.0) == ["a", "b"]
    assert await store.due(pending, now=1000.0, limit=1) == ["a"]

    # Deciding "a" takes it out of the pending index atomically with the write.
    assert await store.cas(
        store.keys.request(NET, "a"), 1, "{}", None, index=IndexUpdate.remove(pending, "a")
    )
    assert await store.members(pending) == ["b", "c"]


async def test_refused_cas_leaves_index_untouched(store: Store) -> None:
    pending = store.keys.pending(NET)
    key = store.keys.request(NET, "a")
    await store.create(key, "{}", ttl_ms=None, index=IndexUpdate.add(pending, "a", 1.0))

    assert not await store.cas(key, 7, "{}", None, index=IndexUpdate.remove(pending, "a"))
    assert await store.members(pending) == ["a"]


async def test_keys_of_two_networks_cannot_be_written_together(store: Store) -> None:
    key = store.keys.request(NET, "a")
    other_index = store.keys.pending("base-mainnet")
    with pytest.raises(CrossSlotError):
        await store.create(key, "{}", ttl_ms=None, index=IndexUpdate.add(other_index, "a", 1.0))
    assert await store.get(key) is None


async def test_zero_ttl_is_refused_rather_than_deleting(store: Store) -> None:
    with pytest.raises(StoreError):
        await store.create(store.keys.request(NET, "a"), "{}", ttl_ms=0)


async def test_claim_once_lets_exactly_one_replica_act(store: Store, redis: Redis) -> None:
    key = store.keys.once(NET, "watch:1760000000")
    claims = await asyncio.gather(*(store.claim_once(key, ttl_ms=10_000) for _ in range(10)))
    assert claims.count(True) == 1
    assert 0 < await redis.pttl(key) <= 10_000


async def test_guarded_write_needs_the_lock_still_held(store: Store) -> None:
    key = store.keys.request(NET, "exec")
    await store.create(key, '{"state": "approved"}', ttl_ms=None)
    lock = await acquire(store, store.keys.lock(NET), ttl_ms=10_000)
    assert lock is not None

    assert await store.cas(key, 1, '{"state": "executing"}', None, guard=lock.guard)
    await release(store, lock)

    # The executor lost its lock (expiry, takeover): its late write must not land.
    with pytest.raises(LockLost):
        await store.cas(key, 2, '{"state": "succeeded"}', None, guard=lock.guard)
    record = await store.get(key)
    assert record is not None
    assert (record.version, record.data) == (2, '{"state": "executing"}')


async def test_store_refuses_a_bytes_client(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        with pytest.raises(StoreError):
            Store(client)
    finally:
        await client.aclose()


async def test_retry_cas_decides_again_on_a_fresh_read_after_losing_a_race(store: Store) -> None:
    key = store.keys.request(NET, "counter")
    await store.create(key, "0", ttl_ms=None)
    reads: list[int] = []

    async def increment() -> int | None:
        record = await store.get(key)
        assert record is not None
        value = int(record.data)
        reads.append(value)
        if len(reads) == 1:
            # Another replica writes between our read and our write: our first CAS must lose.
            assert await store.cas(key, record.version, str(value + 10), ttl_ms=None)
        return value + 1 if await store.cas(key, record.version, str(value + 1), ttl_ms=None) else None

    assert await retry_cas(increment) == 11
    assert reads == [0, 10]

    async def always_loses() -> int | None:
        return None

    assert await retry_cas(always_loses, attempts=3) is None


async def test_plain_values_queues_and_index_cleanup_go_through_the_store(store: Store) -> None:
    key, queue, index = store.keys.silence(NET), store.keys.outbox(NET), store.keys.pending(NET)
    await store.write_text(key, "v", ttl_ms=60_000)
    assert await store.read_text(key) == "v" and await store.exists(key)
    assert await store.delete(key) and await store.read_text(key) is None
    await store.push(queue, "a", "b", "c")
    await store.remove_entry(queue, "b")
    assert await store.oldest(queue, 0) == ["a", "c"] and await store.oldest(queue, 1) == ["a"]
    assert await store.length(queue) == 2
    await store.cas(store.keys.request(NET, "r1"), 0, "{}", None, index=IndexUpdate.add(index, "r1", 1.0))
    await store.forget(index, "r1")
    assert await store.members(index) == []
