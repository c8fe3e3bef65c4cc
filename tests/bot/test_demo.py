"""`make demo` is one of the two quick-start commands: its tour must run end to end and stop cleanly."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.fixtures.process import spawn_demo

TOUR_TIMEOUT = 90.0


async def test_demo_tour_shows_status_alerts_and_an_approved_pause(tmp_path: Path) -> None:
    proc = await spawn_demo(tmp_path)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(TOUR_TIMEOUT):
            while not any("The demo keeps running" in line for line in lines):
                line = (await proc.stdout.readline()).decode()
                assert line, "".join(lines)
                lines.append(line)
        out = "".join(lines)
        assert "sim-1: healthy" in out  # step 1: the status reply
        assert "Leader changed" in out and "*seq-0 → " in out  # step 2: the watcher's leader change event
        assert "you cannot approve your own request" in out  # step 4
        assert "Succeeded: pause sim-1" in out  # step 5: approved, run, verified
        assert (tmp_path / "clusters.yml").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            rest = (await proc.stdout.read()).decode()
            code = await proc.wait()
    assert code == 0, "".join(lines) + rest
    assert "Traceback" not in "".join(lines) + rest
    assert "Slack would refuse" not in "".join(lines) + rest  # sim.slack_checks on what the bot posted
