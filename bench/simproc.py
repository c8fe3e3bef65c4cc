"""The simulator in its own process, for benchmarks that must not count its CPU as the bot's.

async with sim_process(networks=1000, nodes=3) as sim:
    topology = sim.topology          # parsed from the clusters.yml it wrote
    await sim.control("sim_splitBrain", "sim-1", "seq-2")
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

from cluster.topology import Topology
from cluster.topology_file import load_topology

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


@dataclass
class SimProcess:
    pid: int
    topology: Topology
    clusters_path: Path
    control_url: str
    http: httpx.AsyncClient

    async def control(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        answer = (await self.http.post(self.control_url, json=body)).json()
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    async def requests(self, network: str | None = None) -> int:
        return int(await self.control("sim_requests", network or ""))

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)


@asynccontextmanager
async def sim_process(networks: int, nodes: int, speed: float = 1.0) -> AsyncIterator[SimProcess]:
    """`python -m sim` in real time; yields once every endpoint listens."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sim", "--networks", str(networks), "--nodes", str(nodes),
            "--write-config", tmp, "--speed", str(speed),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                while b"sim ready" not in (line := await proc.stdout.readline()):
                    if not line:
                        raise SystemExit("simulator exited before it was ready")
            drain = asyncio.create_task(_drain(proc.stdout))
            async with httpx.AsyncClient(timeout=120.0) as http:  # an overloaded sim answers late
                yield SimProcess(
                    pid=proc.pid,
                    topology=load_topology(Path(tmp) / "clusters.yml"),
                    clusters_path=Path(tmp) / "clusters.yml",
                    control_url=(Path(tmp) / "control_url").read_text().strip(),
                    http=http,
                )
            drain.cancel()
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                async with asyncio.timeout(30):
                    await proc.wait()


async def _drain(stream: asyncio.StreamReader) -> None:
    # An unread pipe would fill up and block the simulator's logging.
    while await stream.readline():
        pass
