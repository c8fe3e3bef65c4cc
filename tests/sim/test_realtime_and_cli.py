"""Real-time mode and the `python -m sim` entry point (what the demo runs)."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import yaml

from sim.harness import simulate
from tests.sim.rpc import call

READY_TIMEOUT = 15.0


async def test_realtime_mode_produces_blocks_without_advance() -> None:
    async with simulate(nodes=3, realtime=True, speed=40.0) as sim:
        net = sim.network("sim-1")
        start = net.tip.number
        # 3 blocks = 6 sim seconds = 0.15 s of real time at speed 40
        async with asyncio.timeout(5):
            await sim.wait_until(lambda: net.tip.number >= start + 3)
        n1 = sim.endpoint("sim-1", "seq-1").node.url
        assert (await call(n1, "optimism_syncStatus"))["unsafe_l2"]["number"] >= start + 3


async def test_cli_writes_config_prints_ready_and_stops_on_sigterm(tmp_path: Path) -> None:
    out = tmp_path / "cfg"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sim",
        "--nodes",
        "3",
        "--spare",
        "1",
        "--write-config",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    try:
        lines: list[str] = []
        async with asyncio.timeout(READY_TIMEOUT):
            while not any("ready" in line for line in lines):
                line = (await proc.stdout.readline()).decode()
                assert line, "".join(lines)
                lines.append(line)
        clusters = yaml.safe_load((out / "clusters.yml").read_text())
        sequencers = clusters["networks"]["sim-1"]["sequencers"]
        assert [s["id"] for s in sequencers] == ["seq-0", "seq-1", "seq-2", "seq-3"]
        assert "[sequencers.seq-3]" in (out / "config.toml").read_text()
        control = (out / "control_url").read_text().strip()
        state = await call(control, "sim_state")
        assert state["networks"][0]["leader"] == "seq-0"
        assert await call(sequencers[0]["conductor_rpc_url"], "conductor_leader") is True
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(READY_TIMEOUT):
            code = await proc.wait()
    assert code == 0
