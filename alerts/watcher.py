"""The watcher: one tick of one network, from a snapshot to Slack, safe with several replicas.

Per tick (`Watcher.tick`):

0. Skip networks that rendezvous hashing (`store.rendezvous`) gives to another live replica
   (`store.replicas`; `heartbeat` refreshes the live set every interval), so N replicas each watch
   about 1/N of the networks. A network this replica held and no longer owns has its lease released,
   so the new owner takes it at once. With no live set yet (before the first heartbeat, or while
   Redis is failing) every network is tried and the lease alone decides.
1. Take a polling slot (the process-wide semaphore, `settings.poll_concurrency`), THEN, in one
   Lua command (`lease_and_read`), hold the network's lease and read the tick's state (memory,
   silence, alert index, outbox length), so the lease is renewed right before polling and a long wait
   for a slot cannot outlast it. A replica that does not get the lease does nothing, so each network
   is watched by one replica at a time.
2. Poll (`ctx.snapshots`, single-flight: a status request in flight is shared) and evaluate the
   rules against the stored `WatchMemory`.
3. Write the new memory with compare-and-set. This is the tick's fence: if another replica wrote
   it since we read it (a lease hand-over race), we lost the tick and stop before acting.
   A quiet tick (below) writes it with the lease renewal and the history point in one command;
   the tick after a quiet one whose memory this replica wrote skips step 1's read and uses the
   memory it wrote, and if it is quiet too its one command also checks that nothing it did not
   read (silence, stored alerts, outbox) exists and that the memory is still at its version.
   Otherwise it reads as in step 1 and goes on from there with the snapshot it took. A healthy
   network therefore costs one Redis command per tick.
4. Apply the tick to every stored alert (`state.observe_network`) and write each changed alert with
   CAS. A conflict means someone else (a button click, another replica) moved that alert: re-read it
   and re-apply this tick's observation to the fresh state, so nothing is done twice or lost.
   Then append the tick's compact record to the network's history (`store.history`, for
   `/conductor timeline`); a tick with no condition and no stored alert has nothing to apply and
   appends it in step 3's round trip instead (`store.locks.lease_and_write`, only if the CAS wins).
   An alert this tick posts is first checked against the operation the bot itself is running
   (`alerts.own_ops`; the window is read only on a tick that posts something): one the approved
   plan explains is attributed to its request and shown in the request's thread.
   Leader changes are not alerts but events (`alerts.leader_events`): each is added, atomically,
   to the network's chain of changes, which posts one message per flap and edits it after that.
   A change is edge-triggered (the memory written in step 3 already names the new leader), so the
   memory also carries it as owed (`WatchMemory.leader_changes`) until a later tick finds it
   recorded and in Slack or its outbox: a replica dying between step 3 and the outbox leaves the
   next tick to record it (idempotently) and post it.
5. Fold a burst of posts into one summary (`burst.group_effects`, per destination) and hand the
   effects to the notifier, which queues them in Redis and delivers them (or retries them next tick).
6. Repair lost posts: an alert saved as "post requested" whose PostAlert never reached the outbox
   (a crash, a cancellation or a Redis error between its save and `notifier.submit`) would never be
   posted. A firing, unsilenced alert whose post was requested over `LOST_POST_GRACE_SECONDS` ago
   and whose episode has neither a message in Slack nor a post in the outbox gets its PostAlert
   queued again (at most once per grace period: `once(net, repost:<fp>:<episode>)`); the outbox
   posts a message at most once, so a repair that races the original post cannot double it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from pydantic import BaseModel, ConfigDict

from alerts import leader_events, own_ops
from alerts.alert_store import AlertStore, Stored
from alerts.burst import group_effects
from alerts.effects import Effect, PostAlert, effect_fingerprints, is_post
from alerts.history_record import history_point
from alerts.model import AlertState, Condition, LeaderChange
from alerts.notifier import Notifier
from alerts.rules import WatchMemory, evaluate
from alerts.state import TickOutcome, observe_network
from chat.context import BotContext
from cluster.health import LEADER_CHANGED
from cluster.snapshot import NetworkSnapshot
from cluster.topology import NetworkSpec
from commands.own_operation import OperationWindow, read_window
from store import history
from store.gateway import retry_cas
from store.locks import LEASE_TAKEN, LeaseRead, lease_and_read, release_lease
from store.outbox import SlackWrite
from store.rendezvous import owner as rendezvous_owner
from store.replicas import ReplicaRegistry

logger = logging.getLogger(__name__)

LEASE_INTERVALS = 3
# A replica's heartbeat outlives two missed intervals: one slow heartbeat does not reshuffle networks.
HEARTBEAT_INTERVALS = 2
# How long (on the ctx clock) a requested post may stay without a message before the watcher
# queues it again: far longer than a normal tick-to-post delay, short enough to page in time.
LOST_POST_GRACE_SECONDS = 60.0


def default_owner_id() -> str:
    """A replica id: host, pid and a random suffix (a restarted process is a new owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class TickReport(BaseModel):
    """What one tick did, for logs, tests and the benchmark."""

    model_config = ConfigDict(frozen=True)

    network: str
    leader: bool
    # Another replica wrote this tick's memory first; we acted on nothing.
    lost_race: bool = False
    conditions: int = 0
    changed: int = 0
    effects: int = 0
    delivered: int = 0
    outbox: int = 0
    seconds: float = 0.0


class Watcher:
    """Ticks networks for one replica (`owner_id`) of the bot."""

    def __init__(
        self, ctx: BotContext, owner_id: str | None = None, notifier: Notifier | None = None
    ) -> None:
        self.ctx = ctx
        self.owner_id = owner_id or default_owner_id()
        self.alerts = AlertStore(ctx.store)
        self.notifier = notifier or Notifier(ctx, self.alerts)
        self.registry = ReplicaRegistry(
            ctx.store, self.owner_id, HEARTBEAT_INTERVALS * ctx.settings.poll_interval
        )
        # The live replicas as of our last heartbeat; None until then (every network is tried).
        self.live: tuple[str, ...] | None = None
        # Networks whose lease we took, so one assigned elsewhere is handed over at once.
        self._leased: set[str] = set()
        # Networks whose last tick was quiet, with the memory it wrote: the next tick skips the read.
        self._quiet: dict[str, _Known] = {}
        # Each tick in the gate holds at most one Redis connection and one network's HTTP polls.
        self._poll_gate = asyncio.Semaphore(ctx.settings.poll_concurrency)

    async def heartbeat(self) -> tuple[str, ...]:
        """Say this replica is alive and learn who else is (call every poll interval)."""
        try:
            self.live = tuple(await self.registry.heartbeat(self.ctx.clock.now()))
        except BaseException:
            # A view we could not refresh may hide a dead replica: let the leases decide meanwhile.
            self.live = None
            raise
        return self.live

    def assigned(self, network: str) -> bool:
        """Whether rendezvous hashing over the live replicas gives `network` to this replica."""
        live = self.live
        if not live or self.owner_id not in live:
            return True
        return rendezvous_owner(network, live) == self.owner_id

    def has_work(self, network: str) -> bool:
        """Whether a tick of `network` would do anything here: watch it, or hand its lease over."""
        return network in self._leased or self.assigned(network)

    @property
    def lease_ms(self) -> int:
        return max(int(LEASE_INTERVALS * self.ctx.settings.poll_interval * 1000), 1000)

    async def tick(self, network: str) -> TickReport:
        started = time.perf_counter()
        spec = self.ctx.topology.network(network)
        if spec is None:
            raise KeyError(f"unknown network {network!r}")
        # Taken out first: a tick that fails anywhere leaves the next one to read everything again.
        known = self._quiet.pop(network, None)
        if not self.assigned(network):
            if network in self._leased:
                self._leased.discard(network)
                await release_lease(self.ctx.store, self.ctx.store.keys.watch_lease(network), self.owner_id)
                logger.info("watch lease handed over network=%s owner=%s", network, self.owner_id)
            return TickReport(network=network, leader=False, seconds=time.perf_counter() - started)
        async with self._poll_gate:
            # The lease is renewed only once we may poll, so waiting for a slot never eats into it.
            reads = await self._lease_and_read(network) if known is None else None
            if reads is not None and not reads.leased:
                return self._not_leased(network, started)
            snapshot = await self.ctx.snapshots.snapshot(spec)
        now = self.ctx.clock.now()
        if known is not None:
            quiet = await self._tick_known(network, spec, snapshot, known, now, started)
            if isinstance(quiet, TickReport):
                return quiet
            reads = quiet
        assert reads is not None
        return await self._tick_read(network, spec, snapshot, reads, now, started)

    async def _tick_known(
        self,
        network: str,
        spec: NetworkSpec,
        snapshot: NetworkSnapshot,
        known: _Known,
        now: float,
        started: float,
    ) -> TickReport | LeaseRead:
        """The tick after a quiet one whose memory this replica wrote: with no condition, it needs no
        read at all unless something changed meanwhile (checked by its one write). Returns the
        tick's report, or the full read (leased) when the tick must go the long way."""
        conditions, new_memory = evaluate(snapshot, spec, known.memory, now)
        if not conditions:
            written = await self._save_quiet(network, known.version, new_memory, snapshot, unread=True)
            if written > 0:
                self._quiet[network] = _Known(version=written, memory=new_memory)
                return TickReport(network=network, leader=True, seconds=time.perf_counter() - started)
            if written == LEASE_TAKEN:
                return self._not_leased(network, started)
        reads = await self._lease_and_read(network)
        return reads if reads.leased else self._not_leased(network, started)

    async def _tick_read(
        self,
        network: str,
        spec: NetworkSpec,
        snapshot: NetworkSnapshot,
        reads: LeaseRead,
        now: float,
        started: float,
    ) -> TickReport:
        """The tick with the network's whole state read (`_lease_and_read`, the lease held)."""
        memory_version, memory = AlertStore.parse_memory(reads.record)
        conditions, new_memory = evaluate(snapshot, spec, memory, now)
        silence = AlertStore.parse_silence(reads.value, now)
        silenced_until = silence.until if silence is not None else None
        changes = [leader_events.change_of(c, now) for c in conditions if c.rule == LEADER_CHANGED]
        conditions = [c for c in conditions if c.rule != LEADER_CHANGED]
        # The leader changes this tick owes Slack go into the memory it writes, before they are
        # recorded (see `WatchMemory.leader_changes`). A silence suppresses their messages: none owed.
        owed = (
            []
            if silenced_until is not None
            else [
                *await leader_events.still_owed(
                    self.ctx.store,
                    network,
                    memory.leader_changes,
                    now,
                    self.ctx.settings.leader_flap_window,
                    partial(self.notifier.posted_or_queued, network),
                ),
                *changes,
            ]
        )
        if owed:  # (evaluate's memory owes none)
            new_memory = new_memory.model_copy(update={"leader_changes": tuple(owed)})
        # No condition, change or stored alert (most ticks of a healthy fleet): nothing to apply, so
        # the history point goes with the memory's CAS, in its round trip, and only if the CAS wins.
        quiet = not conditions and not changes and not owed and not reads.members
        if quiet:
            written = await self._save_quiet(network, memory_version, new_memory, snapshot, unread=False)
            if written > 0 and reads.value is None and not reads.queue_length:
                self._quiet[network] = _Known(version=written, memory=new_memory)
        else:
            written = int(await self.alerts.save_memory(network, memory_version, new_memory))
        if written <= 0:
            logger.warning("watch tick lost to another replica network=%s owner=%s", network, self.owner_id)
            return TickReport(
                network=network, leader=True, lost_race=True, seconds=time.perf_counter() - started
            )
        window = _Window(self, network)
        effects: list[Effect]
        states: dict[str, AlertState]
        if quiet:
            changed, effects, states = 0, [], {}
        else:
            stored = await self.alerts.load_members(network, reads.members)
            changed, effects, states = await self._apply(
                network, conditions, stored, now, new_memory.held, silenced_until, window
            )
            fired = (LEADER_CHANGED,) if changes else ()
            await history.append(self.ctx.store, network, history_point(snapshot, stored, states, fired))
        effects = group_effects(network, effects, thread_of=partial(_thread_of, states))
        if silenced_until is None:
            effects += await self._lost_posts(network, states, effects, now)
        events = await self._leader_events(network, owed, now, window)
        if effects or events or reads.queue_length:
            report = await self.notifier.submit(network, effects, states, events)
            delivered, remaining = report.delivered, report.remaining
        else:
            delivered = remaining = 0  # the quiet tick: nothing to queue or deliver, no round trip
        return TickReport(
            network=network,
            leader=True,
            conditions=len(conditions),
            changed=changed,
            effects=len(effects) + len(events),
            delivered=delivered,
            outbox=remaining,
            seconds=time.perf_counter() - started,
        )

    async def _apply(
        self,
        network: str,
        conditions: Iterable[Condition],
        stored: dict[str, Stored],
        now: float,
        held: tuple[str, ...],
        silenced_until: float | None,
        window: _Window,
    ) -> tuple[int, list[Effect], dict[str, AlertState]]:
        """Apply the tick; returns how many alerts changed, their effects, and every alert's state
        as written (alerts that needed a retry are left out: the next tick sees them fresh)."""
        by_fp = {c.fingerprint: c for c in conditions}
        states = {fp: s.state for fp, s in stored.items()}
        outcome = await window.attribute(
            observe_network(
                network, by_fp.values(), states, now, held=held, network_silenced_until=silenced_until
            )
        )
        effects: list[Effect] = []
        for fp in sorted(outcome.changed.keys() | {e_fp for e in outcome.effects if (e_fp := _fp(e))}):
            own = [e for e in outcome.effects if _fp(e) == fp]
            new = outcome.changed.get(fp)
            if new is None:
                effects.extend(own)
                continue
            version = stored[fp].version if fp in stored else 0
            if await self.alerts.save(new, version, now):
                states[fp] = new
                effects.extend(own)
                continue
            states.pop(fp, None)
            effects.extend(await self._retry(network, fp, by_fp.get(fp), now, held, silenced_until, window))
        return len(outcome.changed), effects, states

    async def _lost_posts(
        self, network: str, states: Mapping[str, AlertState], queued: Sequence[Effect], now: float
    ) -> list[Effect]:
        """PostAlerts for alerts whose requested post was lost before it reached the outbox (step 6)."""
        due = [
            s
            for s in states.values()
            if s.phase == "firing"
            and s.post_requested_at is not None
            and now - s.post_requested_at >= LOST_POST_GRACE_SECONDS
            and not s.silenced_at(now)
        ]
        named = {fp for e in queued if is_post(e) for fp in effect_fingerprints(e)}
        lost: list[Effect] = []
        store = self.ctx.store
        for state in await self.notifier.unposted(network, [s for s in due if s.fingerprint not in named]):
            # At most one repair per alert episode and grace period: a post Slack refuses for good
            # (dropped by the outbox) is retried once a minute, not on every tick.
            repair = store.keys.once(network, f"repost:{state.fingerprint}:{state.episode}")
            if not await store.claim_once(repair, int(LOST_POST_GRACE_SECONDS * 1000)):
                continue
            logger.warning(
                "alert post was requested but never queued; queueing it again network=%s fingerprint=%s",
                network,
                state.fingerprint,
            )
            lost.append(PostAlert(fingerprint=state.fingerprint))
        return lost

    async def _retry(
        self,
        network: str,
        fp: str,
        condition: Condition | None,
        now: float,
        held: tuple[str, ...],
        silenced_until: float | None,
        window: _Window,
    ) -> list[Effect]:
        """Re-apply this tick to a fresh copy of one alert that someone else wrote meanwhile."""

        async def attempt() -> list[Effect] | None:
            fresh = await self.alerts.get(network, fp)
            states: dict[str, AlertState] = {fp: fresh.state} if fresh is not None else {}
            outcome = await window.attribute(
                observe_network(
                    network,
                    [condition] if condition is not None else [],
                    states,
                    now,
                    held=held,
                    network_silenced_until=silenced_until,
                )
            )
            new = outcome.changed.get(fp)
            if new is not None and not await self.alerts.save(new, fresh.version if fresh else 0, now):
                return None
            return list(outcome.effects)

        effects = await retry_cas(attempt)
        if effects is None:
            logger.error("alert write kept conflicting network=%s fingerprint=%s", network, fp)
        return effects or []

    async def _leader_events(
        self, network: str, changes: Sequence[LeaderChange], now: float, window: _Window
    ) -> list[SlackWrite]:
        """Add the owed leader changes to the network's chain (idempotently); the post or edit."""
        if not changes:
            return []
        spec = self.ctx.topology.network(network)
        channel = spec.alert_channel if spec is not None else None
        flap_window = self.ctx.settings.leader_flap_window
        writes: list[SlackWrite] = []
        for change in changes:
            cause = own_ops.cause_of(await window.get(), LEADER_CHANGED, "", change.at)
            if cause is None and not channel:
                logger.error("no alert_channel configured network=%s; leader change not posted", network)
                continue
            recorded = await leader_events.record(self.ctx.store, network, change, flap_window, cause)
            if recorded is None:
                logger.error("leader change chain kept conflicting network=%s", network)
                continue
            chain, new = recorded
            if not new and not await self.notifier.posted_or_queued(network, chain.message):
                # The chain's first post was lost between its record and the outbox (a crash there):
                # post the whole chain now instead of editing a message that does not exist.
                new = True
            writes.append(leader_events.write_for(chain, new, channel or "", now, flap_window))
        return writes

    async def _lease_and_read(self, network: str) -> LeaseRead:
        keys = self.ctx.store.keys
        reads = await lease_and_read(
            self.ctx.store,
            keys.watch_lease(network),
            self.owner_id,
            self.lease_ms,
            record=keys.memory(network),
            value=keys.silence(network),
            index=keys.alerts(network),
            queue=keys.outbox(network),
        )
        if reads.leased:
            self._leased.add(network)
        return reads

    def _not_leased(self, network: str, started: float) -> TickReport:
        self._leased.discard(network)
        return TickReport(network=network, leader=False, seconds=time.perf_counter() - started)

    async def _save_quiet(
        self, network: str, version: int, memory: WatchMemory, snapshot: NetworkSnapshot, *, unread: bool
    ) -> int:
        point = history_point(snapshot, {}, {})
        lease = (self.owner_id, self.lease_ms)
        return await self.alerts.save_quiet(network, lease, version, memory, point, unread)

    async def release(self) -> None:
        """Leave the replica set and give up every lease this replica holds, so the others take
        over at once instead of after the heartbeat and lease TTLs (shutdown)."""
        await self.registry.leave()
        self.live = None
        for network in self.ctx.topology.networks:
            await release_lease(self.ctx.store, self.ctx.store.keys.watch_lease(network), self.owner_id)
        self._leased.clear()
        self._quiet.clear()


@dataclass(frozen=True, slots=True)
class _Known:
    version: int
    memory: WatchMemory


class _Window:
    """The network's operation window, read at most once per tick and only when needed."""

    def __init__(self, watcher: Watcher, network: str) -> None:
        self._watcher = watcher
        self._network = network
        self._read = False
        self._value: OperationWindow | None = None

    async def get(self) -> OperationWindow | None:
        if not self._read:
            self._value = await read_window(self._watcher.ctx.store, self._network)
            self._read = True
        return self._value

    async def attribute(self, outcome: TickOutcome) -> TickOutcome:
        if not own_ops.posts_anything(outcome.effects):
            return outcome
        return own_ops.attribute(outcome, await self.get())


def _thread_of(states: Mapping[str, AlertState], fingerprint: str) -> str | None:
    state = states.get(fingerprint)
    return state.cause.request_id if state is not None and state.cause is not None else None


def _fp(effect: Effect) -> str:
    # A burst summary is formed after this step, so every effect here names one alert.
    return getattr(effect, "fingerprint", "")
