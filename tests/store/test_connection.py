"""Opening Redis: a given URL, an unreachable one, and the embedded Valkey with persistence."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from store import audit
from store.audit import AuditEntry, AuditKind
from store.connection import RedisUnavailable, open_redis
from store.gateway import Store

NET = "op-mainnet"


async def test_url_mode_connects_to_the_given_server(redis_url: str, tmp_path: Path) -> None:
    handle = await open_redis(redis_url, tmp_path)
    try:
        assert not handle.embedded
        assert await handle.ping()
    finally:
        await handle.close()
    assert not (tmp_path / "valkey").exists()


async def test_unreachable_url_fails_at_start_with_a_clear_error(tmp_path: Path) -> None:
    # A port that was free a moment ago: nothing listens there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RedisUnavailable, match="did not answer"):
        await open_redis(f"redis://127.0.0.1:{port}/0", tmp_path)


async def test_embedded_server_keeps_approvals_and_audit_across_a_restart(tmp_path: Path) -> None:
    handle = await open_redis(None, tmp_path)
    try:
        assert handle.embedded
        assert await handle.ping()
        store = Store(handle.client)
        requested = AuditEntry(at=1.0, network=NET, kind=AuditKind.REQUEST, actor="U1", message="pause")
        key = store.keys.request(NET, "r1")
        assert await store.create(key, '{"state": "pending"}', None, audit=audit.stage(store, requested))
    finally:
        await handle.close()
    assert not await handle.ping(within=0.5)

    reopened = await open_redis(None, tmp_path)
    try:
        store = Store(reopened.client)
        record = await store.get(key)
        assert record is not None
        assert (record.version, record.data) == (1, '{"state": "pending"}')
        assert await audit.read(store, NET) == [requested]
    finally:
        await reopened.close()


async def test_a_second_process_on_the_same_state_dir_shares_the_running_server(tmp_path: Path) -> None:
    # `conductor-bot audit` beside a running bot must not start a second server on the same AOF.
    owner = await open_redis(None, tmp_path)
    try:
        guest = await open_redis(None, tmp_path)
        assert not guest.embedded
        assert guest.url == owner.url
        await owner.client.set("shared", "yes")
        assert await guest.client.get("shared") == "yes"
        await guest.close()
        assert await owner.ping()  # the guest closing leaves the owner's server running
    finally:
        await owner.close()
    assert not (tmp_path / "valkey" / "endpoint").exists()
