"""`conductor-bot audit NETWORK`: a network's audit trail from Redis, newest first.

The lead registers `audit_command` on the root typer app (`bot.cli`). It reads `REDIS_URL`, or
without it the embedded Valkey data under the state directory (`CONDUCTOR_BOT_STATE_DIR`), through
`store.connection.open_redis`, exactly as `conductor-bot run` does. The embedded server is meant for
one process: while a bot runs with embedded Valkey, point this command at that server with
`REDIS_URL` rather than starting a second server on the same files.

Exit codes:
    0  entries printed (possibly none)
    1  Redis unreachable, or the embedded Valkey did not start
    3  usage or configuration error: no clusters file, invalid file, unknown network

Errors are one clear message on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Annotated

import typer
from redis.exceptions import RedisError
from rich.table import Table

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
from store import audit
from store.audit import AuditEntry
from store.connection import RedisUnavailable

log = logging.getLogger(__name__)

EXIT_REDIS = 1
MAX_COUNT = 10_000


async def read_entries(settings: Settings, network: str, count: int) -> list[AuditEntry]:
    """The newest `count` entries of `network`, from the Redis the bot uses."""
    async with open_store(settings) as store:
        return await audit.read(store, network, count)


def entries_table(network: str, entries: list[AuditEntry]) -> Table:
    table = Table(title=f"{network}: last {len(entries)} audit entries, newest first (UTC)")
    for column in ("time", "kind", "actor", "request", "message"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        details = "; ".join(f"{k}={v}" for k, v in sorted(entry.data.items()))
        table.add_row(
            datetime.fromtimestamp(entry.at, UTC).strftime("%Y-%m-%d %H:%M:%S"),
            entry.kind.value,
            entry.actor or "-",
            entry.request_id or "-",
            entry.message + (f"\n{details}" if details else ""),
        )
    return table


def audit_command(
    network: Annotated[str, typer.Argument(help="Network name from the clusters file.", show_default=False)],
    count: Annotated[
        int, typer.Option("--count", "-n", min=1, max=MAX_COUNT, help="How many entries, newest first.")
    ] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per line, newest first.")] = False,
    clusters: ClustersOption = None,
) -> None:
    """Show a network's audit trail: requests, votes, executions and their results."""
    settings = settings_or_exit(clusters)
    spec = network_or_exit(topology_or_exit(settings), network)
    try:
        entries = asyncio.run(read_entries(settings, spec.name, count))
    except RedisUnavailable as exc:
        raise fail_exit(f"cannot read the audit trail: {exc}", EXIT_REDIS) from None
    except (RedisError, OSError) as exc:
        # Only the exception type: a Redis URL in the message may carry a password.
        raise fail_exit(
            f"cannot read the audit trail: Redis failed ({type(exc).__name__})", EXIT_REDIS
        ) from None
    out = stdout_console()
    if json_out:
        for entry in entries:
            out.print(
                json.dumps(entry.model_dump(mode="json")), markup=False, highlight=False, soft_wrap=True
            )
    elif not entries:
        out.print(f"{spec.name}: no audit entries yet", markup=False, highlight=False)
    else:
        out.print(entries_table(spec.name, entries))
    raise typer.Exit(0)
