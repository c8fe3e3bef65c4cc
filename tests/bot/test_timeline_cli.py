"""`conductor-bot timeline NETWORK --out file.png` as an operator runs it: a PNG file, exit codes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import Result

from bot.timeline_cli import timeline_command
from commands.timeline_chart import DPI, HEIGHT_IN, WIDTH_IN
from store import history
from store.gateway import Store
from store.history import HistoryPoint
from tests.commands.test_timeline_chart import png_size
from tests.fixtures.cli import command_app, invoke

CLUSTERS = Path(__file__).parent.parent / "data" / "clusters" / "valid.yaml"
NETWORK = "op-sepolia"

app = command_app("timeline", timeline_command)


def run(*args: str, env: dict[str, str]) -> Result:
    return invoke(app, "timeline", args, env)


async def test_writes_the_picture_of_the_window_before_the_newest_record(
    store: Store, redis_url: str, tmp_path: Path
) -> None:
    for i in range(120):  # 4 minutes at 2 s
        point = HistoryPoint(at=1_760_000_000.0 + 2 * i, heads={"seq-a": i, "seq-b": i}, leaders=("seq-a",))
        await history.append(store, NETWORK, point)
    env = {"REDIS_URL": redis_url, "CONDUCTOR_BOT_KEY_PREFIX": store.keys.prefix}
    out = tmp_path / "t.png"

    args = (NETWORK, "--out", str(out), "--window", "2m", "--clusters", str(CLUSTERS))
    result = await asyncio.to_thread(run, *args, env=env)

    assert result.exit_code == 0, result.output
    assert f"{out}: op-sepolia, 61 ticks, 0 markers" in result.output
    assert png_size(out.read_bytes()) == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))


async def test_no_history_and_bad_window_write_nothing(store: Store, redis_url: str, tmp_path: Path) -> None:
    env = {"REDIS_URL": redis_url, "CONDUCTOR_BOT_KEY_PREFIX": store.keys.prefix}
    out = tmp_path / "t.png"
    empty = await asyncio.to_thread(run, "devnet", "--out", str(out), "--clusters", str(CLUSTERS), env=env)
    assert empty.exit_code == 2 and "devnet: no history yet" in empty.output
    bad = await asyncio.to_thread(
        run, NETWORK, "--out", str(out), "-w", "30min", "--clusters", str(CLUSTERS), env=env
    )
    assert bad.exit_code == 3 and "did you mean `30m`?" in bad.output
    assert not out.exists()
    for result in (empty, bad):
        assert "Traceback" not in result.output
