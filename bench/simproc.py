"""The simulator in its own process, for benchmarks that must not count its CPU as the bot's.

async with sim_process(networks=1000, nodes=3, processes=4) as sim:
    topology = sim.topology          # the slices' clusters.yml merged into one
    await sim.control("sim_splitBrain", "sim-1", "seq-2")   # sent to the process serving sim-1
    print(sim.cpu_seconds(), await sim.requests())
"""

from __future__ import annotations

import asyncio
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from cluster.topology import Topology
from cluster.topology_file import load_topology
from sim.config_files import config_toml

READY_TIMEOUT_S = 300.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (clock ticks of 1/100 s on Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident set size (`VmRSS`) or its peak (`VmHWM`) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine_load() -> str:
    """The 1-minute load average and core count: the benchmark shares the machine with others."""
    import os

    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} cores"


def slices(networks: int, processes: int) -> list[tuple[int, int]]:
    """(first, count) per simulator process: contiguous, sizes differing by at most one."""
    processes = max(1, min(processes, networks))
    base, extra = divmod(networks, processes)
    out, first = [], 1
    for i in range(processes):
        count = base + (1 if i < extra else 0)
        out.append((first, count))
        first += count
    return out


@dataclass
class SimProcess:
    """One fleet served by one or more simulator processes (each a slice of the networks).

    Fault injection goes to the process that serves the network named by the call's first param;
    counters (`requests`, `cpu_seconds`) add up every process."""

    pids: list[int]
    topology: Topology
    clusters_path: Path
    control_urls: list[str]
    owners: dict[str, int]  # network -> index into control_urls
    http: httpx.AsyncClient

    @property
    def pid(self) -> int:
        return self.pids[0]

    @property
    def control_url(self) -> str:
        return self.control_urls[0]

    async def _call(self, url: str, method: str, params: tuple[Any, ...]) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        answer = (await self.http.post(url, json=body)).json()
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    async def control(self, method: str, *params: Any) -> Any:
        """A `sim_*` call on the process serving network `params[0]` (the only one if there is one)."""
        if params and isinstance(params[0], str) and params[0] in self.owners:
            return await self._call(self.control_urls[self.owners[params[0]]], method, params)
        if len(self.control_urls) == 1:
            return await self._call(self.control_urls[0], method, params)
        raise ValueError(f"{method}{params}: no network named, and {len(self.pids)} simulator processes")

    async def control_all(self, method: str, *params: Any) -> list[Any]:
        """A network-less `sim_*` call (e.g. `sim_state`) on every process, their answers in order."""
        return list(await asyncio.gather(*(self._call(u, method, params) for u in self.control_urls)))

    async def requests(self, network: str | None = None) -> int:
        if network:
            return int(await self.control("sim_requests", network))
        return sum(int(n) for n in await self.control_all("sim_requests", ""))

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def rss_mib(self) -> float:
        return sum(rss_mib(pid) for pid in self.pids)


# libyaml when present: the pure-Python parser takes a minute for 1,000 networks on a busy machine.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _merge(tmp: Path, parts: list[Path]) -> tuple[Topology, dict[str, int]]:
    """One clusters.yml (and config.toml) for the whole fleet; which part serves each network."""
    networks: dict[str, Any] = {}
    owners: dict[str, int] = {}
    for i, part in enumerate(parts):
        slice_ = yaml.load((part / "clusters.yml").read_text(), Loader=_Loader)["networks"]
        networks.update(slice_)
        owners.update(dict.fromkeys(slice_, i))
    merged = yaml.dump({"networks": networks}, Dumper=_Dumper, sort_keys=False)
    (tmp / "clusters.yml").write_text(merged)
    topology = load_topology(tmp / "clusters.yml")
    (tmp / "config.toml").write_text(config_toml(topology))
    return topology, owners


async def _start(
    tmp: Path, first: int, count: int, nodes: int, speed: float, step: float
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sim", "--networks", str(count), "--first", str(first),
        "--nodes", str(nodes), "--write-config", str(tmp), "--speed", str(speed),
        "--step", str(step), "--quiet",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def _ready(proc: asyncio.subprocess.Process) -> asyncio.Task[None]:
    assert proc.stdout is not None
    while b"sim ready" not in (line := await proc.stdout.readline()):
        if not line:
            raise SystemExit("simulator exited before it was ready")
    return asyncio.create_task(_drain(proc.stdout))


@asynccontextmanager
async def sim_process(
    networks: int, nodes: int, speed: float = 1.0, processes: int = 1, step: float = 0.1
) -> AsyncIterator[SimProcess]:
    """`python -m sim` in real time, in `processes` processes each serving a slice of the networks
    (one simulator process saturates near 1,000 requests/s); yields once every endpoint listens.
    `step`: the model's time resolution (stepping 1,000 networks every 0.1 s costs ~0.3 cores)."""
    with tempfile.TemporaryDirectory() as tmp:
        parts = [Path(tmp) / f"part-{i}" for i, _ in enumerate(slices(networks, processes))]
        procs: list[asyncio.subprocess.Process] = []
        drains: list[asyncio.Task[None]] = []
        try:
            for part, (first, count) in zip(parts, slices(networks, processes), strict=True):
                procs.append(await _start(part, first, count, nodes, speed, step))
            async with asyncio.timeout(READY_TIMEOUT_S):
                drains = list(await asyncio.gather(*(_ready(p) for p in procs)))
            topology, owners = _merge(Path(tmp), parts)
            urls = [(part / "control_url").read_text().strip() for part in parts]
            async with httpx.AsyncClient(timeout=120.0) as http:  # an overloaded sim answers late
                yield SimProcess(
                    pids=[p.pid for p in procs],
                    topology=topology,
                    clusters_path=Path(tmp) / "clusters.yml",
                    control_urls=urls,
                    owners=owners,
                    http=http,
                )
        finally:
            for drain in drains:
                drain.cancel()
            for proc in procs:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(30):
                    for proc in procs:
                        await proc.wait()
            except TimeoutError:
                # Closing thousands of endpoints one by one can outlast the wait: never leave one behind.
                for proc in procs:
                    if proc.returncode is None:
                        proc.kill()


async def _drain(stream: asyncio.StreamReader) -> None:
    # An unread pipe would fill up and block the simulator's logging.
    while await stream.readline():
        pass
