"""`conductor-bot timeline NETWORK --out file.png`: the same picture as `/conductor timeline`, to a file.

Reads the watcher's history (`store.history`) and the audit trail from the Redis the bot uses
(`REDIS_URL`, or the embedded Valkey under the state directory, as `conductor-bot audit` does) and
draws the window that ends at the newest record (a bot that stopped watching still gets its last
half hour drawn; the title says until when).

Exit codes:
    0  picture written
    1  Redis unreachable, or the embedded Valkey did not start
    2  no history for the network yet (nothing written)
    3  usage or configuration error: no clusters file, invalid file, unknown network, bad window
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from redis.exceptions import RedisError

from bot.cli_store import open_store
from bot.settings import Settings
from bot.status_cli import (
    ClustersOption,
    fail_exit,
    network_or_exit,
    settings_or_exit,
    stdout_console,
    topology_or_exit,
)
from chat.errors import UsageError
from commands.timeline import Timeline, load_timeline, parse_window
from store.connection import RedisUnavailable

log = logging.getLogger(__name__)

EXIT_REDIS, EXIT_EMPTY, EXIT_USAGE = 1, 2, 3


async def read_timeline(settings: Settings, network: str, window: float) -> Timeline:
    async with open_store(settings) as store:
        return await load_timeline(store, network, window, None)


def timeline_command(
    network: Annotated[str, typer.Argument(help="Network name from the clusters file.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.", show_default=False)],
    window: Annotated[str, typer.Option("--window", "-w", help="How far back: 30m, 2h, 1h30m.")] = "30m",
    clusters: ClustersOption = None,
) -> None:
    """Draw a network's recent history (heads, leader, active sequencer, alerts, operations) as a PNG."""
    settings = settings_or_exit(clusters)
    spec = network_or_exit(topology_or_exit(settings), network)
    try:
        seconds = parse_window([window])
    except UsageError as exc:
        raise fail_exit(str(exc).split(" Usage:")[0], EXIT_USAGE) from None
    try:
        timeline = asyncio.run(read_timeline(settings, spec.name, seconds))
    except RedisUnavailable as exc:
        raise fail_exit(f"cannot read the history: {exc}", EXIT_REDIS) from None
    except (RedisError, OSError) as exc:
        # Only the exception type: a Redis URL in the message may carry a password.
        raise fail_exit(f"cannot read the history: Redis failed ({type(exc).__name__})", EXIT_REDIS) from None
    if not timeline.points:
        raise fail_exit(
            f"{spec.name}: no history yet (the bot's watcher records one point per tick)", EXIT_EMPTY
        )
    png = timeline.png()
    try:
        out.write_bytes(png)
    except OSError as exc:
        raise fail_exit(f"cannot write {out}: {exc.strerror}", EXIT_USAGE) from None
    counts = f"{len(timeline.points)} ticks, {len(timeline.markers)} markers, {len(png)} bytes"
    stdout_console().print(
        f"{out}: {spec.name}, {counts}",
        markup=False,
        highlight=False,
    )
    raise typer.Exit(0)
