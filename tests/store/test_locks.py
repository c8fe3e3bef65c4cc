"""Operation locks, fencing epochs and watcher leases against a real Valkey.

Redis expires keys on its own real clock. A TTL a test relies on NOT running out is about a second
(renewals at a fifth of it), so a loaded CI machine stalling for a few hundred ms cannot fail it;
only TTLs a test waits to run out are short. Expiry is polled on the server (bounded), never slept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from redis.asyncio import Redis

from store.gateway import LockLost, Store
from store.locks import (
    Lock,
    LockBusy,
    acquire,
    acquire_or_renew_lease,
    hold,
    release,
    release_lease,
    renew,
)
from tests.fixtures.redis import eventually

NET = "op-mainnet"


async def test_second_acquirer_is_refused_and_only_the_holder_releases(store: Store, redis: Redis) -> None:
    key = store.keys.lock(NET)
    mine = await acquire(store, key, ttl_ms=10_000)
    assert mine is not None
    assert await acquire(store, key, ttl_ms=10_000) is None

    impostor = Lock(key=key, token="not-the-token", ttl_ms=10_000, epoch=mine.epoch)
    assert not await release(store, impostor)
    assert await redis.get(key) == mine.token

    assert await release(store, mine)
    assert await redis.exists(key) == 0


async def test_renew_extends_the_lock(store: Store, redis: Redis) -> None:
    lock = await acquire(store, store.keys.lock(NET), ttl_ms=1000)
    assert lock is not None

    async def ttl_dropped() -> bool:
        return 0 < await redis.pttl(lock.key) < 800

    await eventually(ttl_dropped)
    assert await renew(store, lock)
    # Back near the full second: well above where it had dropped to, with room for a slow read.
    assert await redis.pttl(lock.key) > 800


async def test_expired_lock_is_taken_by_another_and_the_late_holder_is_fenced(
    store: Store, redis: Redis
) -> None:
    key = store.keys.lock(NET)
    first = await acquire(store, key, ttl_ms=100)
    assert first is not None

    async def expired() -> bool:
        return await redis.exists(key) == 0

    await eventually(expired)
    second = await acquire(store, key, ttl_ms=10_000)
    assert second is not None
    assert second.epoch == first.epoch + 1

    # The first holder wakes up late: it can neither extend nor free the new holder's lock.
    assert not await renew(store, first)
    assert not await release(store, first)
    assert await redis.get(key) == second.token


async def test_fencing_epoch_grows_with_every_acquisition(store: Store) -> None:
    epochs = []
    for _ in range(3):
        lock = await acquire(store, store.keys.lock(NET), ttl_ms=10_000)
        assert lock is not None
        epochs.append(lock.epoch)
        await release(store, lock)
    assert epochs == [1, 2, 3]


async def test_hold_keeps_the_lock_past_its_ttl_and_frees_it_after(store: Store, redis: Redis) -> None:
    key = store.keys.lock(NET)
    async with hold(store, key, ttl_ms=1000, renew_every=0.2) as held:
        renewals_seen = 0
        last = await redis.pttl(key)
        loop = asyncio.get_running_loop()
        started = loop.time()
        # Stay in the body past the TTL; the background renewal must keep it ours.
        while loop.time() - started < 1.2:
            now_ttl = await redis.pttl(key)
            assert now_ttl > 0, "lock expired while held"
            renewals_seen += now_ttl > last
            last = now_ttl
            await asyncio.sleep(0.02)
        assert await redis.get(key) == held.lock.token
        assert not held.lost.is_set()
        assert renewals_seen >= 2
    assert await redis.exists(key) == 0


async def test_hold_refuses_a_busy_lock(store: Store) -> None:
    key = store.keys.lock(NET)
    other = await acquire(store, key, ttl_ms=10_000)
    assert other is not None
    with pytest.raises(LockBusy):
        async with hold(store, key, ttl_ms=10_000, renew_every=1.0):
            pytest.fail("body must not run without the lock")


async def test_hold_with_a_wait_takes_the_lock_its_holder_lets_go_of(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = store.keys.lock(NET)
    other = await acquire(store, key, ttl_ms=10_000)
    assert other is not None
    with pytest.raises(LockBusy):  # held throughout the wait
        async with hold(store, key, ttl_ms=10_000, renew_every=1.0, wait=0.2):
            pytest.fail("body must not run without the lock")

    # Watched, not replaced: the waiter's first ask must come while the lock is still taken.
    asking = asyncio.Event()
    real_run_script = store.run_script

    async def watched(name: str, keys: Sequence[str], args: Sequence[str | int | float]) -> object:
        if name == "lock_acquire":
            asking.set()
        return await real_run_script(name, keys, args)

    got: list[int] = []

    async def waiter() -> None:
        async with hold(store, key, ttl_ms=10_000, renew_every=1.0, wait=10.0) as held:
            got.append(held.lock.epoch)

    monkeypatch.setattr(store, "run_script", watched)
    task = asyncio.create_task(waiter())
    await asyncio.wait_for(asking.wait(), 5)
    assert not got  # the first ask found the lock taken
    await release(store, other)
    await asyncio.wait_for(task, 5)
    assert got == [other.epoch + 1]


async def test_hold_signals_a_lost_lock_and_guarded_writes_stop(store: Store, redis: Redis) -> None:
    key = store.keys.lock(NET)
    record = store.keys.request(NET, "r1")
    await store.create(record, '{"state": "executing"}', None)
    async with hold(store, key, ttl_ms=1000, renew_every=0.1) as held:
        # Someone else ends up with the lock (e.g. ours expired during a long pause).
        await redis.set(key, "another-executor", px=10_000)
        async with asyncio.timeout(2.0):
            await held.lost.wait()
        with pytest.raises(LockLost):
            await store.cas(record, 1, '{"state": "succeeded"}', None, guard=held.lock.guard)
    # Leaving the body must not free the other executor's lock.
    assert await redis.get(key) == "another-executor"


async def test_lease_has_one_owner_and_passes_on_after_expiry(store: Store, redis: Redis) -> None:
    key = store.keys.watch_lease(NET)
    assert await acquire_or_renew_lease(store, key, "replica-a", ttl_ms=1000)
    assert not await acquire_or_renew_lease(store, key, "replica-b", ttl_ms=1000)
    assert await acquire_or_renew_lease(store, key, "replica-a", ttl_ms=1000)
    # A short renewal (only the expiry is waited for, so it may be short).
    assert await acquire_or_renew_lease(store, key, "replica-a", ttl_ms=100)

    async def expired() -> bool:
        return await redis.exists(key) == 0

    await eventually(expired)
    assert await acquire_or_renew_lease(store, key, "replica-b", ttl_ms=10_000)
    assert not await acquire_or_renew_lease(store, key, "replica-a", ttl_ms=10_000)


async def test_released_lease_is_free_at_once_but_only_its_owner_can_release(store: Store) -> None:
    key = store.keys.watch_lease(NET)
    assert await acquire_or_renew_lease(store, key, "replica-a", ttl_ms=10_000)
    assert not await release_lease(store, key, "replica-b")
    assert not await acquire_or_renew_lease(store, key, "replica-b", ttl_ms=10_000)

    assert await release_lease(store, key, "replica-a")
    assert await acquire_or_renew_lease(store, key, "replica-b", ttl_ms=10_000)
