"""Versioned records with compare-and-set: the one atomic primitive every state machine uses.

A record is a hash `{v: <version>, data: <json>}`. A state machine reads it, computes the next
state with a pure transition function, and writes it back with `cas(expected_version=...)`. If
another replica (or a second click) moved the version first, `cas` returns False and the caller
re-reads and re-decides. The same Lua script can update an index sorted set, check that a lock is
still held, and append the audit entry, so a state change and its record never come apart.

Errors::

    StoreError            raised by this module for misuse the caller can fix
    ├── CrossSlotError    keys of one atomic write have different hash tags
    └── LockLost          a guarded write found the lock expired or taken by someone else
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from store.keys import Keys, hash_tag

log = logging.getLogger(__name__)

AUDIT_MAXLEN = 10_000
# How often a read-decide-write loop re-reads after losing a compare-and-set race before giving up.
CAS_ATTEMPTS = 5

T = TypeVar("T")


class StoreError(Exception):
    """Raised when the store is used in a way that cannot work."""


class CrossSlotError(StoreError):
    """Raised when keys written atomically do not share one hash tag (Redis Cluster slot)."""


class LockLost(StoreError):
    """Raised when a guarded write finds its lock expired or held by another token."""


class Versioned(BaseModel):
    """A record as stored: its version (1 on create, +1 per write) and its JSON data."""

    model_config = ConfigDict(frozen=True)

    version: int = Field(ge=1)
    data: str


class IndexUpdate(BaseModel):
    """Add `member` to a sorted-set index with `score`, or remove it when `score` is None."""

    model_config = ConfigDict(frozen=True)

    key: str
    member: str
    score: float | None = None

    @classmethod
    def add(cls, key: str, member: str, score: float) -> IndexUpdate:
        return cls(key=key, member=member, score=score)

    @classmethod
    def remove(cls, key: str, member: str) -> IndexUpdate:
        return cls(key=key, member=member, score=None)


class AuditAppend(BaseModel):
    """A stream entry to XADD in the same script as a write (build it with `store.audit.stage`)."""

    model_config = ConfigDict(frozen=True)

    key: str
    fields: dict[str, str]
    maxlen: int = Field(default=AUDIT_MAXLEN, ge=1)


class Guard(BaseModel):
    """Write only while `key` still holds `token` (a lock we took): our fence against a stale
    holder whose lock expired during a pause."""

    model_config = ConfigDict(frozen=True)

    key: str
    token: str


class ListAppend(BaseModel):
    """An entry pushed onto a capped list (the newest `keep` stay) whose TTL is renewed."""

    model_config = ConfigDict(frozen=True)

    key: str
    entry: str
    keep: int = Field(ge=1)
    ttl_ms: int = Field(ge=1)


def text(value: object) -> str:
    """A reply value as str; with decode_responses=True it already is, this only narrows types."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a text reply, got {type(value).__name__}")


async def retry_cas(attempt: Callable[[], Awaitable[T | None]], attempts: int = CAS_ATTEMPTS) -> T | None:
    """Run `attempt` (read, decide, `cas`) until it returns a result; None when every try lost the race.

    `attempt` returns None only when its compare-and-set found the version moved: it is then run
    again on a fresh read, so nothing is decided on a stale copy.
    """
    for _ in range(attempts):
        result = await attempt()
        if result is not None:
            return result
    return None


def _load_scripts() -> dict[str, str]:
    folder = resources.files("store.lua")
    return {
        entry.name.removesuffix(".lua"): entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".lua")
    }


def _check_ttl(ttl_ms: int | None) -> None:
    # PX 0 is an error and PEXPIRE 0 deletes the key (redis-py#4279), so refuse it here.
    if ttl_ms is not None and ttl_ms < 1:
        raise StoreError(f"ttl_ms must be at least 1 or None, got {ttl_ms}")


def _check_same_slot(keys: Sequence[str]) -> None:
    tags = {hash_tag(k) for k in keys}
    if len(tags) > 1:
        raise CrossSlotError(f"keys of one atomic write must share a hash tag: {list(keys)}")


class Store:
    """Async access to versioned records, indexes and idempotency markers.

    Needs a client built with `decode_responses=True` (as `store.connection.open_redis` does):
    every value here is text.
    """

    def __init__(self, redis: Redis, keys: Keys | None = None) -> None:
        if not _decodes_responses(redis):
            raise StoreError("Store needs a Redis client with decode_responses=True")
        self.redis = redis
        self.keys = keys or Keys()
        # Registered once per store; redis-py sends EVALSHA and loads the script on NOSCRIPT.
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(text) for name, text in _load_scripts().items()
        }
        self._scripts_loaded = False
        # redis-py's cluster pipeline refuses EVALSHA, so there a script is its own round trip.
        self.scripts_in_pipelines = not isinstance(redis, RedisCluster)

    async def run_script(self, name: str, keys: Sequence[str], args: Sequence[str | int | float]) -> Any:
        """Run one of the `bot/lua/*.lua` scripts by file name (without `.lua`)."""
        _check_same_slot(keys)
        return await self._scripts[name](keys=list(keys), args=list(args))

    def pipeline(self) -> Pipeline:
        """Commands sent in ONE round trip (not a transaction): how a watcher tick reads its state."""
        return self.redis.pipeline(transaction=False)

    def queue_script(
        self, pipe: Pipeline, name: str, keys: Sequence[str], args: Sequence[str | int | float]
    ) -> None:
        """Queue one of the scripts on a pipeline that `execute` runs; its reply comes back in order."""
        _check_same_slot(keys)
        pipe.evalsha(self._scripts[name].sha, len(keys), *keys, *args)

    async def execute(self, build: Callable[[Pipeline], None]) -> list[Any]:
        """Run the commands `build` queues in one round trip; raises the first error reply.

        Scripts go as EVALSHA, loaded once per store beforehand: redis-py's own pipeline support
        would ask SCRIPT EXISTS on every execute, a second round trip. A server that forgot them
        (restart, failover) answers NOSCRIPT: they are loaded again and the pipeline re-sent (every
        queued command must therefore be safe to send twice when a script was refused).
        """
        for attempt in (1, 2):
            if not self._scripts_loaded:
                for script in self._scripts.values():
                    script.sha = text(await self.redis.script_load(script.script))
                self._scripts_loaded = True
            pipe = self.pipeline()
            build(pipe)
            try:
                return list(await pipe.execute())
            except NoScriptError:
                self._scripts_loaded = False
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def queue_get(pipe: Pipeline, key: str) -> None:
        """Queue a versioned read on `pipe`; turn its reply into a record with `versioned`."""
        pipe.hmget(key, ["v", "data"])

    @staticmethod
    def versioned(reply: Sequence[Any]) -> Versioned | None:
        version, data = reply
        if version is None or data is None:
            return None
        return Versioned(version=int(version), data=text(data))

    async def get(self, key: str) -> Versioned | None:
        return self.versioned(await self.redis.hmget(key, ["v", "data"]))

    async def get_many(self, keys: Sequence[str]) -> list[Versioned | None]:
        """Several versioned records in one round trip, in `keys` order."""
        if not keys:
            return []
        pipe = self.pipeline()
        for key in keys:
            self.queue_get(pipe, key)
        return [self.versioned(reply) for reply in await pipe.execute()]

    async def create(
        self,
        key: str,
        data_json: str,
        ttl_ms: int | None,
        index: IndexUpdate | None = None,
        audit: AuditAppend | None = None,
        guard: Guard | None = None,
    ) -> bool:
        """Write version 1 if the record does not exist; False if it does."""
        return await self.cas(key, 0, data_json, ttl_ms, index=index, audit=audit, guard=guard)

    async def cas(
        self,
        key: str,
        expected_version: int,
        data_json: str,
        ttl_ms: int | None,
        index: IndexUpdate | None = None,
        audit: AuditAppend | None = None,
        guard: Guard | None = None,
    ) -> bool:
        """Replace the record if it is still at `expected_version` (0 = absent).

        `ttl_ms=None` means the record does not expire (an existing TTL is removed), so each
        write states the lifetime it wants. Returns False when the version moved; raises
        `LockLost` when `guard` is given and the lock is no longer ours.
        """
        _check_ttl(ttl_ms)
        if expected_version < 0:
            raise StoreError("expected_version must be >= 0")
        keys = [key]
        args: list[str | int | float] = [expected_version, data_json, ttl_ms or 0]
        if index is None:
            args += ["", "", 0]
        else:
            keys.append(index.key)
            if index.score is None:
                args += ["remove", index.member, 0]
            else:
                args += ["add", index.member, repr(index.score)]
        if guard is None:
            args.append("")
        else:
            if not guard.token:
                raise StoreError("guard token must not be empty")
            keys.append(guard.key)
            args.append(guard.token)
        if audit is None:
            args.append("")
        else:
            if not audit.fields:
                raise StoreError("an audit entry needs at least one field")
            keys.append(audit.key)
            args.append(audit.maxlen)
            for field, value in audit.fields.items():
                args += [field, value]
        result = int(await self.run_script("cas", keys, args))
        if result == -1:
            assert guard is not None
            log.warning("guarded write refused: lock lost key=%s record=%s", guard.key, key)
            raise LockLost(f"lock {guard.key} is no longer held by this writer")
        return result > 0

    async def claim_once(self, key: str, ttl_ms: int) -> bool:
        """Claim a slot or event exactly once across replicas (`SET NX PX`)."""
        _check_ttl(ttl_ms)
        return bool(await self.redis.set(key, "1", nx=True, px=ttl_ms))

    async def exists(self, key: str) -> bool:
        return bool(await self.redis.exists(key))

    async def read_text(self, key: str) -> str | None:
        """A plain string value (not a versioned record), or None."""
        value = await self.redis.get(key)
        return None if value is None else text(value)

    async def write_text(self, key: str, value: str, ttl_ms: int) -> None:
        """Set a plain string value that expires after `ttl_ms`."""
        _check_ttl(ttl_ms)
        await self.redis.set(key, value, px=ttl_ms)

    async def delete(self, key: str) -> bool:
        return bool(await self.redis.delete(key))

    async def forget(self, index_key: str, *members: str) -> None:
        """Drop members from a sorted-set index (records that are gone)."""
        if members:
            await self.redis.zrem(index_key, *members)

    async def push(self, list_key: str, *values: str) -> None:
        """Append to a queue (a list, oldest first)."""
        if values:
            await self.redis.rpush(list_key, *values)

    async def oldest(self, list_key: str, limit: int) -> list[str]:
        """The oldest `limit` queue entries (0: all)."""
        return [text(v) for v in await self.redis.lrange(list_key, 0, limit - 1)]

    async def remove_entry(self, list_key: str, value: str) -> None:
        """Remove one exact entry from a queue; a no-op when another deliverer already did."""
        await self.redis.lrem(list_key, 1, value)

    async def length(self, list_key: str) -> int:
        return int(await self.redis.llen(list_key))

    async def members(self, index_key: str) -> list[str]:
        """Every member of a sorted-set index, lowest score first."""
        return [text(m) for m in await self.redis.zrange(index_key, 0, -1)]

    async def nonempty(self, keys: Sequence[str]) -> list[bool]:
        """Which of `keys` exist, in `keys` order, in one round trip (an index exists while it has
        members)."""
        if not keys:
            return []
        pipe = self.pipeline()
        for key in keys:
            pipe.exists(key)
        return [bool(n) for n in await pipe.execute()]

    async def due(self, index_key: str, now: float, limit: int | None = None) -> list[str]:
        """Members whose score (a due time in unix seconds) is at or before `now`."""
        if limit is None:
            found = await self.redis.zrangebyscore(index_key, "-inf", repr(now))
        else:
            found = await self.redis.zrangebyscore(index_key, "-inf", repr(now), start=0, num=limit)
        return [text(m) for m in found]


def _decodes_responses(redis: Redis) -> bool:
    # A plain client keeps its options on its pool; a RedisCluster client (`store.connection`) on itself.
    pool = getattr(redis, "connection_pool", None)
    options = pool.connection_kwargs if pool is not None else getattr(redis, "connection_kwargs", {})
    return bool(options.get("decode_responses"))
