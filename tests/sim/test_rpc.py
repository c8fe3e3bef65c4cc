"""The JSON-RPC surface over real HTTP: result shapes, error strings, batches, and endpoint faults."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from sim.harness import Simulator
from tests.sim.rpc import call, call_raw, error

NET = "sim-1"
HASH_RE = r"^0x[0-9a-f]{64}$"


def urls(sim: Simulator, node: str) -> tuple[str, str]:
    eps = sim.endpoint(NET, node)
    return eps.conductor.url, eps.node.url


async def test_conductor_reads_on_leader_and_follower(sim: Simulator) -> None:
    c0, _ = urls(sim, "seq-0")
    c1, _ = urls(sim, "seq-1")
    raft0 = sim.network(NET).node("seq-0").raft_addr
    assert await call(c0, "conductor_leader") is True
    assert await call(c1, "conductor_leader") is False
    leader = {"id": "seq-0", "addr": raft0, "suffrage": 0}
    assert await call(c0, "conductor_leaderWithID") == leader
    assert await call(c1, "conductor_leaderWithID") == leader
    for method, want in [
        ("conductor_leaderOverridden", False),
        ("conductor_active", True),
        ("conductor_paused", False),
        ("conductor_stopped", False),
        ("conductor_sequencerHealthy", True),
    ]:
        assert await call(c1, method) is want, method
    membership = await call(c1, "conductor_clusterMembership")
    assert membership["version"] == 0
    assert [s["id"] for s in membership["servers"]] == ["seq-0", "seq-1", "seq-2"]
    assert {s["suffrage"] for s in membership["servers"]} == {0}


async def test_pause_resume_change_active(sim: Simulator) -> None:
    c1, _ = urls(sim, "seq-1")
    assert await call(c1, "conductor_pause") is None
    assert (await call(c1, "conductor_paused"), await call(c1, "conductor_active")) == (True, False)
    assert await call(c1, "conductor_resume") is None
    assert (await call(c1, "conductor_paused"), await call(c1, "conductor_active")) == (False, True)


async def test_resume_fails_when_op_node_is_down(sim: Simulator) -> None:
    c1, _ = urls(sim, "seq-1")
    await sim.kill(NET, "seq-1", "node")
    code, message = await error(c1, "conductor_resume")
    assert code == -32000
    assert message.startswith("cannot resume because failed to get sequencer active status: ")


async def test_override_leader_params_and_effect(sim: Simulator) -> None:
    c1, _ = urls(sim, "seq-1")
    assert await error(c1, "conductor_overrideLeader") == (-32602, "missing value for required argument 0")
    assert await error(c1, "conductor_overrideLeader", True, 1) == (
        -32602,
        "too many arguments, want at most 1",
    )
    assert await error(c1, "conductor_overrideLeader", "true") == (
        -32602,
        "invalid argument 0: json: cannot unmarshal string into Go value of type bool",
    )
    assert await call(c1, "conductor_overrideLeader", True) is None
    assert await call(c1, "conductor_leader") is True
    assert await call(c1, "conductor_leaderOverridden") is True
    assert await call(c1, "conductor_leaderWithID") == {
        "id": "N/A (Leader overridden)",
        "addr": "N/A",
        "suffrage": 0,
    }
    assert sim.network(NET).leader_id() == "seq-0"  # raft leadership did not move
    await call(c1, "conductor_overrideLeader", False)
    assert await call(c1, "conductor_leader") is False


async def test_non_array_params_and_version_type(sim: Simulator) -> None:
    c0, _ = urls(sim, "seq-0")
    async with httpx.AsyncClient(timeout=2) as client:
        body = {"jsonrpc": "2.0", "id": 7, "method": "conductor_removeServer", "params": {"id": "seq-2"}}
        answer = (await client.post(c0, json=body)).json()
    assert answer == {"jsonrpc": "2.0", "id": 7, "error": {"code": -32602, "message": "non-array args"}}
    assert await error(c0, "conductor_removeServer", "seq-2", "0x0") == (
        -32602,
        "invalid argument 1: json: cannot unmarshal string into Go value of type uint64",
    )
    assert await error(c0, "conductor_removeServer", "seq-2") == (
        -32602,
        "missing value for required argument 1",
    )


async def test_membership_changes_are_leader_only_and_version_checked(sim: Simulator) -> None:
    c0, _ = urls(sim, "seq-0")
    c1, _ = urls(sim, "seq-1")
    assert await error(c1, "conductor_removeServer", "seq-2", 0) == (-32000, "node is not the leader")
    assert await error(c0, "conductor_removeServer", "seq-2", 7) == (
        -32000,
        "configuration changed since 7 (latest is 3)",
    )
    # removing a non-member succeeds and does nothing
    assert await call(c0, "conductor_removeServer", "nobody", 0) is None
    assert len((await call(c0, "conductor_clusterMembership"))["servers"]) == 3


async def test_add_server_dials_before_checking_leadership(sim: Simulator) -> None:
    c0, _ = urls(sim, "seq-0")
    c1, _ = urls(sim, "seq-1")
    dead = sim.network(NET).node("seq-2").raft_addr
    await sim.kill(NET, "seq-2")  # its raft port now refuses
    code, message = await error(c1, "conductor_addServerAsVoter", "seq-9", dead, 0)
    assert (code, message) == (-32000, f"dial tcp {dead}: connect: connection refused")
    live = sim.network(NET).node("seq-0").raft_addr
    assert await error(c1, "conductor_addServerAsVoter", "seq-9", live, 0) == (
        -32000,
        "node is not the leader",
    )
    assert await error(c0, "conductor_addServerAsNonvoter", "seq-9", live, 0) == (
        -32000,
        f"found duplicate address in configuration: {live}",
    )
    assert await error(c0, "conductor_addServerAsVoter", "seq-9", "nohost", 0) == (
        -32000,
        "dial tcp: address nohost: missing port in address",
    )


async def test_transfer_to_self_rejected_even_on_followers(sim: Simulator) -> None:
    c1, _ = urls(sim, "seq-1")
    own = sim.network(NET).node("seq-1").raft_addr
    other = sim.network(NET).node("seq-2").raft_addr
    assert await error(c1, "conductor_transferLeaderToServer", "seq-1", own) == (
        -32000,
        "cannot transfer leadership to itself",
    )
    assert await error(c1, "conductor_transferLeaderToServer", "seq-2", other) == (
        -32000,
        "node is not the leader",
    )


async def test_commit_and_proxy_refused_on_follower(sim: Simulator) -> None:
    c0, _ = urls(sim, "seq-0")
    c1, _ = urls(sim, "seq-1")
    envelope = sim.network(NET).tip.payload_envelope()
    assert await error(c1, "conductor_commitUnsafePayload", envelope) == (
        -32000,
        "failed to apply payload envelope: node is not the leader",
    )
    assert await call(c0, "conductor_commitUnsafePayload", envelope) is None
    assert await error(c1, "optimism_syncStatus") == (
        -32000,
        "refusing to proxy request to non-leader sequencer",
    )
    assert (await call(c0, "optimism_rollupConfig"))["block_time"] == 2


async def test_op_node_sequencer_admin(sim: Simulator) -> None:
    _, n0 = urls(sim, "seq-0")
    _, n1 = urls(sim, "seq-1")
    head = (await call(n1, "optimism_syncStatus"))["unsafe_l2"]
    assert await call(n0, "admin_sequencerActive") is True
    assert await call(n1, "admin_sequencerActive") is False
    assert await call(n1, "admin_conductorEnabled") is True
    assert await error(n1, "admin_startSequencer", head["hash"]) == (
        -32000,
        "sequencer is not the leader, aborting",
    )
    assert await error(n0, "admin_startSequencer", head["hash"]) == (-32000, "sequencer already running")
    assert await error(n1, "admin_stopSequencer") == (-32000, "sequencer not running")
    assert await error(n1, "admin_startSequencer", "0x1234") == (
        -32602,
        "invalid argument 0: hex string has length 4, want 64 for common.Hash",
    )
    assert await call(n0, "admin_stopSequencer") == head["hash"]
    # op-node's own override skips the conductor's leader check; it is one-way.
    assert await call(n1, "admin_overrideLeader") is None
    wrong = "0x" + "ab" * 32
    assert await error(n1, "admin_startSequencer", wrong) == (
        -32000,
        f"block hash does not match: head {head['hash']}:{head['number']}, received {wrong}",
    )
    assert await call(n1, "admin_startSequencer", head["hash"]) is None
    assert await call(n1, "admin_sequencerActive") is True


async def test_op_node_status_shapes(sim: Simulator) -> None:
    _, n1 = urls(sim, "seq-1")
    await sim.advance(4)
    status = await call(n1, "optimism_syncStatus")
    for key in ("current_l1", "head_l1", "safe_l1", "finalized_l1", "unsafe_l2", "safe_l2", "finalized_l2"):
        assert key in status
    unsafe = status["unsafe_l2"]
    assert unsafe["number"] == sim.network(NET).tip.number
    assert isinstance(unsafe["timestamp"], int)
    assert unsafe["timestamp"] <= sim.clock.now()
    assert set(unsafe) == {"hash", "number", "parentHash", "timestamp", "l1origin", "sequenceNumber"}
    assert status["safe_l2"]["number"] < unsafe["number"]
    assert re.match(HASH_RE, unsafe["hash"]) and re.match(HASH_RE, unsafe["parentHash"])
    assert (await call(n1, "opp2p_peerStats"))["connected"] == 5
    await sim.set_peers(NET, "seq-1", 1)
    assert (await call(n1, "opp2p_peerStats"))["connected"] == 1
    assert (await call(n1, "optimism_rollupConfig"))["block_time"] == 2


async def test_batches_and_protocol_errors(sim: Simulator) -> None:
    c0, _ = urls(sim, "seq-0")
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "conductor_leader"},
        {"jsonrpc": "2.0", "id": 2, "method": "conductor_nope", "params": []},
        {"jsonrpc": "2.0", "id": 3, "method": "conductor_paused", "params": []},
    ]
    async with httpx.AsyncClient(timeout=2) as client:
        answers = (await client.post(c0, json=batch)).json()
        assert [a["id"] for a in answers] == [1, 2, 3]
        assert answers[0]["result"] is True and answers[2]["result"] is False
        assert answers[1]["error"] == {
            "code": -32601,
            "message": "the method conductor_nope does not exist/is not available",
        }
        empty = await client.post(c0, json=[])
        assert empty.status_code == 200
        assert empty.json()["error"] == {"code": -32600, "message": "empty batch"}
        parse = await client.post(c0, content=b"{nope", headers={"content-type": "application/json"})
        assert parse.status_code == 200
        assert parse.json() == {
            "jsonrpc": "2.0",
            "id": None,
            "error": {"code": -32700, "message": "parse error"},
        }
        wrong_type = await client.post(c0, content=b"{}", headers={"content-type": "text/plain"})
        assert wrong_type.status_code == 415
        probe = await client.get(c0)
        assert (probe.status_code, probe.content) == (200, b"")
    answer = await call_raw(c0, "admin_startSequencer", [])
    assert answer["error"]["code"] == -32601  # admin_* lives on op-node, not on the conductor


async def test_killed_endpoint_refuses_then_revives_on_same_port(sim: Simulator) -> None:
    c1, n1 = urls(sim, "seq-1")
    await sim.kill(NET, "seq-1", "node")
    with pytest.raises(httpx.ConnectError):
        await call(n1, "admin_sequencerActive")
    assert await call(c1, "conductor_leader") is False  # the conductor process is still up
    await sim.revive(NET, "seq-1", "node")
    assert await call(n1, "admin_sequencerActive") is False


async def test_hung_endpoint_times_out_until_unhung(sim: Simulator) -> None:
    c1, _ = urls(sim, "seq-1")
    await sim.hang(NET, "seq-1", "conductor")
    with pytest.raises(httpx.ReadTimeout):
        await call_raw(c1, "conductor_leader", client_timeout=0.3)
    await sim.unhang(NET, "seq-1", "conductor")
    assert await call(c1, "conductor_leader") is False


async def test_malformed_and_slow_endpoints(sim: Simulator) -> None:
    _, n1 = urls(sim, "seq-1")
    await sim.malformed(NET, "seq-1", "node")
    async with httpx.AsyncClient(timeout=2) as client:
        response = await client.post(n1, json={"jsonrpc": "2.0", "id": 1, "method": "optimism_syncStatus"})
    with pytest.raises(json.JSONDecodeError):
        response.json()
    await sim.malformed(NET, "seq-1", "node", on=False)
    await sim.latency(NET, "seq-1", "node", 0.5)
    with pytest.raises(httpx.ReadTimeout):
        await call_raw(n1, "admin_sequencerActive", client_timeout=0.2)


async def test_control_namespace(sim: Simulator) -> None:
    c1, _ = urls(sim, "seq-1")
    url = sim.control_url
    assert await call(url, "sim_kill", NET, "seq-1") is None
    with pytest.raises(httpx.ConnectError):
        await call(c1, "conductor_leader")
    assert await call(url, "sim_revive", NET, "seq-1", "conductor") is None
    assert await call(c1, "conductor_leader") is False
    now = await call(url, "sim_advance", 4)
    assert now == pytest.approx(sim.clock.now())
    state = await call(url, "sim_state", NET)
    assert state["networks"][0]["leader"] == "seq-0"
    assert await call(url, "sim_setPeers", NET, "seq-2", 0) is None
    assert sim.network(NET).node("seq-2").peers == 0
    assert await error(url, "sim_kill", "sim-9", "seq-0") == (-32000, "no network 'sim-9'; have ['sim-1']")
    assert await error(url, "sim_hang", NET, "seq-0", "disk") == (
        -32000,
        "endpoint must be 'conductor' or 'node', not 'disk'",
    )
