"""Leader changes as events, not alerts: one message per flap, edited to list the whole chain.

A leader change has no "firing" or "resolved": it happened. The first change posts ONE event
message ("Leader changed: seq-0 → seq-1", no Acknowledge or Silence buttons). Every further change
within `window` seconds of the previous one (a flap; `CONDUCTOR_BOT_LEADER_FLAP_WINDOW`, 5 minutes by
default) edits that same message to show the whole chain, "seq-0 → seq-1 → seq-2", with the time of
each change. A change after a quiet window starts a new message.

Exactly once across replicas: the change itself is seen by exactly one tick (the one whose watcher
memory write won its compare-and-set, `alerts.watcher` step 3), and the chain is a versioned record
(`Keys.leader_events`) written with compare-and-set (a Lua script), re-read and re-applied on a
conflict, so two replicas can neither post two messages for one flap nor drop a change from it.
Recording a change already in the chain changes nothing, so a tick that takes over a change a dead
replica owed (`WatchMemory.leader_changes`) can record it again safely.
Posts and edits go through the network's outbox like every alert write.

A change the bot's own operation caused (`alerts.own_ops`: `transfer-leader`, …) goes into the
request's thread instead; a chain never mixes the two, so a change after the operation starts a new
top-level message. A network-wide silence suppresses leader change messages like any alert.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from pydantic import BaseModel, ConfigDict

from alerts.event_blocks import leader_chain_blocks, leader_chain_text
from alerts.model import Condition, LeaderChange, OperationCause
from store.gateway import Store, Versioned, retry_cas
from store.outbox import SlackWrite

logger = logging.getLogger(__name__)

DEFAULT_FLAP_WINDOW = 300.0
# The record outlives the window a little, so a change right at its end still finds the chain.
RECORD_MARGIN_SECONDS = 60.0


class LeaderChain(BaseModel):
    """The leader changes one event message shows (oldest first), and where that message is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    network: str
    # The outbox message key of the event message.
    message: str
    changes: tuple[LeaderChange, ...]
    cause: OperationCause | None = None

    @property
    def leaders(self) -> list[str]:
        """seq-0, seq-1, seq-2 for the changes seq-0 → seq-1, seq-1 → seq-2 (a gap shows both ends)."""
        out = [self.changes[0].before]
        for change in self.changes:
            if change.before != out[-1]:
                out.append(change.before)
            out.append(change.after)
        return out


def extend(
    chain: LeaderChain | None, change: LeaderChange, network: str, window: float, cause: OperationCause | None
) -> tuple[LeaderChain, bool]:
    """The chain after `change`, and whether it is a new one (a new message) rather than an edit.
    A change already in the chain leaves it as it is (recording is idempotent)."""
    if chain is not None and change in chain.changes:
        return chain, False
    same_cause = (chain.cause.request_id if chain and chain.cause else None) == (
        cause.request_id if cause else None
    )
    if chain is not None and same_cause and change.at - chain.changes[-1].at <= window:
        return chain.model_copy(update={"changes": (*chain.changes, change)}), False
    message = f"leader:{network}:{int(change.at * 1000)}"
    return LeaderChain(network=network, message=message, changes=(change,), cause=cause), True


def change_of(condition: Condition, now: float) -> LeaderChange:
    return LeaderChange(
        at=now, before=str(condition.details.get("from", "?")), after=str(condition.details.get("to", "?"))
    )


async def record(
    store: Store, network: str, change: LeaderChange, window: float, cause: OperationCause | None
) -> tuple[LeaderChain, bool] | None:
    """Add `change` to the network's chain atomically; None when the write kept conflicting."""
    key = store.keys.leader_events(network)
    ttl_ms = int((window + RECORD_MARGIN_SECONDS) * 1000)

    async def attempt() -> tuple[LeaderChain, bool] | None:
        found = await store.get(key)
        current = _chain(found)
        chain, new = extend(current, change, network, window, cause)
        if chain is current:
            return chain, new
        if not await store.cas(key, found.version if found else 0, chain.model_dump_json(), ttl_ms):
            return None
        return chain, new

    return await retry_cas(attempt)


def _chain(found: Versioned | None) -> LeaderChain | None:
    return LeaderChain.model_validate_json(found.data) if found is not None else None


async def still_owed(
    store: Store,
    network: str,
    owed: Sequence[LeaderChange],
    now: float,
    window: float,
    told: Callable[[str], Awaitable[bool]],
) -> list[LeaderChange]:
    """Of the changes earlier ticks owed Slack (`WatchMemory.leader_changes`), those not yet in the
    chain's record with its message in Slack or its outbox (`told`, by message key): their tick's
    replica died before it got there. A change older than the record's lifetime is given up, since
    its record may have expired after its post and posting again could repeat it."""
    if not owed:
        return []
    chain = _chain(await store.get(store.keys.leader_events(network)))
    done = chain is not None and await told(chain.message)
    lifetime = window + RECORD_MARGIN_SECONDS
    left: list[LeaderChange] = []
    for change in owed:
        if done and chain is not None and change in chain.changes:
            continue
        if now - change.at > lifetime:
            logger.error(
                "leader change given up network=%s change=%s->%s", network, change.before, change.after
            )
            continue
        left.append(change)
    return left


def write_for(chain: LeaderChain, new: bool, alert_channel: str, now: float, window: float) -> SlackWrite:
    """The post of a new chain's message, or the edit of an existing one, rendered now."""
    text = leader_chain_text(chain)
    blocks = leader_chain_blocks(chain, window)
    cause = chain.cause
    if not new:
        return SlackWrite(
            message=chain.message,
            op="update",
            channel=cause.channel if cause else alert_channel,
            text=text,
            blocks=blocks,
            label="leader_event_update",
            queued_at=now,
        )
    return SlackWrite(
        message=chain.message,
        op="post",
        channel=cause.channel if cause else alert_channel,
        thread_ts=cause.ts if cause else None,
        text=text,
        blocks=blocks,
        label="leader_event",
        queued_at=now,
    )
