"""Block Kit for `/conductor status`: pure functions of a snapshot and its spec, nothing else.

The verdict and the findings are the health model's (`cluster.conditions.assess`), the same the alerts
and `conductor-bot status` use. Layout of one network: header, verdict and leadership summary, one
section per sequencer, findings (then what could not be judged), a context line and a Refresh button.
Kept inside Slack's limits whatever the size of the network:
at most `MAX_NODE_ROWS` node sections (then one "…and N more"), every text clipped below 3,000 chars.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from chat.text import HEADER_LIMIT, SECTION_LIMIT, clip, utc_time
from cluster.conditions import assess
from cluster.health import Health
from cluster.snapshot import NetworkSnapshot, NodeStatus
from cluster.topology import NetworkSpec

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_NODE_ROWS = 40

VERDICT_EMOJI = {
    "healthy": ":large_green_circle:",
    "degraded": ":large_yellow_circle:",
    "critical": ":red_circle:",
}
SEVERITY_EMOJI = {"critical": ":red_circle:", "warning": ":warning:", "info": ":information_source:"}


class StatusAction(StrEnum):
    """`action_id` of the interactive elements in status messages (handled in `commands.status`)."""

    REFRESH = "status_refresh"


class StatusBlock(StrEnum):
    """`block_id` of the status blocks that tests and handlers look up."""

    HEADER = "status_header"
    SUMMARY = "status_summary"
    FINDINGS = "status_findings"
    CONTEXT = "status_context"
    ACTIONS = "status_actions"


def verdict_line(snapshot: NetworkSnapshot, spec: NetworkSpec) -> str:
    """One line per network for `/conductor status` without arguments."""
    health = assess(snapshot, spec)
    emoji = VERDICT_EMOJI[health.verdict]
    leader = ", ".join(snapshot.leaders) or "none"
    head = f"#{snapshot.best_unsafe.number}" if snapshot.best_unsafe is not None else "unknown"
    reasons = health.reasons
    why = f" — {'; '.join(reasons[:3])}" + (f" (+{len(reasons) - 3} more)" if len(reasons) > 3 else "")
    return clip(
        f"{emoji} *{snapshot.network}* {health.verdict}: leader {leader}, head {head}"
        + (why if reasons else ""),
        500,
    )


def status_blocks(
    snapshot: NetworkSnapshot, spec: NetworkSpec, remembered: Mapping[str, str] | None = None
) -> list[Block]:
    """The full rendering of one network's snapshot. `remembered`: per node, what the bot did to it
    that the node cannot report (an op-node override), shown under its row."""
    health = assess(snapshot, spec)
    blocks: list[Block] = [
        {
            "type": "header",
            "block_id": StatusBlock.HEADER,
            "text": {
                "type": "plain_text",
                "text": clip(f"{snapshot.network}: {health.verdict}", HEADER_LIMIT),
            },
        },
        _section(_summary(snapshot, health), StatusBlock.SUMMARY),
        {"type": "divider"},
    ]
    notes = remembered or {}
    rows = [
        _node_row(n, snapshot, spec) + (f"\n:pushpin: {notes[n.id]}" if n.id in notes else "")
        for n in snapshot.nodes
    ]
    blocks.extend(_section(r, f"status_node_{i}") for i, r in enumerate(rows[:MAX_NODE_ROWS]))
    if len(rows) > MAX_NODE_ROWS:
        blocks.append(_context(f"…and {len(rows) - MAX_NODE_ROWS} more sequencers not shown"))
    blocks.append({"type": "divider"})
    blocks.append(_section(_findings(health), StatusBlock.FINDINGS))
    source = f" · membership as seen by {snapshot.membership_source}" if snapshot.membership_source else ""
    blocks.append(_context(f"Snapshot {utc_time(snapshot.taken_at)}{source}", StatusBlock.CONTEXT))
    blocks.append(
        {
            "type": "actions",
            "block_id": StatusBlock.ACTIONS,
            "elements": [
                {
                    "type": "button",
                    "action_id": StatusAction.REFRESH,
                    "text": {"type": "plain_text", "text": "Refresh"},
                    "value": snapshot.network,
                }
            ],
        }
    )
    return blocks


def _section(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def _context(text: str, block_id: str | None = None) -> Block:
    block: Block = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}],
    }
    if block_id is not None:
        block["block_id"] = block_id
    return block


def _summary(s: NetworkSnapshot, health: Health) -> str:
    leaders = ", ".join(f"`{x}`" for x in s.leaders) or "*none*"
    active = ", ".join(f"`{x}`" for x in s.active_sequencers) or "*none*"
    raft = f"`{s.raft_leader_id}`" if s.raft_leader_id else "*unknown*"
    if s.best_unsafe is None:
        head = "unknown"
    else:
        age = s.taken_at - s.best_unsafe.timestamp
        head = f"#{s.best_unsafe.number} ({age:.0f}s old)"
    return (
        f"{VERDICT_EMOJI[health.verdict]} *{health.verdict}*\n"
        f"*Leader:* {leaders}   *Raft leader:* {raft}   *Active sequencer:* {active}\n"
        f"*Best unsafe head:* {head}"
    )


def _node_row(n: NodeStatus, s: NetworkSnapshot, spec: NetworkSpec) -> str:
    seq = spec.sequencer(n.id)
    role = "voter" if seq is None or seq.voting else "nonvoter"
    title = f"*{n.id}*" + (" :crown: leader" if n.leader else "") + f" · {role}"
    if n.id in s.standby:
        title += " · on standby (not in the cluster yet)"
    parts = [_conductor_state(n), _sequencer_state(n)]
    if n.unsafe is not None:
        lag = s.lag.get(n.id)
        behind = f", {lag.blocks} behind" if lag is not None and lag.blocks > 0 else ""
        parts.append(f"head #{n.unsafe.number}{behind}")
    if n.peers is not None:
        parts.append(f"{n.peers} peers")
    if n.leader_overridden:
        parts.append(":warning: leader overridden")
    lines = [title, " · ".join(p for p in parts if p)]
    lines.extend(
        f":x: {e.endpoint}{f' {e.method}' if e.method else ''} {e.kind}: {clip(e.message, 200)}"
        for e in n.errors[:3]
    )
    return "\n".join(lines)


def _conductor_state(n: NodeStatus) -> str:
    if not n.conductor_reachable:
        return "conductor *unreachable*"
    if n.stopped:
        return "conductor *stopped*"
    if n.paused:
        return "conductor *paused*"
    if n.active:
        return "conductor active"
    return "conductor state unknown"


def _sequencer_state(n: NodeStatus) -> str:
    if not n.node_reachable:
        return "op-node *unreachable*"
    active = {True: "sequencing", False: "not sequencing", None: ""}[n.sequencer_active]
    health = {True: "healthy", False: "*unhealthy*", None: ""}[n.healthy]
    return ", ".join(p for p in (active, health) if p)


def _findings(health: Health) -> str:
    shown = [f for f in health.holding if f.severity != "info"]
    notes = [f":grey_question: {note}" for note in health.notes()]
    if not shown and not notes:
        return ":white_check_mark: No findings."
    lines = [f"{SEVERITY_EMOJI[f.severity]} `{f.condition}` {f.summary}" for f in shown]
    return "*Findings*\n" + "\n".join(lines + notes)
