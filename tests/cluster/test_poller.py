"""Snapshots of simulated clusters over real HTTP: right when healthy, bounded and explicit when not."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from cluster.clock import ManualClock
from cluster.conditions import assess
from cluster.poller import poll_all, poll_network, polling_limits
from cluster.snapshot import ProbeError
from cluster.topology import NetworkSpec, SequencerSpec, Topology
from sim.harness import Simulator, simulate
from tests.cluster.test_rpc import RpcFailure, closed_port, scripted_server

TIMEOUT = 1.0


class CountingClient:
    """A real httpx client that counts the HTTP requests sent to each URL."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()

        async def count(request: httpx.Request) -> None:
            self.requests[str(request.url).rstrip("/")] += 1

        self.http = httpx.AsyncClient(event_hooks={"request": [count]})


@pytest.fixture
async def counting() -> AsyncIterator[CountingClient]:
    client = CountingClient()
    async with client.http:
        yield client


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with simulate(networks=1, nodes=3) as s:
        await s.advance(6)
        yield s


def spec_of(sim: Simulator, network: str = "sim-1") -> NetworkSpec:
    spec = sim.topology().network(network)
    assert spec is not None
    return spec


async def test_healthy_cluster_every_fact_right_with_one_request_per_endpoint(
    sim: Simulator, counting: CountingClient
) -> None:
    spec = spec_of(sim)
    snap = await poll_network(spec, counting.http, sim.clock, TIMEOUT)
    net = sim.network("sim-1")
    health = assess(snap, spec)
    assert health.verdict == "healthy", health.summary
    assert snap.taken_at == sim.clock.now()
    assert snap.leaders == ("seq-0",) and snap.raft_leader_id == "seq-0"
    assert snap.active_sequencers == ("seq-0",)
    for node, seq in zip(snap.nodes, spec.sequencers, strict=True):
        assert node.errors == ()
        assert (node.leader, node.sequencer_active) == (
            (True, True) if node.id == "seq-0" else (False, False)
        )
        assert (node.active, node.paused, node.stopped, node.healthy) == (True, False, False, True)
        assert node.leader_overridden is False
        assert node.leader_with_id is not None and node.leader_with_id.id == "seq-0"
        assert node.unsafe is not None and node.unsafe.number == net.tip.number
        assert node.safe is not None and node.safe.number <= node.unsafe.number
        assert node.peers == sim.node("sim-1", node.id).peers
        assert node.membership is not None and node.membership.servers is not None
        assert {(s.id, s.addr, s.suffrage) for s in node.membership.servers} == {
            (s.id, s.raft_addr, 0) for s in spec.sequencers
        }
        # One batch per endpoint: conductor reads together, op-node reads together.
        assert counting.requests[seq.conductor_rpc_url] == 1
        assert counting.requests[seq.node_rpc_url] == 1
    assert snap.drift == () and all(lag.blocks == 0 for lag in snap.lag.values())


async def test_dead_hung_and_malformed_nodes_each_marked_within_one_timeout(
    sim: Simulator, counting: CountingClient
) -> None:
    spec = spec_of(sim)
    await sim.kill("sim-1", "seq-0", "conductor")
    await sim.hang("sim-1", "seq-1", "node")
    await sim.malformed("sim-1", "seq-2", "conductor")
    start = time.monotonic()
    snap = await poll_network(spec, counting.http, sim.clock, TIMEOUT)
    elapsed = time.monotonic() - start
    await sim.unhang("sim-1", "seq-1", "node")

    assert elapsed < TIMEOUT + 1.0
    seq0, seq1, seq2 = snap.nodes
    assert seq0.endpoint_down("conductor") == ProbeError(
        endpoint="conductor", kind="unreachable", message=seq0.errors[0].message
    )
    assert seq0.leader is None and seq0.sequencer_active is True  # its op-node still answers
    down1 = seq1.endpoint_down("node")
    assert down1 is not None and down1.kind == "timeout" and down1.method is None
    assert seq1.unsafe is None and seq1.leader is False  # its conductor still answers
    down2 = seq2.endpoint_down("conductor")
    assert down2 is not None and down2.kind == "malformed"
    assert seq2.peers is not None
    health = assess(snap, spec_of(sim))
    found = {(f.condition, f.subject, f.state) for f in health.findings}
    assert {
        ("node_unreachable", "seq-0", "holds"),
        ("node_unreachable", "seq-1", "holds"),
        ("node_unreachable", "seq-2", "holds"),
        # The followers name seq-0, whose conductor is down: unknown, not a lost leader.
        ("no_leader", "", "unknown"),
    } <= found
    assert health.verdict == "degraded"


async def test_everything_down_still_returns_a_snapshot() -> None:
    port = closed_port()
    spec = NetworkSpec(
        name="gone",
        sequencers=(
            SequencerSpec(
                id="seq-0",
                raft_addr="x:1",
                conductor_rpc_url=f"http://127.0.0.1:{port}",
                node_rpc_url=f"http://127.0.0.1:{port}",
            ),
        ),
    )
    async with httpx.AsyncClient() as http:
        snap = await poll_network(spec, http, ManualClock(), TIMEOUT)
    health = assess(snap, spec)
    assert health.verdict == "critical"
    assert health.findings[0].condition == "all_unreachable"
    assert {e.endpoint for e in snap.nodes[0].errors} == {"conductor", "node"}


async def test_one_failing_method_is_an_rpc_error_naming_it_and_others_still_read(sim: Simulator) -> None:
    real = spec_of(sim).sequencers[1]

    def node_without_p2p(method: str, params: list[Any]) -> Any:
        if method == "opp2p_peerStats":
            raise RpcFailure(-32601, "the method opp2p_peerStats does not exist/is not available")
        if method == "admin_sequencerActive":
            return False
        return {"unsafe_l2": {"hash": "0x01", "number": 5, "timestamp": int(sim.clock.now())}}

    async with scripted_server(node_without_p2p) as (url, _), httpx.AsyncClient() as http:
        spec = spec_of(sim)
        patched = spec.model_copy(
            update={
                "sequencers": (
                    spec.sequencers[0],
                    real.model_copy(update={"node_rpc_url": url}),
                    spec.sequencers[2],
                )
            }
        )
        snap = await poll_network(patched, http, sim.clock, TIMEOUT)
    node = snap.nodes[1]
    assert node.errors == (
        ProbeError(
            endpoint="node",
            kind="rpc",
            message="the method opp2p_peerStats does not exist/is not available (code -32601)",
            method="opp2p_peerStats",
        ),
    )
    assert node.node_reachable and node.peers is None
    assert node.unsafe is not None and node.unsafe.number == 5 and node.sequencer_active is False


async def test_endpoint_without_batch_support_is_read_call_by_call(sim: Simulator) -> None:
    async def no_batches(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if isinstance(body, list):
            return web.json_response(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch not supported"}}
            )
        result: Any = {"connected": 7} if body["method"] == "opp2p_peerStats" else True
        if body["method"] == "optimism_syncStatus":
            result = {}
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": result})

    async with scripted_server(raw=no_batches) as (url, seen), httpx.AsyncClient() as http:
        spec = spec_of(sim)
        seq = spec.sequencers[2].model_copy(update={"node_rpc_url": url})
        patched = spec.model_copy(update={"sequencers": (*spec.sequencers[:2], seq)})
        snap = await poll_network(patched, http, sim.clock, TIMEOUT)
    assert len(seen) == 4  # the rejected batch, then three single calls
    node = snap.nodes[2]
    assert node.errors == () and node.peers == 7 and node.sequencer_active is True and node.unsafe is None


async def test_poll_all_snapshots_every_network() -> None:
    async with simulate(networks=3, nodes=3) as sim:
        await sim.advance(4)
        await sim.set_peers("sim-2", "seq-1", 0)
        async with httpx.AsyncClient() as http:
            snaps = await poll_all(sim.topology(), http, sim.clock, TIMEOUT, concurrency=2)
    assert sorted(snaps) == ["sim-1", "sim-2", "sim-3"]
    topology = sim.topology()
    health = {name: assess(snap, topology.networks[name]) for name, snap in snaps.items()}
    assert health["sim-1"].verdict == "healthy" and health["sim-3"].verdict == "healthy"
    assert health["sim-2"].verdict == "degraded"
    assert ("low_peers", "seq-1") in {(f.condition, f.subject) for f in health["sim-2"].holding}


def test_polling_limits_admit_every_request_in_flight(sim: Simulator) -> None:
    small = polling_limits(sim.topology())
    assert small.max_connections is not None and small.max_connections >= 6
    assert small.max_keepalive_connections == 6  # few endpoints: keep every connection alive
    spec = spec_of(sim)
    many = Topology(networks={f"n{i}": spec.model_copy(update={"name": f"n{i}"}) for i in range(40)})
    limits = polling_limits(many, concurrency=8)
    assert limits.max_connections == 8 * 2 * 3
    assert limits.max_keepalive_connections == 0
