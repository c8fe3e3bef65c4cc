"""Status latency and cost against the simulator: `python -m bench.bench_status`.

(a) One 5-node network with none, one and two nodes hung (both endpoints accept and never answer),
    connections warm, medians of 3 polls each: the concurrent poller vs the fair baseline, a
    sequential poll node by node with the same batches (what a status loop over the nodes does;
    op-conductor-ops itself is compared in `bench/bench_cli_start.py`). One hung node costs both one
    timeout; two cost the sequential poll two, the concurrent one still one.
(b) One snapshot of every network at 100, 300 and 1,000 networks x 3 nodes, the simulator in its own
    process (so only the bot's CPU is counted): wall time, CPU, HTTP requests per node (counted by
    the simulator) and RSS, through the watcher's keep-alive pool (`cluster.http_pool`) vs the
    baseline, one shared httpx client sized by `polling_limits` (what the overview poll uses).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable

import httpx

from bench.simproc import machine_load, rss_mib, sim_process
from cluster.clock import SystemClock
from cluster.conditions import assess
from cluster.http_pool import HttpPool
from cluster.poller import DEFAULT_NETWORK_CONCURRENCY, poll_network, poll_node, polling_limits
from cluster.rpc import HttpClient, JsonRpcClient
from cluster.topology import NetworkSpec, Topology
from sim.harness import simulate


async def _sequential_batched(spec: NetworkSpec, http: httpx.AsyncClient, rpc_timeout: float) -> None:
    rpc = JsonRpcClient(http, rpc_timeout)
    for seq in spec.sequencers:
        await poll_node(rpc, seq)


REPEATS = 3  # medians of this many polls per case


async def bench_hung_node(rpc_timeout: float) -> None:
    print(f"(a) 5 nodes, rpc timeout {rpc_timeout:g}s: concurrent poller vs sequential (fair baseline)")
    async with simulate(networks=1, nodes=5) as sim, httpx.AsyncClient() as http:
        await sim.advance(6)
        spec = sim.topology().networks["sim-1"]
        # Warm: both variants then reuse the client's open connections alike.
        await poll_network(spec, http, sim.clock, rpc_timeout)
        for hung in ((), ("seq-2",), ("seq-2", "seq-3")):
            for node in hung:
                await sim.hang("sim-1", node, "conductor")
                await sim.hang("sim-1", node, "node")
            concurrents, batcheds = [], []
            for _ in range(REPEATS):
                start = time.perf_counter()
                snap = await poll_network(spec, http, sim.clock, rpc_timeout)
                concurrents.append(time.perf_counter() - start)
                start = time.perf_counter()
                await _sequential_batched(spec, http, rpc_timeout)
                batcheds.append(time.perf_counter() - start)
            concurrent, batched = statistics.median(concurrents), statistics.median(batcheds)
            for node in hung:
                await sim.unhang("sim-1", node, "conductor")
                await sim.unhang("sim-1", node, "node")
            print(
                f"    {len(hung)} hung: concurrent {concurrent:7.3f} s   sequential {batched:7.3f} s"
                f"  ({batched / concurrent:.1f}x)   verdict {assess(snap, spec).verdict}"
            )


async def _snapshot_all(topology: Topology, client: Callable[[str], HttpClient], rpc_timeout: float) -> int:
    gate = asyncio.Semaphore(DEFAULT_NETWORK_CONCURRENCY * 4)
    errors = 0

    async def one(spec: NetworkSpec) -> None:
        nonlocal errors
        async with gate:
            snap = await poll_network(spec, client(spec.name), SystemClock(), rpc_timeout)
        errors += sum(1 for n in snap.nodes if n.errors)

    await asyncio.gather(*(one(s) for s in topology.networks.values()))
    return errors


async def bench_many_networks(sizes: list[int], nodes: int, rpc_timeout: float) -> None:
    print(f"(b) one snapshot of every network, {nodes} nodes each, simulator in its own process")
    for networks in sizes:
        async with sim_process(networks, nodes) as sim:
            topology = sim.topology
            total_nodes = networks * nodes
            print(f"    {networks} networks ({total_nodes} nodes); {machine_load()}")
            async with (
                httpx.AsyncClient(limits=polling_limits(topology), timeout=rpc_timeout) as shared,
                HttpPool(topology) as pool,
            ):
                variants: list[tuple[str, Callable[[str], HttpClient]]] = [
                    ("baseline: one shared client", lambda _n: shared),
                    ("keep-alive pool (HttpPool)", pool.client),
                ]
                for label, client in variants:
                    await _snapshot_all(topology, client, rpc_timeout)  # warm-up (connections)
                    sent = await sim.requests()
                    wall, cpu = time.perf_counter(), time.process_time()
                    errors = await _snapshot_all(topology, client, rpc_timeout)
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    sent = await sim.requests() - sent
                    print(
                        f"      {label:30s} wall {wall:6.2f} s  CPU {cpu:6.2f} s"
                        f" ({cpu / sent * 1000:.2f} ms/request)  requests/node {sent / total_nodes:.2f}"
                        f"  nodes with errors {errors}  RSS {rss_mib(os.getpid()):.0f} MiB",
                        flush=True,
                    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--networks", default="100,300,1000")
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(bench_hung_node(args.timeout))
    sizes = [int(n) for n in args.networks.split(",")]
    asyncio.run(bench_many_networks(sizes, args.nodes, max(args.timeout, 2.0)))


if __name__ == "__main__":
    main()
