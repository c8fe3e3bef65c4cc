"""Which HTTP client polls cheapest: `python -m bench.bench_http [--networks 1000] [--nodes 3]`.

The simulator runs in its own process. Each round posts the poller's two JSON-RPC batches to every
node (conductor reads, op-node reads) with at most `--concurrency` networks in flight, and decodes
the answers. Figures are this process's CPU per HTTP request and wall per round, for:

- baseline: one shared httpx client sized by the old `polling_limits` (no keep-alive above 100
  endpoints, so a TCP connect per request): what the watcher did before issue 15;
- httpx-shared-keepalive: one shared httpx client keeping a connection per endpoint (httpcore scans its
  whole pool per request, so this gets slower with endpoints);
- httpx-per-network: one keep-alive httpx client per network (small pools to scan);
- aiohttp: one keep-alive `aiohttp.ClientSession` (per-host pools found by a dict lookup): what the
  watcher polled with before `cluster.keepalive`;
- keepalive: `cluster.http_pool.HttpPool`, a connection kept per endpoint on a bare
  `asyncio.Protocol`: once with one `batch` call (a task) per request like the others, once with a
  network's requests in one `JsonRpcClient.batches` call as the poller sends them (no task each).

Every variant goes through `cluster.rpc.JsonRpcClient`, so the figures include the typed error
mapping and the whole-call deadline, as in the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx

from bench.simproc import machine_load, sim_process
from cluster.http_pool import HttpPool
from cluster.poller import CONDUCTOR_READS, NODE_READS
from cluster.rpc import Call, JsonRpcClient, RpcError
from cluster.topology import Topology

# Generous: the simulator shares the machine; a timeout would measure the error path instead.
TIMEOUT = 30.0
# (network, [(endpoint url, its batch)]) -> per request its answer (a list) or its error
Post = Callable[[str, list[tuple[str, list[Call]]]], Awaitable[list[Any]]]
CONDUCTOR: list[Call] = [(m, ()) for m in CONDUCTOR_READS]
NODE: list[Call] = [(m, ()) for m in NODE_READS]


def _each(rpc: Callable[[str], JsonRpcClient]) -> Post:
    """One `batch` call (and task) per request, through the network's client."""

    async def post(network: str, requests: list[tuple[str, list[Call]]]) -> list[Any]:
        client = rpc(network)
        return list(await asyncio.gather(*(client.batch(u, c) for u, c in requests), return_exceptions=True))

    return post


def _all(rpc: JsonRpcClient) -> Post:
    """The network's requests in one `batches` call, as the poller sends them."""

    async def post(_network: str, requests: list[tuple[str, list[Call]]]) -> list[Any]:
        return await rpc.batches(requests)

    return post


async def _round(topology: Topology, post: Post, concurrency: int) -> int:
    gate = asyncio.Semaphore(concurrency)
    conductor, node = CONDUCTOR, NODE
    errors = 0

    async def network(name: str) -> None:
        nonlocal errors
        async with gate:
            requests = []
            for s in topology.networks[name].sequencers:
                requests += [(s.conductor_rpc_url, conductor), (s.node_rpc_url, node)]
            for answer in await post(name, requests):
                if not isinstance(answer, list) or any(isinstance(a, RpcError) for a in answer):
                    errors += 1

    await asyncio.gather(*(network(n) for n in topology.networks))
    return errors


async def _measure(name: str, topology: Topology, post: Post, rounds: int, concurrency: int) -> None:
    requests = 2 * sum(len(n.sequencers) for n in topology.networks.values())
    await _round(topology, post, concurrency)  # warm-up: connect, fill caches
    walls, cpus, errors = [], [], 0
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        errors += await _round(topology, post, concurrency)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    cpu = min(cpus)
    print(
        f"  {name:24s} wall/round best {min(walls):6.3f} s  CPU/round {cpu:6.3f} s"
        f"  = {cpu / requests * 1000:5.3f} ms per request  errors {errors}",
        flush=True,
    )


async def main(networks: int, nodes: int, rounds: int, concurrency: int) -> None:
    async with sim_process(networks, nodes) as sim:
        topo = sim.topology
        endpoints = 2 * networks * nodes
        print(f"{networks} networks x {nodes} nodes = {endpoints} endpoints; {machine_load()}")
        old_limits = httpx.Limits(
            max_connections=max(10, 2 * nodes * concurrency),
            max_keepalive_connections=endpoints if endpoints <= 100 else 0,
        )
        async with httpx.AsyncClient(limits=old_limits) as shared:
            rpc = JsonRpcClient(shared, TIMEOUT)
            await _measure("baseline (no keep-alive)", topo, _each(lambda _n: rpc), rounds, concurrency)
        if endpoints <= 2000:  # past a few thousand connections the pool scan makes this take minutes
            limits = httpx.Limits(max_connections=endpoints, max_keepalive_connections=endpoints)
            async with httpx.AsyncClient(limits=limits) as shared:
                rpc = JsonRpcClient(shared, TIMEOUT)
                await _measure("httpx-shared-keepalive", topo, _each(lambda _n: rpc), rounds, concurrency)
        async with contextlib.AsyncExitStack() as stack:
            per_network: dict[str, JsonRpcClient] = {}
            for name, spec in topo.networks.items():
                size = 2 * len(spec.sequencers)
                limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
                client = await stack.enter_async_context(httpx.AsyncClient(limits=limits))
                per_network[name] = JsonRpcClient(client, TIMEOUT)
            await _measure("httpx-per-network", topo, _each(per_network.__getitem__), rounds, concurrency)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4096)) as session:
            aio = JsonRpcClient(session, TIMEOUT)
            await _measure("aiohttp", topo, _each(lambda _n: aio), rounds, concurrency)
        async with HttpPool(topo) as pool:
            rpc = JsonRpcClient(pool.client(""), TIMEOUT)
            await _measure("keepalive, one task each", topo, _each(lambda _n: rpc), rounds, concurrency)
            await _measure("keepalive (the poller)", topo, _all(rpc), rounds, concurrency)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--networks", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(main(args.networks, args.nodes, args.rounds, args.concurrency))


if __name__ == "__main__":
    cli()
