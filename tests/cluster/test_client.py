"""Typed conductor/op-node clients against real HTTP peers speaking older and newer dialects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cluster.client import ConductorClient, NodeClient
from cluster.rpc import JsonRpcClient, JsonRpcError, MalformedResponse
from cluster.snapshot import BlockRef, Membership, ServerInfo
from tests.cluster.test_rpc import RpcFailure, scripted_server

HASH = "0x" + "ab" * 32


@pytest.fixture
async def rpc() -> AsyncIterator[JsonRpcClient]:
    async with httpx.AsyncClient() as http:
        yield JsonRpcClient(http, timeout=1.0)


async def test_override_leader_falls_back_to_no_params_on_an_old_conductor(rpc: JsonRpcClient) -> None:
    def old_conductor(method: str, params: list[Any]) -> Any:
        if params:
            raise RpcFailure(-32602, "too many arguments, want at most 0")
        return None

    async with scripted_server(old_conductor) as (url, seen):
        await ConductorClient(rpc, url).override_leader(True)
    assert [r["params"] for r in seen] == [[True], []]


async def test_override_leader_sends_true_to_a_new_conductor_once(rpc: JsonRpcClient) -> None:
    async with scripted_server(lambda m, p: None) as (url, seen):
        await ConductorClient(rpc, url).override_leader(True)
        await ConductorClient(rpc, url).override_leader(False)
    assert [r["params"] for r in seen] == [[True], [False]]


async def test_clearing_override_on_an_old_conductor_is_an_error_not_a_silent_set(rpc: JsonRpcClient) -> None:
    def old_conductor(method: str, params: list[Any]) -> Any:
        raise RpcFailure(-32602, "too many arguments, want at most 0")

    async with scripted_server(old_conductor) as (url, seen):
        with pytest.raises(JsonRpcError):
            await ConductorClient(rpc, url).override_leader(False)
    assert len(seen) == 1


async def test_membership_accepts_the_old_bare_array_and_null_servers(rpc: JsonRpcClient) -> None:
    answers = iter(
        [
            [{"id": "seq-0", "addr": "seq-0:50050", "suffrage": 0}],
            {"servers": None, "version": 0},
            {"servers": [{"id": "seq-1", "addr": "seq-1:50050", "suffrage": 1}], "version": 0},
        ]
    )
    async with scripted_server(lambda m, p: next(answers)) as (url, _):
        client = ConductorClient(rpc, url)
        old, unjoined, new = [await client.cluster_membership() for _ in range(3)]
    assert old == Membership(servers=(ServerInfo(id="seq-0", addr="seq-0:50050"),), version=0)
    assert unjoined.servers is None
    assert new.servers == (ServerInfo(id="seq-1", addr="seq-1:50050", suffrage=1),)


async def test_sync_status_tolerates_unknown_and_missing_keys(rpc: JsonRpcClient) -> None:
    ref = {"hash": HASH, "number": 500, "parentHash": HASH, "timestamp": 1_760_000_000, "sequenceNumber": 3}
    status = {"unsafe_l2": ref, "queued_unsafe_l2": ref, "head_l1": {"hash": HASH, "number": 1}}
    async with scripted_server(lambda m, p: status) as (url, _):
        got = await NodeClient(rpc, url).sync_status()
    assert got.unsafe == BlockRef(number=500, hash=HASH, timestamp=1_760_000_000)
    assert got.safe is None


async def test_peer_stats_and_rollup_config_ignore_new_fields(rpc: JsonRpcClient) -> None:
    def answer(method: str, params: list[Any]) -> Any:
        if method == "opp2p_peerStats":
            return {"connected": 12, "table": 37, "blocksTopicV4": 11}
        return {"block_time": 2, "l2_chain_id": 11155420}

    async with scripted_server(answer) as (url, _):
        node = NodeClient(rpc, url)
        assert (await node.peer_stats()).connected == 12
        assert (await node.rollup_config()).block_time == 2


async def test_wrong_result_shape_is_malformed_naming_the_method(rpc: JsonRpcClient) -> None:
    async with scripted_server(lambda m, p: "true") as (url, _):
        with pytest.raises(MalformedResponse) as caught:
            await ConductorClient(rpc, url).leader()
    assert caught.value.method == "conductor_leader"
    assert caught.value.kind == "malformed"


async def test_membership_changes_send_version_as_a_number(rpc: JsonRpcClient) -> None:
    async with scripted_server(lambda m, p: None) as (url, seen):
        c = ConductorClient(rpc, url)
        await c.add_server_as_voter("seq-3", "seq-3:50050")
        await c.add_server_as_nonvoter("seq-4", "seq-4:50050", version=7)
        await c.remove_server("seq-2")
        await c.transfer_leader_to_server("seq-1", "seq-1:50050")
    assert [(r["method"], r["params"]) for r in seen] == [
        ("conductor_addServerAsVoter", ["seq-3", "seq-3:50050", 0]),
        ("conductor_addServerAsNonvoter", ["seq-4", "seq-4:50050", 7]),
        ("conductor_removeServer", ["seq-2", 0]),
        ("conductor_transferLeaderToServer", ["seq-1", "seq-1:50050"]),
    ]


async def test_stop_sequencer_returns_the_hash_to_start_from(rpc: JsonRpcClient) -> None:
    async with scripted_server(lambda m, p: HASH if m == "admin_stopSequencer" else None) as (url, seen):
        node = NodeClient(rpc, url)
        stopped_at = await node.stop_sequencer()
        await node.start_sequencer(stopped_at)
        await node.override_leader()
    assert stopped_at == HASH
    assert [(r["method"], r["params"]) for r in seen] == [
        ("admin_stopSequencer", []),
        ("admin_startSequencer", [HASH]),
        ("admin_overrideLeader", []),
    ]
