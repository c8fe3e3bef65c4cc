"""Status latency and cost against the simulator: `python -m bench.bench_status`.

(a) One 5-node network with one node hung (both endpoints accept and never answer): the concurrent
    poller vs two sequential baselines, node by node — with batches, and call by call (one HTTP
    request per method, as a naive status loop does). The hung node costs one timeout per request
    in a sequential poll; the concurrent poller pays one timeout in total.
(b) One snapshot of 100 networks x 5 nodes: wall time, HTTP requests per node, peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import time
import tracemalloc
from collections import Counter

import httpx

from cluster.conditions import assess
from cluster.poller import (
    CONDUCTOR_READS,
    DEFAULT_NETWORK_CONCURRENCY,
    NODE_READS,
    poll_all,
    poll_network,
    poll_node,
    polling_limits,
)
from cluster.rpc import JsonRpcClient, RpcError
from cluster.topology import NetworkSpec
from sim.harness import simulate


async def _sequential_batched(spec: NetworkSpec, http: httpx.AsyncClient, rpc_timeout: float) -> None:
    rpc = JsonRpcClient(http, rpc_timeout)
    for seq in spec.sequencers:
        await poll_node(rpc, seq)


async def _sequential_call_by_call(spec: NetworkSpec, http: httpx.AsyncClient, rpc_timeout: float) -> None:
    rpc = JsonRpcClient(http, rpc_timeout)
    for seq in spec.sequencers:
        for url, methods in ((seq.conductor_rpc_url, CONDUCTOR_READS), (seq.node_rpc_url, NODE_READS)):
            for method in methods:
                with contextlib.suppress(RpcError):
                    await rpc.call(url, method)


async def bench_hung_node(rpc_timeout: float) -> None:
    async with simulate(networks=1, nodes=5) as sim, httpx.AsyncClient() as http:
        await sim.advance(6)
        spec = sim.topology().networks["sim-1"]
        await sim.hang("sim-1", "seq-2", "conductor")
        await sim.hang("sim-1", "seq-2", "node")
        start = time.perf_counter()
        snap = await poll_network(spec, http, sim.clock, rpc_timeout)
        concurrent = time.perf_counter() - start
        start = time.perf_counter()
        await _sequential_batched(spec, http, rpc_timeout)
        batched = time.perf_counter() - start
        start = time.perf_counter()
        await _sequential_call_by_call(spec, http, rpc_timeout)
        by_call = time.perf_counter() - start
        await sim.unhang("sim-1", "seq-2", "conductor")
        await sim.unhang("sim-1", "seq-2", "node")
    print(f"(a) 5 nodes, 1 hung, rpc timeout {rpc_timeout:g}s   verdict: {assess(snap, spec).verdict}")
    print(f"    concurrent poller:                 {concurrent:7.3f} s")
    print(f"    sequential, batched per endpoint:  {batched:7.3f} s  ({batched / concurrent:.1f}x)")
    print(f"    sequential, one call per request:  {by_call:7.3f} s  ({by_call / concurrent:.1f}x)")


async def bench_many_networks(networks: int, nodes: int, rpc_timeout: float, concurrency: int) -> None:
    requests: Counter[str] = Counter()

    async def count(request: httpx.Request) -> None:
        requests[str(request.url)] += 1

    limits = httpx.Limits(
        max_connections=2 * nodes * concurrency, max_keepalive_connections=2 * nodes * concurrency
    )
    async with simulate(networks=networks, nodes=nodes) as sim:
        await sim.advance(4)
        topology = sim.topology()
        limits = polling_limits(topology, concurrency)
        async with httpx.AsyncClient(limits=limits, event_hooks={"request": [count]}) as http:
            start = time.perf_counter()
            snaps = await poll_all(topology, http, sim.clock, rpc_timeout, concurrency=concurrency)
            wall = time.perf_counter() - start
            sent = sum(requests.values())
            # A second poll under tracemalloc (which slows Python down) for the memory figure.
            tracemalloc.start()
            await poll_all(topology, http, sim.clock, rpc_timeout, concurrency=concurrency)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    verdicts = Counter(assess(s, topology.networks[name]).verdict for name, s in snaps.items())
    total_nodes = networks * nodes
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"(b) {networks} networks x {nodes} nodes (simulator in the same process), concurrency {concurrency}"
    )
    print(f"    wall time:          {wall:7.3f} s   verdicts: {dict(verdicts)}")
    print(f"    HTTP requests/node: {sent / total_nodes:.2f}")
    print(f"    peak traced memory during a poll (simulator included): {peak / 2**20:.1f} MiB")
    print(f"    process max RSS (simulator included): {rss_mib:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--networks", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_NETWORK_CONCURRENCY)
    args = parser.parse_args()
    asyncio.run(bench_hung_node(args.timeout))
    asyncio.run(bench_many_networks(args.networks, args.nodes, args.timeout, args.concurrency))


if __name__ == "__main__":
    main()
