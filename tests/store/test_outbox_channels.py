"""The outbox's per-channel state against a real Valkey: the posting pace every replica shares, and
the per-network hold on a channel the bot cannot post to."""

from __future__ import annotations

import asyncio

from store.gateway import Store
from store.outbox import Outbox
from tests.fixtures.redis import eventually


async def test_a_channel_gives_one_slot_per_interval_to_all_callers_at_once(store: Store) -> None:
    outbox = Outbox(store)
    waits = await asyncio.gather(*(outbox.pace("C1", 1000) for _ in range(5)))
    # Five replicas asking at the same moment: exactly one posts now, the rest learn how long to wait.
    assert sorted(waits)[0] == 0 and all(0 < w <= 1000 for w in sorted(waits)[1:])
    assert await outbox.pace("C2", 1000) == 0  # another channel has its own pace


async def test_a_slot_frees_after_the_interval_and_an_idle_channel_leaves_no_key(store: Store) -> None:
    outbox = Outbox(store)
    assert await outbox.pace("C1", 50) == 0

    async def free() -> bool:
        return await outbox.pace("C1", 50) == 0

    await eventually(free, within=2.0)
    await eventually(lambda: _gone(store, store.keys.channel_pace("C1")), within=2.0)


async def _gone(store: Store, key: str) -> bool:
    return not await store.redis.exists(key)


async def test_a_hold_is_per_network_and_released_once(store: Store) -> None:
    outbox = Outbox(store)
    await outbox.hold("net-a", "C1", "not_in_channel", 60_000)
    assert await outbox.held("net-a", "C1") == "not_in_channel"
    assert await outbox.held("net-b", "C1") is None
    assert await outbox.release("net-a", "C1") is True
    assert await outbox.release("net-a", "C1") is False
    assert await outbox.held("net-a", "C1") is None
