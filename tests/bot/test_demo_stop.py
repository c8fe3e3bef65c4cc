"""Ctrl-C on `make demo`: the terminal sends SIGINT to the whole process group, embedded Valkey included."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.fixtures.process import BotProcess

STOP_WITHIN = 5.0


async def test_sigint_to_the_demos_process_group_ends_it_cleanly(tmp_path: Path) -> None:
    args = ["demo", "--no-tour", "--ui-port", "0", "--state-dir", str(tmp_path / "demo")]
    async with BotProcess.start(args, {}, cwd=tmp_path) as demo:
        await demo.wait_for("The demo keeps running", timeout=60)
        sent = time.monotonic()
        demo.signal(signal.SIGINT, group=True)
        code = await demo.wait_exit(STOP_WITHIN + 10)
        took = time.monotonic() - sent
    print(f"demo stopped by SIGINT to its process group in {took:.2f}s")
    assert code == 0, demo.output
    assert "Traceback" not in demo.output
    assert "Error" not in demo.output, demo.output
    assert took < STOP_WITHIN, f"took {took:.1f}s"
