"""The watcher at scale, as `conductor-bot run` runs it: `python -m bench.bench_watch`.

    python -m bench.bench_watch [--networks 100,300,1000] [--nodes 3] [--seconds 12]
        [--variants baseline,bot,botx3,legacy,defaultgc] [--sim-processes K]

Per network count: the simulator in its own processes (real time; one per 250 networks, each serving
a slice, fault injection routed to the one serving the network), one Valkey, a fake Slack Web API,
and replica processes each running the real `bot.scheduler.BotScheduler` (heartbeat, one jittered
tick job per network, the expiry sweep) for `--seconds` after a warm-up. Variants, same run:

- baseline: one replica polling through the old shared httpx client (no keep-alive above 100
  endpoints, so a TCP connect per request) instead of the keep-alive pool;
- 1 replica: the bot as it is;
- 3 replicas: three processes sharing the networks by rendezvous hashing;
- legacy (opt-in): one replica reading the clusters file as before the RSS work (pure-Python YAML,
  composed twice), the same-run baseline for RSS;
- defaultgc (opt-in): one replica with CPython's default collector thresholds and nothing frozen,
  the same-run baseline for `bot.gc_policy` (every other variant runs as `conductor-bot run` does).

Reported per replica: networks it led, ticks per interval, failed ticks (exceptions), ticks whose
snapshot had probe errors, CPU (cores), RSS and the share of wall time the garbage collector held the
event loop (and its longest pause); overall: HTTP requests per node per interval (counted
by the simulator), tick gap p99 (time between two ticks of one network: the interval plus lateness),
tick wall p50/p99 (from a tick's start to its end: polling, Redis and Slack included),
fault → alert p50/p99 (split brain injected into a few networks mid-run; time until the fake Slack API
gets the post), the simulator's CPU (its own processes, apart from the bot's), and the ceiling
(networks one core could tick per interval at the measured CPU). `BENCH_TRACEMALLOC=1` prints each
replica's live Python memory by package; `BENCH_PROFILE=file` dumps a cProfile of the replica.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.simproc import SimProcess, machine_load, rss_mib, sim_process
from cluster.topology import Topology
from sim.config_files import channel_for
from sim.slack_api import FakeSlackApi
from store.connection import start_valkey

INTERVAL = 2.0
WARMUP_S = 2 * INTERVAL + 1
FAULTS = 12


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---- the replica process -------------------------------------------------------------------------


async def replica(args: argparse.Namespace) -> None:
    """One bot replica: the real scheduler for warm-up + `seconds`; prints one JSON line of figures."""
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(int(args.tracemalloc))
    import httpx

    from alerts.watcher import TickReport
    from bot import gc_policy
    from bot.scheduler import BotScheduler
    from bot.settings import Settings
    from bot.slack_app import build_web_client
    from chat.authz import UserGroupDirectory
    from chat.context import BotContext
    from cluster.clock import SystemClock
    from cluster.http_pool import HttpPool
    from cluster.poller import polling_limits
    from cluster.topology_file import load_topology
    from store.connection import client_for
    from store.gateway import Store
    from store.keys import Keys

    gc_pauses = _GcPauses()
    settings = Settings(
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_API_URL=args.slack,
        CONDUCTOR_BOT_POLL_INTERVAL=INTERVAL,
        CONDUCTOR_BOT_KEY_PREFIX=args.prefix,
        # The baseline's shared client is sized for the old gate of 8 networks in flight.
        CONDUCTOR_BOT_POLL_CONCURRENCY=8 if args.baseline else 128,
    )
    read = _legacy_topology if args.legacy_yaml else load_topology
    topology = read(Path(args.clusters))
    redis = client_for(args.redis, settings.redis_max_connections, settings.redis_pool_timeout)
    clock = SystemClock()
    slack = build_web_client("xoxb-bench", args.slack)
    limits = polling_limits(topology)
    async with (
        httpx.AsyncClient(limits=limits, timeout=settings.rpc_timeout) as http,
        HttpPool(topology) as pool,
    ):
        ctx = BotContext(
            settings=settings,
            topology=topology,
            http=http,
            clock=clock,
            slack=slack,
            directory=UserGroupDirectory(slack, clock),
            redis=redis,
            store=Store(redis, Keys(prefix=args.prefix)),
            http_pool=None if args.baseline else pool,
        )
        scheduler = BotScheduler(ctx, args.owner)
        stats: dict[str, Any] = {
            "led": set(),
            "ticks": 0,
            "failed": 0,
            "probe_errors": 0,
            "gaps": [],
            "walls": [],
        }
        last: dict[str, float] = {}
        tick = scheduler.watcher.tick

        async def counted(network: str) -> TickReport:
            started = time.monotonic()
            try:
                report = await tick(network)
            except Exception:
                stats["failed"] += 1
                raise
            if report.leader:
                stats["ticks"] += 1
                stats["led"].add(network)
                if network in last:
                    stats["gaps"].append(started - last[network])
                stats["walls"].append(time.monotonic() - started)
                last[network] = started
                if report.conditions:
                    stats["probe_errors"] += 1
            return report

        scheduler.watcher.tick = counted  # type: ignore[method-assign]  # instrumentation only
        if not args.default_gc:
            gc_policy.apply()  # as `conductor-bot run` does once the bot serves
        scheduler.start()
        print("started", flush=True)
        await asyncio.sleep(WARMUP_S)
        stats.update(led=set(), ticks=0, failed=0, probe_errors=0, gaps=[], walls=[])
        gc_pauses.start()
        cpu, wall = time.process_time(), time.monotonic()
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile(time.process_time)  # CPU, not wall: the machine is shared
            profiler.enable()
        await asyncio.sleep(args.seconds)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        if args.tracemalloc:
            _print_allocations(int(args.tracemalloc))
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        figures = {
            "owner": args.owner,
            "led": len(stats["led"]),
            "ticks_per_interval": stats["ticks"] / (wall / INTERVAL),
            "failed": stats["failed"],
            "with_conditions": stats["probe_errors"],
            "cores": cpu / wall,
            "cpu_per_tick_ms": cpu / max(stats["ticks"], 1) * 1000,
            "rss_mib": rss_mib(os.getpid()),
            "gaps": stats["gaps"],
            "walls": stats["walls"],
            "gc_seconds": gc_pauses.total,
            "gc_max": gc_pauses.longest,
        }
        await scheduler.stop()
    await redis.aclose()
    print("figures " + json.dumps(figures), flush=True)


class _GcPauses:
    """Time the garbage collector holds the event loop, from `start` on (CPU work of this process)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.longest = 0.0
        self._began = 0.0
        self._on = False
        gc.callbacks.append(self._seen)

    def start(self) -> None:
        self.total, self.longest, self._on = 0.0, 0.0, True

    def _seen(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        elif self._on:
            pause = time.perf_counter() - self._began
            self.total += pause
            self.longest = max(self.longest, pause)


def _legacy_topology(path: Path) -> Topology:
    """The clusters file read as before issue 15's RSS work: PyYAML's pure-Python loader, the document
    composed twice (values, and the line of every key up front). Same topology, for an RSS baseline."""
    import yaml

    from cluster.topology_file import parse_topology
    from cluster.topology_yaml import _walk

    text = path.read_text()
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    raw = yaml.safe_load(text)
    lines = {loc: n.start_mark.line + 1 for loc, n in _walk(node, ())} if node is not None else {}
    return parse_topology(raw, str(path), lines).topology


def _print_allocations(frames: int) -> None:
    """Where the live Python memory of this replica was allocated (to stderr): by package, and the
    top sites. `BENCH_TRACEMALLOC=N` on the driver turns it on, N frames per allocation."""
    import tracemalloc

    snapshot = tracemalloc.take_snapshot()
    by_package: dict[str, int] = {}
    for stat in snapshot.statistics("filename"):
        name = stat.traceback[0].filename
        parts = Path(name).parts
        package = next((parts[i + 1] for i, p in enumerate(parts) if p == "site-packages"), None)
        key = package or (name if "/lib/python" in name else Path(name).parent.name or name)
        by_package[key] = by_package.get(key, 0) + stat.size
    total = sum(by_package.values())
    print(f"tracemalloc: {total / 2**20:.1f} MiB traced, RSS {rss_mib(os.getpid()):.0f} MiB", file=sys.stderr)
    for key, size in sorted(by_package.items(), key=lambda kv: -kv[1])[:25]:
        print(f"  {size / 2**20:7.2f} MiB  {key}", file=sys.stderr)
    for stat in snapshot.statistics("traceback" if frames > 1 else "lineno")[:25]:
        print(f"  {stat.size / 2**20:7.2f} MiB  {stat.count:7d} blocks", file=sys.stderr)
        for line in stat.traceback.format()[-2 * frames :]:
            print(f"      {line}", file=sys.stderr)
    sys.stderr.flush()


# ---- the driver --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _valkey() -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        server = await asyncio.to_thread(start_valkey, Path(tmp), {}, False)
        try:
            yield str(server.connection_url)
        finally:
            await asyncio.to_thread(server.stop, 5.0)


async def _spawn(args: list[str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_watch", "--replica", *args,
        stdout=asyncio.subprocess.PIPE,
        limit=2**26,  # the figures line lists every tick gap: megabytes at 1,000 networks
    )  # fmt: skip


async def _line(proc: asyncio.subprocess.Process, prefix: str) -> str:
    assert proc.stdout is not None
    while line := (await proc.stdout.readline()).decode():
        if line.startswith(prefix):
            return line
    raise RuntimeError(f"replica exited before printing {prefix!r}")


SPLIT_BRAIN_TITLE = "More than one active sequencer"


async def _watch_posts(fake: FakeSlackApi, seen: dict[str, list[float]], stop: asyncio.Event) -> None:
    """When each split-brain alert post (or a burst summary naming one) reached the fake Slack."""
    read = 0
    while not stop.is_set():
        calls = fake.calls("chat.postMessage")
        now = time.time()
        for call in calls[read:]:
            if SPLIT_BRAIN_TITLE in json.dumps(call):
                seen.setdefault(str(call.get("channel")), []).append(now)
        read = len(calls)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.02)


async def _variant(
    name: str,
    sim: SimProcess,
    redis: str,
    fake: FakeSlackApi,
    replicas: int,
    seconds: float,
    faults: list[str],
) -> None:
    prefix = f"bench{random.randrange(1 << 30)}"
    common = ["--redis", redis, "--slack", fake.base_url, "--clusters", str(sim.clusters_path)]
    common += ["--prefix", prefix, "--seconds", str(seconds)]
    if os.environ.get("BENCH_PROFILE"):
        common += ["--profile", os.environ["BENCH_PROFILE"]]
    if os.environ.get("BENCH_TRACEMALLOC"):
        common += ["--tracemalloc", os.environ["BENCH_TRACEMALLOC"]]
    if name == "baseline":
        common.append("--baseline")
    if name == "legacy":
        common.append("--legacy-yaml")
    if name == "defaultgc":
        common.append("--default-gc")
    procs = [await _spawn([*common, "--owner", f"{name}-{i}"]) for i in range(replicas)]
    for p in procs:
        await _line(p, "started")
    requests_before = await sim.requests()
    sim_cpu = sim.cpu_seconds()
    seen: dict[str, list[float]] = {}
    stop = asyncio.Event()
    watching = asyncio.create_task(_watch_posts(fake, seen, stop))
    await asyncio.sleep(WARMUP_S + 1.0)
    injected: dict[str, float] = {}
    for net in faults:  # spread over an interval, so they land at random phases of the ticks
        await asyncio.sleep(random.uniform(0, INTERVAL / len(faults)))
        await sim.control("sim_splitBrain", net, "seq-1")
        injected[channel_for(net)] = time.time()
    results = [json.loads((await _line(p, "figures "))[len("figures ") :]) for p in procs]
    requests = await sim.requests() - requests_before
    sim_cpu = sim.cpu_seconds() - sim_cpu
    stop.set()
    await watching
    for p in procs:
        await p.wait()
    latencies = [
        min(p for p in seen[c] if p >= t) - t
        for c, t in injected.items()
        if any(p >= t for p in seen.get(c, []))
    ]
    nodes = sum(len(s.sequencers) for s in sim.topology.networks.values())
    window = WARMUP_S + seconds + 1.0
    gaps = [g for r in results for g in r["gaps"]]
    walls = [w for r in results for w in r["walls"]]
    print(
        f"  {name:10s} x{replicas}: requests/node/interval {requests / nodes / (window / INTERVAL):4.2f}"
        f"  tick gap p50 {_pct(gaps, 0.5):5.2f} s p99 {_pct(gaps, 0.99):5.2f} s"
        f"  tick wall p50 {_pct(walls, 0.5):5.3f} s p99 {_pct(walls, 0.99):5.3f} s"
        f"  fault→alert p50 {_pct(latencies, 0.5):5.2f} s p99 {_pct(latencies, 0.99):5.2f} s"
        f" ({len(latencies)}/{len(injected)} posted)  simulator {sim_cpu / window:.2f} cores"
        f" ({len(sim.pids)} processes); {machine_load()}",
        flush=True,
    )
    for r in results:
        per_core = r["ticks_per_interval"] / max(r["cores"], 1e-9)  # networks ticked per core-interval
        print(
            f"    {r['owner']:12s} led {r['led']:5d} networks  ticks/interval {r['ticks_per_interval']:7.1f}"
            f"  failed {r['failed']}  with conditions {r['with_conditions']}"
            f"  CPU {r['cores']:.2f} cores ({r['cpu_per_tick_ms']:.2f} ms/tick)  RSS {r['rss_mib']:.0f} MiB"
            f"  GC {r['gc_seconds'] / seconds:.0%} of wall (longest {r['gc_max'] * 1000:.0f} ms)"
            f"  ceiling ≈{per_core:,.0f} networks/core",
            flush=True,
        )


# Networks per simulator process: one process answers ~1,000 requests/s, 250 networks x 3 nodes ask
# ~750/s (two requests per node per interval).
NETWORKS_PER_SIM = 250
# The model's time resolution: 0.5 s instead of 0.1 s cuts the simulator's idle CPU ~5x at 1,000
# networks, and nothing measured here depends on finer steps (split brain shows on the next poll).
SIM_STEP = 0.5


async def drive(
    networks: list[int], nodes: int, seconds: float, variants: list[str], sim_processes: int
) -> None:
    print(f"watcher at scale, {nodes} nodes per network, interval {INTERVAL:g} s; {machine_load()}")
    fake = await FakeSlackApi.start()
    try:
        async with _valkey() as redis:
            for n in networks:
                k = sim_processes or -(-n // NETWORKS_PER_SIM)
                async with sim_process(n, nodes, processes=k, step=SIM_STEP) as sim:
                    print(
                        f"{n} networks x {nodes} nodes = {n * nodes} nodes, simulator in {len(sim.pids)}"
                        f" process(es); {machine_load()}",
                        flush=True,
                    )
                    names = list(sim.topology.networks)
                    random.shuffle(names)
                    for i, variant in enumerate(variants):
                        kind, _, count = variant.partition("x")
                        faults = names[i * FAULTS : (i + 1) * FAULTS]
                        await _variant(kind, sim, redis, fake, int(count or 1), seconds, faults)
    finally:
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--networks", default="100,300,1000")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--variants", default="baseline,bot,botx3")
    parser.add_argument(
        "--sim-processes", type=int, default=0, help=f"0: one per {NETWORKS_PER_SIM} networks"
    )
    parser.add_argument("--replica", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--legacy-yaml", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--default-gc", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--redis", "--slack", "--clusters", "--prefix", "--owner", "--profile", "--tracemalloc"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replica:
        asyncio.run(replica(args))
        return
    random.seed(15)
    asyncio.run(
        drive(
            [int(n) for n in args.networks.split(",")],
            args.nodes,
            args.seconds,
            args.variants.split(","),
            args.sim_processes,
        )
    )


if __name__ == "__main__":
    main()
