"""Per-network operation locks (with fencing epochs) and watcher leases.

Both are the single-instance pattern from Redis's distributed-locks page: `SET NX PX` with a
token, extended and released only by Lua scripts that compare the token first. We do not use
redis-py's `Lock`: its thread-local token is shared between asyncio tasks (redis-py#3540).

A lock's epoch grows on every acquisition; pass `lock.guard` to `Store.cas` so a holder whose
lock expired during a pause cannot write over the next holder's work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError

from store.gateway import Guard, ListAppend, Store, StoreError, Versioned, text

log = logging.getLogger(__name__)


class LockBusy(StoreError):
    """Raised by `hold` when another holder has the lock."""


class Lock(BaseModel):
    """A lock we hold: its key, our token, the TTL we asked for and the fencing epoch."""

    model_config = ConfigDict(frozen=True)

    key: str
    token: str
    ttl_ms: int = Field(ge=1)
    epoch: int = Field(ge=1)

    @property
    def guard(self) -> Guard:
        return Guard(key=self.key, token=self.token)


def _check_ttl(ttl_ms: int) -> None:
    # PEXPIRE 0 would delete the key and still report success (redis-py#4279).
    if ttl_ms < 1:
        raise StoreError(f"ttl_ms must be at least 1, got {ttl_ms}")


async def acquire(store: Store, key: str, ttl_ms: int, owner: str = "") -> Lock | None:
    """Take the lock if it is free; None if someone holds it. `owner` prefixes the token (for
    operators and tests to see who holds it; the random part keeps every acquisition distinct)."""
    _check_ttl(ttl_ms)
    token = f"{owner}:{uuid.uuid4().hex}" if owner else uuid.uuid4().hex
    epoch = int(await store.run_script("lock_acquire", [key, store.keys.fencing_epoch(key)], [token, ttl_ms]))
    if epoch == 0:
        return None
    log.info("lock acquired key=%s epoch=%d", key, epoch)
    return Lock(key=key, token=token, ttl_ms=ttl_ms, epoch=epoch)


async def renew(store: Store, lock: Lock) -> bool:
    """Extend the lock to its full TTL again; False if it expired or changed hands."""
    return bool(await store.run_script("compare_pexpire", [lock.key], [lock.token, lock.ttl_ms]))


async def release(store: Store, lock: Lock) -> bool:
    """Free the lock if it is still ours; False if it had already expired or changed hands."""
    released = bool(await store.run_script("compare_del", [lock.key], [lock.token]))
    log.info("lock released key=%s epoch=%d released=%s", lock.key, lock.epoch, released)
    return released


async def holder_token(store: Store, key: str) -> str | None:
    """The token or owner currently in a lock or lease key (for status displays; not atomic)."""
    value = await store.redis.get(key)
    return None if value is None else text(value)


# How often a bounded wait for a lock asks again (Redis tells no one when a key is deleted, short of
# keyspace notifications, which a server may have turned off).
_RETRY_EVERY = 0.05


async def _acquire_within(store: Store, key: str, ttl_ms: int, owner: str, wait: float) -> Lock | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        lock = await acquire(store, key, ttl_ms, owner)
        left = deadline - loop.time()
        if lock is not None or left <= 0:
            return lock
        await asyncio.sleep(min(_RETRY_EVERY, left))


@dataclass
class HeldLock:
    """What `hold` yields: the lock, and an event set once renewal failed (the body should stop
    and must not assume exclusivity any more; guarded writes will raise `LockLost`)."""

    lock: Lock
    lost: asyncio.Event = field(default_factory=asyncio.Event)


async def _keep_renewed(store: Store, held: HeldLock, renew_every: float) -> None:
    loop = asyncio.get_running_loop()
    ttl_s = held.lock.ttl_ms / 1000
    last_ok = loop.time()
    while True:
        await asyncio.sleep(renew_every)
        try:
            if await renew(store, held.lock):
                last_ok = loop.time()
                continue
            log.warning("lock renewal refused key=%s epoch=%d", held.lock.key, held.lock.epoch)
        except RedisError as exc:
            # A blip is survivable while the TTL still covers us; past it the lock may be gone.
            if loop.time() - last_ok < ttl_s:
                log.warning("lock renewal error key=%s error=%s; retrying", held.lock.key, type(exc).__name__)
                continue
            log.warning("lock renewal failing past its TTL key=%s", held.lock.key)
        held.lost.set()
        return


@contextlib.asynccontextmanager
async def hold(
    store: Store, key: str, ttl_ms: int, renew_every: float, owner: str = "", wait: float = 0.0
) -> AsyncIterator[HeldLock]:
    """Hold `key` while the body runs, renewing every `renew_every` seconds in the background.

    Raises `LockBusy` if the lock is taken, or still taken after `wait` seconds. `renew_every`
    should be well under the TTL (a third is usual) so one slow renewal does not lose the lock.
    """
    if renew_every <= 0 or renew_every * 1000 >= ttl_ms:
        raise StoreError("renew_every must be positive and shorter than the TTL")
    lock = await _acquire_within(store, key, ttl_ms, owner, wait)
    if lock is None:
        raise LockBusy(f"{key} is held by another operation")
    held = HeldLock(lock=lock)
    renewer = asyncio.create_task(_keep_renewed(store, held, renew_every), name=f"renew {key}")
    try:
        yield held
    finally:
        renewer.cancel()
        try:
            # `wait`, not `await renewer` under suppress(CancelledError): that would also swallow a
            # cancellation of THIS task arriving meanwhile, and the body's caller would run on.
            await asyncio.wait([renewer])
        finally:
            try:
                await release(store, lock)
            except RedisError as exc:
                # The TTL frees the lock anyway; do not mask the body's own outcome.
                log.warning("lock release failed key=%s error=%s", key, type(exc).__name__)


async def acquire_or_renew_lease(store: Store, key: str, owner: str, ttl_ms: int) -> bool:
    """Take the lease if free or extend it if `owner` holds it; False if another owner does."""
    _check_ttl(ttl_ms)
    if not owner:
        raise StoreError("lease owner must not be empty")
    return bool(await store.run_script("lease", [key], [owner, ttl_ms]))


async def release_lease(store: Store, key: str, owner: str) -> bool:
    """Give the lease up (on shutdown) so another replica takes over at once, not after the TTL."""
    return bool(await store.run_script("compare_del", [key], [owner]))


class LeaseRead(BaseModel):
    """What `lease_and_read` found: whether we hold the lease, and the state read beside it."""

    model_config = ConfigDict(frozen=True)

    leased: bool
    record: Versioned | None
    value: str | None
    members: list[str]
    queue_length: int


async def lease_and_read(
    store: Store, key: str, owner: str, ttl_ms: int, *, record: str, value: str, index: str, queue: str
) -> LeaseRead:
    """`acquire_or_renew_lease`, plus reads of a versioned `record`, a plain `value`, an `index`'s
    members and a `queue`'s length, all in ONE command (a watcher tick's whole read); the keys must
    share a hash tag (one Redis Cluster slot).

    The reads are not fenced by the lease (they run either way); the caller ignores them when
    `leased` is False, and fences its writes with CAS as usual.
    """
    _check_ttl(ttl_ms)
    if not owner:
        raise StoreError("lease owner must not be empty")
    leased, found, raw, members, length = await store.run_script(
        "lease_read", [key, record, value, index, queue], [owner, ttl_ms]
    )
    return LeaseRead(
        leased=bool(leased),
        record=Store.versioned(found),
        value=None if raw is None else text(raw),
        members=[text(m) for m in members],
        queue_length=int(length),
    )


# What `lease_and_write` did: the record's new version (> 0), or why it wrote nothing.
VERSION_MOVED = 0
LEASE_TAKEN = -1
NOT_ABSENT = -2


async def lease_and_write(
    store: Store,
    key: str,
    owner: str,
    ttl_ms: int,
    *,
    record: str,
    expected_version: int,
    data_json: str,
    record_ttl_ms: int,
    append: ListAppend,
    absent: Sequence[str] = (),
) -> int:
    """Hold the lease, check that every key in `absent` does not exist, compare-and-set `record` and
    push `append`, in ONE command (a quiet watcher tick's whole write; the keys must share a hash
    tag). Returns the new version, or `VERSION_MOVED` / `LEASE_TAKEN` / `NOT_ABSENT` when nothing
    was written."""
    _check_ttl(ttl_ms)
    _check_ttl(record_ttl_ms)
    if not owner:
        raise StoreError("lease owner must not be empty")
    if expected_version < 0:
        raise StoreError("expected_version must be >= 0")
    args: list[str | int | float] = [owner, ttl_ms, expected_version, data_json, record_ttl_ms]
    args += [append.entry, append.keep, append.ttl_ms]
    return int(await store.run_script("lease_write", [key, record, append.key, *absent], args))
