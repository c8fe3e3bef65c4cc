"""`conductor-bot status | networks | check-config`: read-only commands for operators.

The lead registers these plain functions on the root typer app (`bot.cli`).

Exit codes:
    0  healthy (status) / valid (check-config) / listed (networks)
    1  degraded: something needs attention but a leader is sequencing
    2  critical: no leader, several leaders or active sequencers, stale head, nothing answers
    3  usage or configuration error: no clusters file, invalid file, unknown network

Errors are one clear message on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.table import Table

from bot.settings import Settings, load_settings
from bot.status_render import (
    EXIT_USAGE,
    exit_code,
    render_status,
    snapshot_json,
    status_lines,
    status_table,
)
from cluster.clock import SystemClock
from cluster.poller import poll_network, polling_limits
from cluster.snapshot import NetworkSnapshot
from cluster.topology import NetworkSpec, Topology
from cluster.topology_file import TopologyError, load_topology, load_topology_with_warnings

log = logging.getLogger(__name__)

ClustersOption = Annotated[
    Path | None,
    typer.Option(
        "--clusters",
        help="Clusters file (YAML or op-conductor-ops TOML); default: $CONDUCTOR_BOT_CLUSTERS.",
        show_default=False,
    ),
]


def stdout_console() -> Console:
    # Piped output gets a wide page instead of rich's 80 columns, so rows stay on one line.
    wide = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(width=200 if wide else None)


def _fail(message: str) -> NoReturn:
    Console(stderr=True).print(
        f"error: {message}", style="red", highlight=False, markup=False, soft_wrap=True
    )
    raise typer.Exit(EXIT_USAGE)


def settings_or_exit(clusters: Path | None) -> Settings:
    try:
        return load_settings(clusters)
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        _fail("invalid environment settings:\n  " + "\n  ".join(lines))


def topology_or_exit(settings: Settings) -> Topology:
    if settings.clusters is None:
        _fail("no clusters file: pass --clusters FILE or set CONDUCTOR_BOT_CLUSTERS")
    try:
        return load_topology(settings.clusters)
    except TopologyError as exc:
        _fail(f"invalid clusters file:\n{exc}")


def network_or_exit(topology: Topology, name: str) -> NetworkSpec:
    spec = topology.network(name)
    if spec is None:
        known = ", ".join(sorted(topology.networks)) or "none"
        _fail(f"unknown network {name!r}; configured: {known}")
    return spec


def _http_client(spec: NetworkSpec) -> httpx.AsyncClient:
    return httpx.AsyncClient(limits=polling_limits(Topology(networks={spec.name: spec})))


async def _poll_once(spec: NetworkSpec, rpc_timeout: float) -> NetworkSnapshot:
    async with _http_client(spec) as http:
        return await poll_network(spec, http, SystemClock(), rpc_timeout)


async def _watch(
    spec: NetworkSpec, rpc_timeout: float, interval: float, json_out: bool, out: Console, last: list[int]
) -> None:
    """Poll and show until cancelled (Ctrl-C); `last` holds the latest exit code for the caller."""
    async with _http_client(spec) as http:
        if json_out:
            while True:
                snap = await poll_network(spec, http, SystemClock(), rpc_timeout)
                last[:] = [exit_code(snap.verdict)]
                out.print(snapshot_json(snap, indent=None), markup=False, highlight=False, soft_wrap=True)
                await asyncio.sleep(interval)
        with Live(Table(title=f"{spec.name}: polling…"), console=out, auto_refresh=False) as live:
            while True:
                snap = await poll_network(spec, http, SystemClock(), rpc_timeout)
                last[:] = [exit_code(snap.verdict)]
                live.update(render_status(snap), refresh=True)
                await asyncio.sleep(interval)


def status_command(
    network: Annotated[str, typer.Argument(help="Network name from the clusters file.", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the snapshot as JSON.")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.1, help="Seconds between refreshes.")] = 2.0,
    clusters: ClustersOption = None,
) -> None:
    """Show one network: a table per sequencer, findings, verdict. Exit 0/1/2 healthy/degraded/critical."""
    settings = settings_or_exit(clusters)
    spec = network_or_exit(topology_or_exit(settings), network)
    out = stdout_console()
    if watch:
        last = [EXIT_USAGE]
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_watch(spec, settings.rpc_timeout, interval, json_out, out, last))
        raise typer.Exit(last[0])
    snap = asyncio.run(_poll_once(spec, settings.rpc_timeout))
    if json_out:
        out.print(snapshot_json(snap), markup=False, highlight=False, soft_wrap=True)
    else:
        out.print(status_table(snap))
        for line in status_lines(snap):
            # Whole lines, not hard-wrapped: operators grep and paste them.
            out.print(line, soft_wrap=True)
    raise typer.Exit(exit_code(snap.verdict))


def networks_command(clusters: ClustersOption = None) -> None:
    """List the configured networks with their sequencers and Slack channels."""
    topology = topology_or_exit(settings_or_exit(clusters))
    table = Table()
    for column in ("network", "sequencers", "voters", "alert channel", "approvals"):
        table.add_column(column)
    for name, spec in sorted(topology.networks.items()):
        table.add_row(
            name,
            ", ".join(s.id for s in spec.sequencers),
            str(len(spec.voters)),
            spec.alert_channel or "-",
            str(spec.approvals_required),
        )
    stdout_console().print(table)


def check_config_command(
    file: Annotated[Path, typer.Argument(help="Clusters file to validate.", show_default=False)],
) -> None:
    """Validate a clusters file; print every problem with its location. Exit 0 valid, 3 invalid."""
    out, err = Console(highlight=False), Console(stderr=True, highlight=False)
    try:
        loaded = load_topology_with_warnings(file)
    except TopologyError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, soft_wrap=True)
        err.print(
            f"{file}: invalid ({len(exc.problems)} problem(s))", style="red", markup=False, soft_wrap=True
        )
        raise typer.Exit(EXIT_USAGE) from None
    for warning in loaded.warnings:
        out.print(f"warning: {warning}", style="yellow", markup=False, soft_wrap=True)
    networks = loaded.topology.networks
    count = sum(len(n.sequencers) for n in networks.values())
    out.print(
        f"{file}: valid ({len(networks)} network(s), {count} sequencer(s))", markup=False, soft_wrap=True
    )
