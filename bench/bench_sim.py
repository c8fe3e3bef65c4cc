"""Benchmark: 100 networks x 5 nodes (1,000 JSON-RPC endpoints) in one simulator process.

    .venv/bin/python -m bench.bench_sim [--networks 100] [--nodes 5] [--rounds 5] [--concurrency 100]

The simulator runs in a subprocess (`python -m sim`) so the polling client does not share its event
loop. Each round is one full status poll: one batch of the bot's conductor reads per conductor and
one batch of op-node reads per op-node. Prints start-up time, requests/s, JSON-RPC calls/s, wall time
per round and the simulator's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import httpx

from bench.simproc import sim_process

CONDUCTOR_READS = [
    "conductor_leader",
    "conductor_leaderWithID",
    "conductor_leaderOverridden",
    "conductor_active",
    "conductor_paused",
    "conductor_stopped",
    "conductor_sequencerHealthy",
    "conductor_clusterMembership",
]
NODE_READS = ["admin_sequencerActive", "optimism_syncStatus", "opp2p_peerStats"]


def _batch(methods: list[str]) -> list[dict[str, Any]]:
    return [{"jsonrpc": "2.0", "id": i, "method": m, "params": []} for i, m in enumerate(methods)]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (clock ticks of 1/100 s on Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


Target = tuple[httpx.AsyncClient, str, list[dict[str, Any]]]


async def poll_round(targets: list[Target], limit: int) -> int:
    gate = asyncio.Semaphore(limit)
    errors = 0

    async def one(client: httpx.AsyncClient, url: str, body: list[dict[str, Any]]) -> None:
        nonlocal errors
        async with gate:
            answers = (await client.post(url, json=body)).json()
        if len(answers) != len(body) or any("error" in a for a in answers):
            errors += 1

    await asyncio.gather(*(one(client, url, body) for client, url, body in targets))
    return errors


async def main(networks: int, nodes: int, rounds: int, concurrency: int) -> None:
    started = time.perf_counter()
    async with sim_process(networks, nodes) as sim:
        startup = time.perf_counter() - started
        async with contextlib.AsyncExitStack() as stack:
            # One pooled client per network, as a watcher per network would have: httpx scans its
            # pool linearly, so a single client holding 1,000 connections measures httpx, not the sim.
            targets: list[Target] = []
            for spec in sim.topology.networks.values():
                client = await stack.enter_async_context(httpx.AsyncClient(timeout=httpx.Timeout(10.0)))
                for s in spec.sequencers:
                    targets.append((client, s.conductor_rpc_url, _batch(CONDUCTOR_READS)))
                    targets.append((client, s.node_rpc_url, _batch(NODE_READS)))
            calls_per_round = sum(len(body) for _, _, body in targets)
            times: list[float] = []
            errors = 0
            sim_cpu_start = cpu_seconds(sim.pid)
            for _ in range(rounds):
                t0 = time.perf_counter()
                errors += await poll_round(targets, concurrency)
                times.append(time.perf_counter() - t0)
        total = sum(times)
        sim_cpu = cpu_seconds(sim.pid) - sim_cpu_start
        print(f"endpoints            {len(targets)} ({networks} networks x {nodes} nodes x 2)")
        print(f"startup to ready     {startup:.2f} s")
        print(f"rounds               {rounds} full polls, concurrency {concurrency}, errors {errors}")
        print(f"wall per round       best {min(times):.3f} s, mean {total / rounds:.3f} s")
        print(f"HTTP requests/s      {len(targets) * rounds / total:.0f}")
        print(f"JSON-RPC calls/s     {calls_per_round * rounds / total:.0f}")
        print(f"sim CPU              {sim_cpu / total:.0%} of one core while polling (client-bound if low)")
        print(f"sim peak RSS         {peak_rss_mib(sim.pid):.1f} MiB")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--networks", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.networks, args.nodes, args.rounds, args.concurrency))


if __name__ == "__main__":
    cli()
