"""Alert state, watcher memory, network silences and the notifier outbox in Redis.

Records go through `store.gateway.Store` (versioned compare-and-set), so a replica that lost a race
re-reads instead of overwriting. Keys, per network (all under the network's hash tag):

- `Keys.alert(net, fp)`: one `AlertState` (JSON). No TTL while it may still need a message; a
  resolved or never-fired record expires after `RESOLVED_TTL_SECONDS`, long enough that a restart
  never re-posts a recently resolved alert, short enough that dead subjects do not pile up.
- `Keys.alerts(net)`: index of every fingerprint with a record (score: when it last changed).
  Members whose record expired are dropped the next time the index is read.
- `Keys.memory(net)`: `WatchMemory` (JSON) with a TTL of `MEMORY_TTL_SECONDS`.
- `Keys.silence(net)`: the network-wide silence (`NetworkSilence` JSON), expiring at its end.
- `Keys.outbox(net)`: a list of `OutboxEntry` (Slack effects not yet delivered), oldest first.
  No TTL: an undelivered notification is never forgotten; entries leave it only once delivered or
  found permanently undeliverable.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from alerts.effects import Effect, effect_fingerprints, is_post
from alerts.model import AlertState
from alerts.rules import WatchMemory
from store.audit import AuditEntry, stage
from store.gateway import IndexUpdate, Store, Versioned

logger = logging.getLogger(__name__)

RESOLVED_TTL_SECONDS = 3 * 24 * 3600
# A leader change across a short watcher outage (a deploy) must still be recognised, while an
# hour-old "best head moved at" is no longer mistaken for recent.
MEMORY_TTL_SECONDS = 3600
# Keeps a network silence key a little past its end so clock skew between replicas cannot drop it early.
SILENCE_GRACE_SECONDS = 60


class Stored(BaseModel):
    """An alert record as read: its state and the version to compare-and-set against."""

    model_config = ConfigDict(frozen=True)

    version: int
    state: AlertState


class NetworkSilence(BaseModel):
    """A network-wide silence: every alert of the network stays quiet until `until` (unix seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    until: float
    by: str
    since: float


class OutboxEntry(BaseModel):
    """One Slack effect waiting for delivery; `id` makes each entry unique in the list."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    queued_at: float
    effect: Effect


def _ttl_ms(state: AlertState) -> int | None:
    # Firing or pending alerts live until they resolve; the rest only as long as they are useful.
    if state.phase in ("firing", "pending"):
        return None
    return RESOLVED_TTL_SECONDS * 1000


class AlertStore:
    """Typed access to one deployment's alert keys."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.keys = store.keys

    # --- alert records -----------------------------------------------------------------------

    async def get(self, network: str, fingerprint: str) -> Stored | None:
        found = await self.store.get(self.keys.alert(network, fingerprint))
        if found is None:
            return None
        return Stored(version=found.version, state=AlertState.model_validate_json(found.data))

    async def load(self, network: str) -> dict[str, Stored]:
        """Every alert record of `network`, by fingerprint (expired index members are removed)."""
        return await self.load_members(network, await self.store.members(self.keys.alerts(network)))

    async def load_members(self, network: str, members: Sequence[str]) -> dict[str, Stored]:
        """The records of `members` of the network's alert index, read in one round trip."""
        found = await self.store.get_many([self.keys.alert(network, fp) for fp in members])
        out: dict[str, Stored] = {}
        gone: list[str] = []
        for fp, record in zip(members, found, strict=True):
            if record is None:
                gone.append(fp)
            else:
                out[fp] = Stored(version=record.version, state=AlertState.model_validate_json(record.data))
        if gone:
            await self.store.forget(self.keys.alerts(network), *gone)
        return out

    async def save(
        self, state: AlertState, version: int, now: float, audit: AuditEntry | None = None
    ) -> bool:
        """Write `state` if its record is still at `version` (0: absent); False when another writer won.

        `audit` is appended to the network's audit stream in the same script, only if the write wins.
        """
        return await self.store.cas(
            self.keys.alert(state.network, state.fingerprint),
            version,
            state.model_dump_json(),
            _ttl_ms(state),
            index=IndexUpdate.add(self.keys.alerts(state.network), state.fingerprint, now),
            audit=stage(self.store, audit) if audit is not None else None,
        )

    # --- watcher memory ----------------------------------------------------------------------

    async def memory(self, network: str) -> tuple[int, WatchMemory]:
        return self.parse_memory(await self.store.get(self.keys.memory(network)))

    @staticmethod
    def parse_memory(found: Versioned | None) -> tuple[int, WatchMemory]:
        if found is None:
            return 0, WatchMemory()
        return found.version, WatchMemory.model_validate_json(found.data)

    async def save_memory(self, network: str, version: int, memory: WatchMemory) -> bool:
        """CAS the memory: the fence of a whole tick (a second writer of the same tick loses here)."""
        return await self.store.cas(
            self.keys.memory(network), version, memory.model_dump_json(), MEMORY_TTL_SECONDS * 1000
        )

    # --- network silence ---------------------------------------------------------------------

    async def silence(self, network: str, now: float) -> NetworkSilence | None:
        """The network's silence while in force (`now` is our clock, which may run ahead of Redis's)."""
        return self.parse_silence(await self.store.read_text(self.keys.silence(network)), now)

    @staticmethod
    def parse_silence(raw: str | None, now: float) -> NetworkSilence | None:
        """A silence as read from its key, while in force at `now`."""
        if raw is None:
            return None
        silence = NetworkSilence.model_validate_json(raw)
        return silence if silence.until > now else None

    async def set_silence(self, network: str, silence: NetworkSilence, now: float) -> None:
        ttl_ms = int((silence.until - now + SILENCE_GRACE_SECONDS) * 1000)
        await self.store.write_text(self.keys.silence(network), silence.model_dump_json(), max(ttl_ms, 1))

    async def clear_silence(self, network: str) -> bool:
        return await self.store.delete(self.keys.silence(network))

    # --- outbox ------------------------------------------------------------------------------

    async def enqueue(self, network: str, effects: list[Effect], now: float) -> None:
        if not effects:
            return
        entries = [OutboxEntry(queued_at=now, effect=e).model_dump_json() for e in effects]
        await self.store.push(self.keys.outbox(network), *entries)

    async def pending(self, network: str, limit: int = 100) -> list[tuple[str, OutboxEntry]]:
        """The oldest `limit` entries (0: all), each with its raw text (to remove that exact entry later)."""
        raw = await self.store.oldest(self.keys.outbox(network), limit)
        return [(body, OutboxEntry.model_validate_json(body)) for body in raw]

    async def done(self, network: str, raw: str) -> None:
        # LREM of the exact text: a second deliverer that already removed it makes this a no-op.
        await self.store.remove_entry(self.keys.outbox(network), raw)

    async def queued_posts(self, network: str) -> set[str]:
        """Fingerprints with a post (or a burst summary) waiting in the outbox."""
        out: set[str] = set()
        for _raw, entry in await self.pending(network, 0):
            if is_post(entry.effect):
                out |= effect_fingerprints(entry.effect)
        return out

    async def outbox_length(self, network: str) -> int:
        return await self.store.length(self.keys.outbox(network))
