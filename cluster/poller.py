"""Take a `NetworkSnapshot` by asking every sequencer of a network what it knows, concurrently.

Per node, the conductor reads go in ONE batch request and the op-node reads in ONE batch request;
every request of a network at once (`JsonRpcClient.batches`). A hung endpoint therefore costs one
timeout for the whole snapshot, never one per node or per method. Nothing here raises because a node
is down: every failure becomes a `ProbeError` on that node (method=None when the whole endpoint failed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from pydantic import ValidationError

from cluster.client import (
    parse_bool,
    parse_membership,
    parse_peer_stats,
    parse_server_info,
    parse_sync_status,
)
from cluster.clock import Clock
from cluster.rpc import DEFAULT_TIMEOUT, Call, HttpClient, JsonRpcClient, JsonRpcError, RpcError
from cluster.snapshot import Endpoint, NetworkSnapshot, NodeStatus, ProbeError, analyze
from cluster.tls import ssl_context
from cluster.topology import NetworkSpec, SequencerSpec, Topology

log = logging.getLogger(__name__)

# method -> (NodeStatus field, parser). The parser may return a dict of several fields.
_Parser = Callable[[Any], Any]
CONDUCTOR_READS: dict[str, tuple[str, _Parser]] = {
    "conductor_leader": ("leader", parse_bool),
    "conductor_leaderWithID": ("leader_with_id", parse_server_info),
    "conductor_leaderOverridden": ("leader_overridden", parse_bool),
    "conductor_active": ("active", parse_bool),
    "conductor_paused": ("paused", parse_bool),
    "conductor_stopped": ("stopped", parse_bool),
    "conductor_sequencerHealthy": ("healthy", parse_bool),
    "conductor_clusterMembership": ("membership", parse_membership),
}


def _sync_fields(value: Any) -> dict[str, Any]:
    status = parse_sync_status(value)
    return {"unsafe": status.unsafe, "safe": status.safe}


NODE_READS: dict[str, tuple[str, _Parser]] = {
    "admin_sequencerActive": ("sequencer_active", parse_bool),
    "optimism_syncStatus": ("*", _sync_fields),
    "opp2p_peerStats": ("peers", lambda v: parse_peer_stats(v).connected),
}
_CALLS: dict[Endpoint, tuple[Call, ...]] = {
    "conductor": tuple((m, ()) for m in CONDUCTOR_READS),
    "node": tuple((m, ()) for m in NODE_READS),
}

# 8 networks of 5 nodes is 80 requests in flight: enough to hide latency; more only makes each
# request wait longer for the event loop (and a wait counts against its deadline).
DEFAULT_NETWORK_CONCURRENCY = 8
# httpcore scans its whole pool on every request, so a pool holding one idle connection per
# endpoint gets slower than reconnecting once there are a few hundred endpoints (measured in
# bench/bench_status.py: 100 networks x 5 nodes took 21 s with keep-alive for all, 1.8 s without).
_KEEPALIVE_ENDPOINT_LIMIT = 100


def polling_limits(topology: Topology, concurrency: int = DEFAULT_NETWORK_CONCURRENCY) -> httpx.Limits:
    """Pool limits for the shared client that polls `topology` with `poll_all(..., concurrency)`.

    The pool must admit every request in flight at once (two per node of each polled network),
    or requests queue in the pool and time out without ever being sent.
    """
    sizes = sorted((len(n.sequencers) for n in topology.networks.values()), reverse=True)
    in_flight = max(10, 2 * sum(sizes[:concurrency]))
    endpoints = 2 * sum(sizes)
    keepalive = endpoints if endpoints <= _KEEPALIVE_ENDPOINT_LIMIT else 0
    return httpx.Limits(max_connections=max(in_flight, keepalive), max_keepalive_connections=keepalive)


def polling_client(
    topology: Topology, timeout: float | None = None, concurrency: int = DEFAULT_NETWORK_CONCURRENCY
) -> httpx.AsyncClient:
    """The one HTTP client for polling and acting on `topology`'s endpoints.

    Pool sized by `polling_limits`; HTTPS verified against the system CAs plus the clusters file's
    `cert_path`; `timeout` is the client's default (each JSON-RPC call also sets its own deadline).
    """
    return httpx.AsyncClient(
        limits=polling_limits(topology, concurrency),
        timeout=httpx.Timeout(timeout) if timeout is not None else httpx.Timeout(DEFAULT_TIMEOUT),
        verify=ssl_context(topology.cert_path, https=_any_https(topology)),
    )


def _any_https(topology: Topology) -> bool:
    urls = (
        url
        for net in topology.networks.values()
        for s in net.sequencers
        for url in (s.conductor_rpc_url, s.node_rpc_url, s.rollup_boost_rpc_url, s.builder_rpc_url)
    )
    return any(url is not None and url.lower().startswith("https:") for url in urls)


async def poll_network(
    spec: NetworkSpec,
    http: HttpClient,
    clock: Clock,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - per-request deadline, enforced in cluster.rpc
) -> NetworkSnapshot:
    """One snapshot of `spec`; bounded by about one `timeout` however many nodes are down."""
    rpc = JsonRpcClient(http, timeout)
    endpoints = [e for seq in spec.sequencers for e in _endpoints(seq)]
    # Every endpoint of every node at once, in one call: one request each, no task per node.
    answers = await _read_endpoints(rpc, endpoints)
    nodes = [_node(seq, *answers[2 * i : 2 * i + 2]) for i, seq in enumerate(spec.sequencers)]
    snapshot = analyze(spec, nodes, clock.now())
    log.debug("polled network=%s leaders=%s", spec.name, ",".join(snapshot.leaders))
    return snapshot


async def poll_all(
    topology: Topology,
    http: httpx.AsyncClient,
    clock: Clock,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - per-request deadline, enforced in cluster.rpc
    concurrency: int = DEFAULT_NETWORK_CONCURRENCY,
) -> dict[str, NetworkSnapshot]:
    """Snapshots of every network, at most `concurrency` networks in flight at once."""
    gate = asyncio.Semaphore(concurrency)

    async def one(spec: NetworkSpec) -> NetworkSnapshot:
        async with gate:
            return await poll_network(spec, http, clock, timeout)

    specs = list(topology.networks.values())
    snapshots = await asyncio.gather(*(one(s) for s in specs))
    return {s.name: snap for s, snap in zip(specs, snapshots, strict=True)}


async def poll_node(rpc: JsonRpcClient, seq: SequencerSpec) -> NodeStatus:
    """What one sequencer's conductor and op-node say; failures recorded, never raised."""
    conductor, node = await _read_endpoints(rpc, list(_endpoints(seq)))
    return _node(seq, conductor, node)


_Answer = tuple[dict[str, Any], list[ProbeError]]


_Reads = tuple[str, Endpoint, dict[str, tuple[str, _Parser]]]  # url, which endpoint, what to read


def _endpoints(seq: SequencerSpec) -> tuple[_Reads, ...]:
    return (seq.conductor_rpc_url, "conductor", CONDUCTOR_READS), (seq.node_rpc_url, "node", NODE_READS)


def _node(seq: SequencerSpec, conductor: _Answer, node: _Answer) -> NodeStatus:
    (c_fields, c_errors), (n_fields, n_errors) = conductor, node
    # Every field comes from a parser of the READS tables, validated there: constructing skips
    # validating them again (three nodes a tick, thousands of ticks a minute).
    return NodeStatus.model_construct(id=seq.id, **c_fields, **n_fields, errors=(*c_errors, *n_errors))


async def _read_endpoints(rpc: JsonRpcClient, endpoints: list[_Reads]) -> list[_Answer]:
    """The fields and probe errors of each endpoint, all asked at once."""
    batches = await rpc.batches([(url, _CALLS[endpoint]) for url, endpoint, _ in endpoints])
    # A server without batch support answers one error object: ask it call by call.
    unbatched = [i for i, batch in enumerate(batches) if isinstance(batch, JsonRpcError)]
    if unbatched:
        one_by_one = await asyncio.gather(
            *(
                asyncio.gather(
                    *(rpc.call(endpoints[i][0], m) for m in endpoints[i][2]), return_exceptions=True
                )
                for i in unbatched
            )
        )
        for i, results in zip(unbatched, one_by_one, strict=True):
            batches[i] = list(results)
    return [
        _fields(endpoint, reads, batch)
        for (_, endpoint, reads), batch in zip(endpoints, batches, strict=True)
    ]


def _fields(
    endpoint: Endpoint, reads: dict[str, tuple[str, _Parser]], batch: Sequence[Any] | RpcError
) -> _Answer:
    if isinstance(batch, RpcError):
        return {}, [ProbeError(endpoint=endpoint, kind=batch.kind, message=batch.message)]
    fields: dict[str, Any] = {}
    errors: list[ProbeError] = []
    for method, result in zip(reads, batch, strict=True):
        field, parse = reads[method]
        if isinstance(result, BaseException):
            kind = result.kind if isinstance(result, RpcError) else "malformed"
            message = result.message if isinstance(result, RpcError) else str(result)
            errors.append(ProbeError(endpoint=endpoint, kind=kind, message=message, method=method))
            continue
        try:
            value = parse(result)
        except ValidationError as exc:
            first = exc.errors()[0]
            errors.append(
                ProbeError(
                    endpoint=endpoint,
                    kind="malformed",
                    message=f"unexpected result: {first['msg']}",
                    method=method,
                )
            )
            continue
        if field == "*":
            fields.update(value)
        else:
            fields[field] = value
    return fields, errors
