"""The audit stream: written with its transition, read newest first, free of credentials."""

from __future__ import annotations

import pydantic
import pytest
from redis.asyncio import Redis

from store import audit
from store.audit import AuditEntry, AuditKind
from store.gateway import Store

NET = "op-mainnet"


def entry(at: float, kind: AuditKind, message: str, **extra: str) -> AuditEntry:
    return AuditEntry(
        at=at, network=NET, kind=kind, actor="U123", request_id="r1", message=message, data=extra
    )


async def test_audit_entry_is_written_with_the_transition_and_only_then(store: Store) -> None:
    key = store.keys.request(NET, "r1")
    requested = entry(1.0, AuditKind.REQUEST, "pause seq-1 requested")
    assert await store.create(key, '{"s": "pending"}', None, audit=audit.stage(store, requested))

    approved = entry(2.0, AuditKind.APPROVE, "approved by U999", approver="U999")
    assert await store.cas(key, 1, '{"s": "approved"}', None, audit=audit.stage(store, approved))
    # The double click: the version moved, so neither the state nor the audit trail changes.
    again = entry(3.0, AuditKind.APPROVE, "approved twice?")
    assert not await store.cas(key, 1, '{"s": "approved"}', None, audit=audit.stage(store, again))

    assert await audit.read(store, NET) == [approved, requested]


async def test_read_is_newest_first_and_bounded(store: Store) -> None:
    for i in range(30):
        await audit.append(store, NET, entry(float(i), AuditKind.STEP, f"step {i}"))

    latest = await audit.read(store, NET, count=5)

    assert [e.message for e in latest] == [f"step {i}" for i in (29, 28, 27, 26, 25)]


async def test_networks_have_separate_trails(store: Store) -> None:
    await audit.append(store, NET, entry(1.0, AuditKind.LOCK, "locked"))
    assert await audit.read(store, "base-mainnet") == []


async def test_entry_for_another_network_is_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        await audit.append(store, "base-mainnet", entry(1.0, AuditKind.LOCK, "locked"))


async def test_unreadable_entry_does_not_hide_the_others(store: Store, redis: Redis) -> None:
    await audit.append(store, NET, entry(1.0, AuditKind.REQUEST, "first"))
    await redis.xadd(store.keys.audit(NET), {"entry": "not json"})
    await audit.append(store, NET, entry(2.0, AuditKind.RESULT, "last"))

    assert [e.message for e in await audit.read(store, NET)] == ["last", "first"]


@pytest.mark.parametrize(
    ("message", "data"),
    [
        ("token is xoxb-1234-abcd", {}),
        ("ok", {"slack_signing_secret": "abc"}),
        ("ok", {"header": "xapp-1-A0"}),
    ],
)
def test_credentials_cannot_enter_the_trail(message: str, data: dict[str, str]) -> None:
    with pytest.raises(pydantic.ValidationError):
        AuditEntry(at=1.0, network=NET, kind=AuditKind.STEP, message=message, data=data)
