"""Cost of the incident timeline: `python -m bench.bench_timeline`.

(a) The watcher's per-tick history append (`store.history.append`: RPUSH + LTRIM + EXPIRE in one
    pipelined round trip) against the baseline of one plain SET (one round trip), on embedded Valkey.
(b) Reading a full history (`MAX_POINTS` points of 5 nodes) back, and what it holds in Redis
    (MEMORY USAGE of the key) and per point (JSON bytes).
(c) Rendering the PNG (`commands.timeline_chart.render_png`) for 30 minutes at 2 s of 5 nodes and
    for a full history of 20 nodes, against the baseline of an empty window (matplotlib's fixed cost).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from commands.timeline_chart import Marker, render_png
from store import history
from store.connection import client_for, start_valkey
from store.gateway import Store
from store.history import MAX_POINTS, HistoryPoint
from store.keys import Keys

NET = "bench-1"
APPENDS = 2000
RENDERS = 3


def points(count: int, nodes: int, end: float = 1_800_000_000.0) -> list[HistoryPoint]:
    ids = [f"seq-{i}" for i in range(nodes)]
    out = []
    for i in range(count):
        head = 1_000_000 + i
        heads: dict[str, int | None] = {n: head - (j % 3) for j, n in enumerate(ids)}
        leader = ids[(i // 300) % nodes]
        fired = ("leader_changed",) if i % 300 == 0 and i else ()
        out.append(
            HistoryPoint(
                at=end - 2 * (count - i), heads=heads, leaders=(leader,), active=(leader,), fired=fired
            )
        )
    return out


async def store_figures() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = await asyncio.to_thread(start_valkey, Path(tmp), {}, False)
        redis = client_for(str(server.connection_url))
        try:
            store = Store(redis, Keys(prefix="bench"))
            sample = points(MAX_POINTS, 5)
            started = time.perf_counter()
            for i in range(APPENDS):
                await redis.set(f"bench:baseline:{i % 10}", sample[i % MAX_POINTS].dump())
            baseline = (time.perf_counter() - started) / APPENDS
            started = time.perf_counter()
            for i in range(APPENDS):
                await history.append(store, NET, sample[i % MAX_POINTS])
            append = (time.perf_counter() - started) / APPENDS
            ratio = append / baseline
            print(
                f"(a) append: {append * 1e6:.0f} µs/tick vs baseline SET {baseline * 1e6:.0f} µs"
                f" ({ratio:.2f}x)"
            )
            await redis.delete(store.keys.history(NET))
            for p in sample:
                await history.append(store, NET, p)
            reads = []
            for _ in range(5):
                started = time.perf_counter()
                got = await history.read(store, NET, since=0.0)
                reads.append(time.perf_counter() - started)
            usage = await redis.memory_usage(store.keys.history(NET))
            per_point = statistics.mean(len(p.dump()) for p in sample)
            print(
                f"(b) read {len(got)} points x 5 nodes: {statistics.median(reads) * 1e3:.1f} ms;"
                f" Redis holds {int(usage or 0) / 1024:.0f} KiB; {per_point:.0f} JSON bytes/point"
            )
        finally:
            await redis.aclose()
            await asyncio.to_thread(server.stop, 5.0)


def render_figures() -> None:
    end = 1_800_000_000.0
    cases = {
        "empty window (baseline)": [],
        "30 min x 5 nodes": points(900, 5, end),
        f"{MAX_POINTS} points x 20 nodes": points(MAX_POINTS, 20, end),
    }
    markers = [Marker(end - 600, "operation", "transfer-leader bench-1 seq-0")]
    render_png(NET, [], [], end - 1800, end)  # warm-up: importing matplotlib and its fonts is paid once
    for name, sample in cases.items():
        start = sample[0].at if sample else end - 1800
        times, size = [], 0
        for _ in range(RENDERS):
            t0 = time.perf_counter()
            size = len(render_png(NET, sample, markers, start, end))
            times.append(time.perf_counter() - t0)
        print(f"(c) render {name}: {statistics.median(times) * 1e3:.0f} ms, {size / 1024:.0f} KiB PNG")


def main() -> None:
    asyncio.run(store_figures())
    render_figures()


if __name__ == "__main__":
    main()
