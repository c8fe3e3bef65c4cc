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
- `Keys.alert_message(net, fp, episode)`: the message key of the burst summary showing that episode
  (absent: the episode has its own message, `alert:<fp>:<episode>`).
- `Keys.summary(net, message)`: a burst summary's members as last rendered.

Slack writes themselves wait in the network's outbox (`store.outbox`), delivered by `chat.delivery`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, TypeAdapter

from alerts.model import AlertState
from alerts.rules import WatchMemory
from store import history
from store.audit import AuditEntry, stage
from store.gateway import IndexUpdate, Store, Versioned
from store.history import HistoryPoint
from store.locks import lease_and_write
from store.outbox import MESSAGE_TTL_MS, MessageRef, Outbox

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
        key, ttl_ms = self.keys.memory(network), MEMORY_TTL_SECONDS * 1000
        return await self.store.cas(key, version, memory.model_dump_json(), ttl_ms)

    async def save_quiet(
        self,
        network: str,
        lease: tuple[str, int],
        version: int,
        memory: WatchMemory,
        point: HistoryPoint,
        unread: bool,
    ) -> int:
        """A quiet tick's whole write in one round trip: the watch `lease` (owner, ttl ms) held, the
        memory CAS (the tick's fence) and the history point. With `unread` (the tick did not read
        the network's silence, alerts and outbox) nothing is written if any of them exists now.
        Returns the memory's new version or a `store.locks` reason for writing nothing."""
        owner, ttl_ms = lease
        keys = self.keys
        return await lease_and_write(
            self.store,
            keys.watch_lease(network),
            owner,
            ttl_ms,
            record=keys.memory(network),
            expected_version=version,
            data_json=memory.model_dump_json(),
            record_ttl_ms=MEMORY_TTL_SECONDS * 1000,
            append=history.appending(self.store, network, point),
            absent=(keys.silence(network), keys.alerts(network), keys.outbox(network)) if unread else (),
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

    # --- which message shows an episode --------------------------------------------------------

    async def message_key(self, network: str, fingerprint: str, episode: int) -> str:
        """The outbox message key showing this alert episode: its own, or its burst summary's."""
        shared = await self.store.read_text(self.keys.alert_message(network, fingerprint, episode))
        return shared if shared is not None else own_message_key(fingerprint, episode)

    async def message_of(self, network: str, state: AlertState) -> MessageRef | None:
        """Where the message showing this alert episode landed in Slack; None while it is not posted."""
        return await Outbox(self.store).message(
            network, await self.message_key(network, state.fingerprint, state.episode)
        )

    async def start_summary(self, network: str, message: str, states: list[AlertState]) -> None:
        """Record a burst summary's members (each episode now points to it) and their states."""
        # The summary record first: an alert pointing to a summary always finds its members.
        await self.store.write_text(
            self.keys.summary(network, message), _SUMMARY.dump_json(_by_fp(states)).decode(), MESSAGE_TTL_MS
        )
        for state in states:
            await self.store.write_text(
                self.keys.alert_message(network, state.fingerprint, state.episode), message, MESSAGE_TTL_MS
            )

    async def summary_members(self, network: str, message: str, changed: AlertState) -> list[AlertState]:
        """A summary's members with `changed` in its place; the others as last rendered, or fresher when
        still in the same episode (a member that moved to a new episode keeps its old line)."""
        raw = await self.store.read_text(self.keys.summary(network, message))
        members = _SUMMARY.validate_json(raw) if raw is not None else {}
        members[changed.fingerprint] = changed
        for fp, old in list(members.items()):
            if fp == changed.fingerprint:
                continue
            fresh = await self.get(network, fp)
            if fresh is not None and fresh.state.episode == old.episode:
                members[fp] = fresh.state
        await self.store.write_text(
            self.keys.summary(network, message), _SUMMARY.dump_json(members).decode(), MESSAGE_TTL_MS
        )
        return list(members.values())


def own_message_key(fingerprint: str, episode: int) -> str:
    return f"alert:{fingerprint}:{episode}"


def summary_message_key(first: AlertState) -> str:
    return f"summary:{first.fingerprint}:{first.episode}"


_SUMMARY = TypeAdapter(dict[str, AlertState])


def _by_fp(states: list[AlertState]) -> dict[str, AlertState]:
    return {s.fingerprint: s for s in states}
