"""`conductor-bot status | networks | check-config`: read-only commands for operators, and their
pure rendering (rich table and lines, JSON).

The lead registers these plain functions on the root typer app (`bot.cli`). The verdict, findings and
exit code come from the health model (`cluster.conditions.assess`), the same the alerts use.

Exit codes:
    0  healthy (status) / valid (check-config) / listed (networks)
    1  degraded: something needs attention but a leader is sequencing
    2  critical: a critical condition holds (no_leader, multiple_leaders, multiple_active, no_active,
       chain_stalled, all_unreachable)
    3  usage or configuration error: no clusters file, invalid file, unknown network

Errors are one clear message on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from bot.settings import Settings, load_settings
from cluster.clock import SystemClock
from cluster.conditions import assess
from cluster.health import Health, Verdict
from cluster.poller import poll_network, polling_client
from cluster.snapshot import NetworkSnapshot, NodeStatus, suffrage_name
from cluster.topology import NetworkSpec, Topology
from cluster.topology_file import TopologyError, load_topology, load_topology_with_warnings

log = logging.getLogger(__name__)

EXIT_HEALTHY, EXIT_DEGRADED, EXIT_CRITICAL, EXIT_USAGE = 0, 1, 2, 3
_EXIT_BY_VERDICT: dict[Verdict, int] = {
    "healthy": EXIT_HEALTHY,
    "degraded": EXIT_DEGRADED,
    "critical": EXIT_CRITICAL,
}
_STYLE_BY_VERDICT: dict[Verdict, str] = {"healthy": "green", "degraded": "yellow", "critical": "bold red"}
_STYLE_BY_SEVERITY = {"info": "dim", "warning": "yellow", "critical": "bold red"}
UNKNOWN = "?"

COLUMNS = (
    "sequencer",
    "conductor",
    "leader",
    "healthy",
    "sequencing",
    "voter",
    "unsafe head",
    "lag",
    "peers",
    "error",
)


def exit_code(health: Health) -> int:
    return _EXIT_BY_VERDICT[health.verdict]


def _yes_no(value: bool | None) -> str:
    return UNKNOWN if value is None else ("yes" if value else "no")


def conductor_state(n: NodeStatus) -> str:
    """stopped / paused / active, in that precedence; `?` when the conductor did not say."""
    if n.stopped:
        return "stopped"
    if n.paused:
        return "paused"
    if n.active is None and n.paused is None and n.stopped is None:
        return UNKNOWN
    return "active" if n.active or (n.paused is False and n.stopped is False) else "inactive"


def leader_cell(n: NodeStatus) -> str:
    if n.leader is None:
        return UNKNOWN
    if n.leader and n.leader_overridden:
        return "yes (override)"
    return _yes_no(n.leader)


def voter_cell(snapshot: NetworkSnapshot, node_id: str) -> str:
    """The node's suffrage in raft's membership (as the leader sees it); `standby` or `-` if not a member."""
    membership = snapshot.membership
    if membership is None or membership.servers is None:
        return UNKNOWN
    member = next((s for s in membership.servers if s.id == node_id), None)
    if member is None:
        return "standby" if node_id in snapshot.standby else "-"
    return suffrage_name(member.suffrage)


def head_cell(n: NodeStatus) -> str:
    if n.unsafe is None:
        return UNKNOWN
    return f"#{n.unsafe.number} {n.unsafe.hash[:10]}"


def lag_cell(snapshot: NetworkSnapshot, node_id: str) -> str:
    lag = snapshot.lag.get(node_id)
    if lag is None:
        return UNKNOWN
    return "0" if lag.blocks == 0 else f"{lag.blocks} blk / {lag.seconds:.0f}s"


def error_cell(n: NodeStatus) -> str:
    parts = []
    for e in n.errors:
        what = f"{e.endpoint} {e.kind}" if e.method is None else f"{e.endpoint} {e.method} {e.kind}"
        parts.append(f"{what}: {e.message}")
    return "; ".join(parts)


def status_row(snapshot: NetworkSnapshot, n: NodeStatus) -> tuple[str, ...]:
    """One table row, in `COLUMNS` order."""
    return (
        n.id,
        conductor_state(n),
        leader_cell(n),
        _yes_no(n.healthy),
        _yes_no(n.sequencer_active),
        voter_cell(snapshot, n.id),
        head_cell(n),
        lag_cell(snapshot, n.id),
        UNKNOWN if n.peers is None else str(n.peers),
        error_cell(n),
    )


def status_table(snapshot: NetworkSnapshot) -> Table:
    table = Table(title=f"{snapshot.network}", title_justify="left")
    for name in COLUMNS:
        # Short facts never wrap; the error column takes what width is left.
        if name == "error":
            table.add_column(name, overflow="fold")
        else:
            table.add_column(name, overflow="ellipsis", no_wrap=True)
    for n in snapshot.nodes:
        table.add_row(*status_row(snapshot, n), style="red" if n.errors else None)
    return table


def status_lines(health: Health) -> list[Text]:
    """Each finding that holds on its own line (with its condition name), what could not be judged,
    then the one-line verdict."""
    findings = [
        Text(f"[{f.severity}] {f.condition}: {f.summary}", style=_STYLE_BY_SEVERITY[f.severity])
        for f in health.holding
    ]
    notes = [Text(f"[not judged] {note}", style="dim") for note in health.notes()]
    return [*findings, *notes, Text(health.summary, style=_STYLE_BY_VERDICT[health.verdict])]


def render_status(snapshot: NetworkSnapshot, health: Health) -> RenderableType:
    """The table, each finding on its own line, then the one-line verdict."""
    return Group(status_table(snapshot), *status_lines(health))


def snapshot_json(snapshot: NetworkSnapshot, health: Health, indent: int | None = 2) -> str:
    """The snapshot's facts plus the health model's verdict and findings."""
    doc = snapshot.model_dump(mode="json") | {
        "verdict": health.verdict,
        "findings": [f.model_dump(mode="json") for f in health.findings],
    }
    return json.dumps(doc, indent=indent)


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


def fail_exit(message: str, code: int) -> typer.Exit:
    """Print `error: message` to stderr; returns the `typer.Exit(code)` to raise."""
    Console(stderr=True).print(
        f"error: {message}", style="red", highlight=False, markup=False, soft_wrap=True
    )
    return typer.Exit(code)


def fail(message: str) -> NoReturn:
    raise fail_exit(message, EXIT_USAGE)


def settings_or_exit(clusters: Path | None) -> Settings:
    try:
        return load_settings(clusters)
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        fail("invalid environment settings:\n  " + "\n  ".join(lines))


def topology_or_exit(settings: Settings) -> Topology:
    if settings.clusters is None:
        fail("no clusters file: pass --clusters FILE or set CONDUCTOR_BOT_CLUSTERS")
    try:
        return load_topology(settings.clusters)
    except TopologyError as exc:
        fail(f"invalid clusters file:\n{exc}")


def network_or_exit(topology: Topology, name: str) -> NetworkSpec:
    spec = topology.network(name)
    if spec is None:
        known = ", ".join(sorted(topology.networks)) or "none"
        fail(f"unknown network {name!r}; configured: {known}")
    return spec


def _http_client(spec: NetworkSpec, cert_path: Path | None) -> httpx.AsyncClient:
    return polling_client(Topology(networks={spec.name: spec}, cert_path=cert_path))


async def _poll_once(spec: NetworkSpec, rpc_timeout: float, cert_path: Path | None) -> NetworkSnapshot:
    async with _http_client(spec, cert_path) as http:
        return await poll_network(spec, http, SystemClock(), rpc_timeout)


async def _watch(
    spec: NetworkSpec,
    rpc_timeout: float,
    cert_path: Path | None,
    interval: float,
    json_out: bool,
    out: Console,
    last: list[int],
) -> None:
    """Poll and show until cancelled (Ctrl-C); `last` holds the latest exit code for the caller."""
    async with _http_client(spec, cert_path) as http:
        if json_out:
            while True:
                snap = await poll_network(spec, http, SystemClock(), rpc_timeout)
                health = assess(snap, spec)
                last[:] = [exit_code(health)]
                out.print(
                    snapshot_json(snap, health, indent=None), markup=False, highlight=False, soft_wrap=True
                )
                await asyncio.sleep(interval)
        # Imported here: only --watch needs it, and `status` must start fast (bot.cli).
        from rich.live import Live

        with Live(Table(title=f"{spec.name}: polling…"), console=out, auto_refresh=False) as live:
            while True:
                snap = await poll_network(spec, http, SystemClock(), rpc_timeout)
                health = assess(snap, spec)
                last[:] = [exit_code(health)]
                live.update(render_status(snap, health), refresh=True)
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
    topology = topology_or_exit(settings)
    spec = network_or_exit(topology, network)
    out = stdout_console()
    if watch:
        last = [EXIT_USAGE]
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_watch(spec, settings.rpc_timeout, topology.cert_path, interval, json_out, out, last))
        raise typer.Exit(last[0])
    snap = asyncio.run(_poll_once(spec, settings.rpc_timeout, topology.cert_path))
    health = assess(snap, spec)
    if json_out:
        out.print(snapshot_json(snap, health), markup=False, highlight=False, soft_wrap=True)
    else:
        out.print(status_table(snap))
        for line in status_lines(health):
            # Whole lines, not hard-wrapped: operators grep and paste them.
            out.print(line, soft_wrap=True)
    raise typer.Exit(exit_code(health))


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
