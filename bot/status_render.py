"""Pure rendering of a `NetworkSnapshot` for the terminal (rich) and as JSON.

Exit codes of `conductor-bot status` follow the verdict, so scripts can act on them.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cluster.snapshot import NetworkSnapshot, NodeStatus, Verdict, suffrage_name

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


def exit_code(verdict: Verdict) -> int:
    return _EXIT_BY_VERDICT[verdict]


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


def verdict_line(snapshot: NetworkSnapshot) -> Text:
    return Text(snapshot.summary, style=_STYLE_BY_VERDICT[snapshot.verdict])


def status_lines(snapshot: NetworkSnapshot) -> list[Text]:
    """Each finding on its own line, then the one-line verdict."""
    findings = [
        Text(f"[{f.severity}] {f.message}", style=_STYLE_BY_SEVERITY[f.severity]) for f in snapshot.findings
    ]
    return [*findings, verdict_line(snapshot)]


def render_status(snapshot: NetworkSnapshot) -> RenderableType:
    """The table, each finding on its own line, then the one-line verdict."""
    return Group(status_table(snapshot), *status_lines(snapshot))


def snapshot_json(snapshot: NetworkSnapshot, indent: int | None = 2) -> str:
    return snapshot.model_dump_json(indent=indent)
