"""The bot on a real Redis Cluster: three Valkey masters, keys spread over all of them.

Every key of a network shares a hash tag, so each atomic script touches one slot. Rather than a second
copy of the scenarios, this runs a representative set of the real ones (status, the approval flow,
alerts and their buttons, the audit trail, the store itself) in a child pytest whose `redis` fixture
points at the cluster (TEST_REDIS_URL=redis+cluster://…; each test gets its own key prefix).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from store.connection import client_for
from store.gateway import Store
from store.keys import Keys
from tests.fixtures.redis_cluster import valkey_cluster

ROOT = Path(__file__).parents[2]
SUBSET = (
    "tests/app/test_slash_commands.py",
    "tests/scenarios/test_approval_flow.py",
    "tests/scenarios/test_alerts_commands.py",
    "tests/scenarios/test_alerts_buttons.py",
    "tests/scenarios/test_requests_audit.py",
    "tests/store",
)
NOT_IN_SUBSET = (
    Path(__file__),  # not this test again
    # Starts its own primary, replica and Sentinel: it would run exactly as it does in the suite.
    Path(__file__).with_name("test_redis_sentinel.py"),
)


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One cluster for this module's tests (each uses keys of its own prefix): it takes seconds to form."""
    with valkey_cluster(tmp_path_factory.mktemp("cluster")) as url:
        yield url


async def test_a_cluster_url_gives_a_cluster_client_whose_scripts_run(cluster_url: str) -> None:
    client = client_for(cluster_url)
    try:
        assert isinstance(client, RedisCluster)
        store = Store(client, Keys(prefix="cbcluster"))
        key = store.keys.watch_lease("op-mainnet")
        assert await store.cas(key, 0, "first", 10_000)
        assert not await store.cas(key, 0, "again", 10_000)  # compare-and-set, through Lua
    finally:
        await client.aclose()


@pytest.mark.timeout(900)
def test_scenarios_pass_on_a_three_master_valkey_cluster(cluster_url: str) -> None:
    env = {**os.environ, "TEST_REDIS_URL": cluster_url}
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUBSET),
            *(f"--ignore={path.relative_to(ROOT)}" for path in NOT_IN_SUBSET),
            # Builds a plain bytes client from the URL on purpose; a cluster URL is not one.
            "--deselect=tests/store/test_gateway.py::test_store_refuses_a_bytes_client",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=850,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "[100%]" in result.stdout  # tests ran (exit 0 also means some were collected)
