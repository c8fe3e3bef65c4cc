"""Versioned state-machine records: one record per id, an index of the unfinished ones per network.

Approval requests (`commands.approval_store`) and procedure runs (`commands.procedures.records`) are
kept the same way, so the way lives here once: every change reads the record, lets a pure decision
say what to write, and writes it with `Store.cas` together with the index change, the audit entry and
the caller's lock as a guard (one Lua script). On a version conflict it reads again and decides again,
so two clicks, a Slack retry or two replicas acting on one version produce exactly one accepted change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from store import audit
from store.audit import AuditEntry
from store.gateway import Guard, IndexUpdate, Store
from store.keys import Keys

# Records outlive their state machine so a click on an old message can still be explained.
RECORD_TTL_MS = 7 * 24 * 3600 * 1000
# Concurrent writers on one record are a handful of clicks; a bound turns a livelock into an error.
MAX_ATTEMPTS = 50

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


class ConflictLimit(Exception):
    """Raised when a record kept changing under us for `MAX_ATTEMPTS` reads."""


class Missing(Exception):
    """The record does not exist (never did, or aged out)."""


@dataclass(frozen=True)
class Write(Generic[M, R]):
    """What a decision wants stored (`record`, with `entry` in the audit trail) and returned."""

    record: M
    result: R
    entry: AuditEntry | None = None


@dataclass(frozen=True)
class Keep(Generic[R]):
    """A decision that writes nothing (a refusal), returning `result` as is."""

    result: R


@dataclass(frozen=True)
class RecordKind(Generic[M]):
    """How one kind of record is stored: its model, its key, its index and when it is finished."""

    model: type[M]
    key: Callable[[Keys, str, str], str]  # (keys, network, id) -> record key
    index_key: Callable[[Keys, str], str]  # (keys, network) -> index of unfinished ones
    record_id: Callable[[M], str]
    network: Callable[[M], str]
    # The index score of an unfinished record; None when it is finished (it leaves the index).
    score: Callable[[M], float | None]

    def index(self, store: Store, record: M) -> IndexUpdate:
        key = self.index_key(store.keys, self.network(record))
        score = self.score(record)
        if score is None:
            return IndexUpdate.remove(key, self.record_id(record))
        return IndexUpdate.add(key, self.record_id(record), score)

    async def load(self, store: Store, network: str, record_id: str) -> tuple[M, int] | None:
        """The record and its store version, or None when no such record exists."""
        found = await store.get(self.key(store.keys, network, record_id))
        if found is None:
            return None
        return self.model.model_validate_json(found.data), found.version

    async def create(
        self, store: Store, record: M, entry: AuditEntry | None = None, guard: Guard | None = None
    ) -> bool:
        """Store a new record, index it and audit it in one script; False if the id already exists."""
        return await store.create(
            self.key(store.keys, self.network(record), self.record_id(record)),
            record.model_dump_json(),
            RECORD_TTL_MS,
            index=self.index(store, record),
            audit=None if entry is None else audit.stage(store, entry),
            guard=guard,
        )

    async def unfinished(self, store: Store, network: str) -> list[M]:
        """The network's records still in its index and not finished, in index order."""
        found: list[M] = []
        for record_id in await store.members(self.index_key(store.keys, network)):
            loaded = await self.load(store, network, record_id)
            if loaded is not None and self.score(loaded[0]) is not None:
                found.append(loaded[0])
        return found

    async def update(
        self,
        store: Store,
        network: str,
        record_id: str,
        decide: Callable[[M], Write[M, R] | Keep[R]],
        guard: Guard | None = None,
    ) -> R:
        """Apply `decide` to the current record until its write lands on the version it read.

        Raises `Missing` when there is no record, `ConflictLimit` after `MAX_ATTEMPTS` lost races and
        `LockLost` when `guard` is no longer ours.
        """
        key = self.key(store.keys, network, record_id)
        for _ in range(MAX_ATTEMPTS):
            loaded = await self.load(store, network, record_id)
            if loaded is None:
                raise Missing(key)
            record, version = loaded
            change = decide(record)
            if isinstance(change, Keep):
                return change.result
            if await store.cas(
                key,
                version,
                change.record.model_dump_json(),
                RECORD_TTL_MS,
                index=self.index(store, change.record),
                audit=None if change.entry is None else audit.stage(store, change.entry),
                guard=guard,
            ):
                return change.result
        raise ConflictLimit(f"{key} kept changing; gave up after {MAX_ATTEMPTS} attempts")
