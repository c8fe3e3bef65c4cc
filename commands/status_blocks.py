"""Block Kit for `/conductor status`: pure functions of a snapshot and its spec, nothing else.

The verdict and the findings are the health model's (`cluster.conditions.assess`), the same the alerts
and `conductor-bot status` use; this module only lays them out, for a phone first:
- a summary line where the leadership agrees with itself ("`seq-0` leads and sequences"), spelt out
  only where it does not;
- one compact line per sequencer; a sequencer with something to say gets its findings, the errors no
  finding explains and what could not be judged on indented lines below its own, so each error shows
  once and next to its node;
- network-wide findings in one section, then a context line, Refresh and "Share in channel" (the
  shared copy in the channel says who shared it and has no buttons: it records one moment).
Node lines are packed into as few sections as Slack's 3,000-character limit allows; at most
`MAX_NODE_ROWS` sequencers are listed (those with something to say first), then "…and N more".
Node error strings and finding summaries come from the network and are mrkdwn-escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chat.text import HEADER_LIMIT, SECTION_LIMIT, clip, escape, utc_time
from cluster.conditions import CONDITIONS, assess
from cluster.health import FOLLOWS_FROM, LAGGING, LOW_PEERS, NODE_UNREACHABLE, Finding, Health
from cluster.snapshot import Endpoint, NetworkSnapshot, NodeStatus
from cluster.topology import NetworkSpec

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_NODE_ROWS = 40
# One sequencer's lines never exceed this, so a section always holds several of them.
NODE_LIMIT = 600
ERROR_LIMIT = 160

VERDICT_EMOJI = {
    "healthy": ":large_green_circle:",
    "degraded": ":large_yellow_circle:",
    "critical": ":red_circle:",
}
SEVERITY_EMOJI = {"critical": ":red_circle:", "warning": ":warning:", "info": ":information_source:"}
NODE_OK = ":large_green_circle:"
NODE_UNKNOWN = ":grey_question:"
HELD = ":hourglass_flowing_sand:"
INDENT = "      ↳ "
ENDPOINT_NAME: dict[Endpoint, str] = {"conductor": "conductor", "node": "op-node"}


class StatusAction(StrEnum):
    """`action_id` of the interactive elements in status messages (handled in `commands.status`)."""

    REFRESH = "status_refresh"
    SHARE = "status_share"


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
    reasons = [escape(r) for r in health.reasons]
    why = f" — {'; '.join(reasons[:3])}" + (f" (+{len(reasons) - 3} more)" if len(reasons) > 3 else "")
    return clip(
        f"{emoji} *{snapshot.network}* {health.verdict}: leader {leader}, head {head}"
        + (why if reasons else ""),
        500,
    )


def status_blocks(
    snapshot: NetworkSnapshot,
    spec: NetworkSpec,
    remembered: Mapping[str, str] | None = None,
    *,
    shared_by: str | None = None,
) -> list[Block]:
    """The full rendering of one network's snapshot. `remembered`: per node, what the bot did to it
    that the node cannot report (an op-node override), shown under its line. `shared_by` (a user id)
    when the copy is posted for the whole channel."""
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
    ]
    sections = _node_sections(snapshot, spec, health, remembered or {})
    blocks.extend(_section(text, f"status_nodes_{i}") for i, text in enumerate(sections))
    findings = _network_findings(health, {n.id for n in snapshot.nodes})
    if findings:
        blocks.append(_section(findings, StatusBlock.FINDINGS))
    source = f" · membership as seen by {snapshot.membership_source}" if snapshot.membership_source else ""
    shared = f" · shared by <@{shared_by}>" if shared_by else ""
    blocks.append(_context(f"Snapshot {utc_time(snapshot.taken_at)}{source}{shared}", StatusBlock.CONTEXT))
    if shared_by is None:
        # A shared copy is a record of one moment the channel may discuss: nobody rewrites it.
        buttons = [
            _button(StatusAction.REFRESH, "Refresh", snapshot.network),
            _button(StatusAction.SHARE, "Share in channel", snapshot.network),
        ]
        blocks.append({"type": "actions", "block_id": StatusBlock.ACTIONS, "elements": buttons})
    return blocks


def _button(action_id: str, label: str, value: str) -> Block:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }


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


# ---- summary ------------------------------------------------------------------------------------


def _ids(ids: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{x}`" for x in ids)


def leadership(s: NetworkSnapshot) -> str:
    """Who leads and who sequences, in one phrase when the conductors and op-nodes agree."""
    leaders, active, raft = s.leaders, s.active_sequencers, s.raft_leader_id
    if len(leaders) == 1 and raft in (None, leaders[0]):
        lead = leaders[0]
        others = [a for a in active if a != lead]
        if lead in active:
            text = f"`{lead}` leads and sequences"
            return text + (f"; {_ids(others)} also sequencing" if others else "")
        return f"`{lead}` leads; " + (f"{_ids(others)} sequencing" if others else "no sequencer is active")
    if not leaders and raft is None:
        parts = ["No leader known"]
    else:
        parts = [
            f"Leader: {_ids(leaders) or 'none'}",
            f"raft leader: `{raft}`" if raft else "raft leader unknown",
        ]
    parts.append(f"sequencing: {_ids(active)}" if active else "nothing sequencing")
    return " · ".join(parts)


def _summary(s: NetworkSnapshot, health: Health) -> str:
    if s.best_unsafe is None:
        head = "head unknown"
    else:
        head = f"head #{s.best_unsafe.number}, {s.taken_at - s.best_unsafe.timestamp:.0f}s old"
    return f"{VERDICT_EMOJI[health.verdict]} *{health.verdict}* · {leadership(s)} · {head}"


# ---- one line per sequencer ---------------------------------------------------------------------


def _own(f: Finding) -> str:
    """A node finding's summary without the node id it starts with (it stands under that node)."""
    prefix = f"{f.subject}: "
    return escape(f.summary[len(prefix) :] if f.summary.startswith(prefix) else f.summary)


def _titles(found: list[Finding]) -> str:
    return ", ".join(CONDITIONS[f.condition].title.lower() for f in found)


@dataclass(frozen=True)
class _NodeView:
    """One sequencer as listed: its icon, the facts of its compact line, the indented lines below."""

    icon: str
    facts: tuple[str, ...]
    details: tuple[str, ...]

    def lines(self, names: str, note: str = "") -> str:
        head = f"{self.icon} *{names}*{note}" + "".join(f" · {fact}" for fact in self.facts)
        return clip("\n".join((head, *self.details)), NODE_LIMIT)


def _node_view(
    n: NodeStatus, s: NetworkSnapshot, spec: NetworkSpec, mine: list[Finding], note: str | None
) -> _NodeView:
    """The compact line, then (indented) what is wrong, what failed and what could not be told."""
    holding = [f for f in mine if f.state == "holds" and f.severity != "info"]
    unknown = [f for f in mine if f.state == "unknown"]
    named = {f.condition for f in holding}
    down = {ep for ep in ENDPOINT_NAME if n.endpoint_down(ep) is not None}
    # The unreachable finding carries the endpoint errors; every other error is shown as it came.
    unexplained = [e for e in n.errors if not (NODE_UNREACHABLE in named and e.endpoint in down)]
    details = [f"{INDENT}{_own(f)}" for f in holding]
    details.extend(
        f"{INDENT}{ENDPOINT_NAME[e.endpoint]}{f' `{e.method}`' if e.method else ''} {e.kind}: "
        f"{escape(clip(e.message, ERROR_LIMIT))}"
        for e in unexplained
    )
    # What an endpoint that did not answer cannot tell goes without saying once its error is shown.
    untold = [f for f in unknown if not any(f.reason.startswith(f"its {ep} did not answer:") for ep in down)]
    if untold:
        details.append(f"{INDENT}can't tell: {_titles(untold)}")
    if note is not None:
        details.append(f"{INDENT}:pushpin: {note}")
    severities = {f.severity for f in holding}
    if "critical" in severities:
        icon = SEVERITY_EMOJI["critical"]
    elif severities or n.errors:
        icon = SEVERITY_EMOJI["warning"]
    else:
        icon = NODE_UNKNOWN if untold else NODE_OK
    return _NodeView(icon, tuple(_facts(n, s, spec, named)), tuple(details))


def _facts(n: NodeStatus, s: NetworkSnapshot, spec: NetworkSpec, named: set[str]) -> list[str]:
    """What is plainly so about a node; a fact a finding already tells below is left to it."""
    facts: list[str] = []
    if n.id in s.standby:
        facts.append("standby (not in the cluster yet)")
    elif n.leader:
        facts.append("leader")
    elif n.leader is False:
        facts.append("follower")
    seq = spec.sequencer(n.id)
    if seq is not None and not seq.voting:
        facts.append("nonvoter")
    if n.sequencer_active:
        facts.append("sequencing")
    if n.unsafe is not None:
        lag = s.lag.get(n.id)
        behind = (
            f" ({lag.blocks} behind)" if lag is not None and lag.blocks > 0 and LAGGING not in named else ""
        )
        facts.append(f"#{n.unsafe.number}{behind}")
    if n.peers is not None and LOW_PEERS not in named:
        facts.append(f"{n.peers} peers")
    return facts


def _pack(groups: list[str]) -> list[str]:
    """Groups of lines joined into as few section texts as the section limit allows."""
    sections: list[str] = []
    for group in groups:
        if sections and len(sections[-1]) + 1 + len(group) <= SECTION_LIMIT:
            sections[-1] += "\n" + group
        else:
            sections.append(group)
    return sections


def _merge_alike(views: list[tuple[str, _NodeView]]) -> list[str]:
    """One group per sequencer, except that sequencers with the same trouble and no facts to tell
    share one: twenty unreachable nodes read as one line of names and their errors once."""
    alike: dict[_NodeView, list[str]] = {}
    for node_id, view in views:
        if view.details and not view.facts:
            alike.setdefault(view, []).append(node_id)
    groups: list[str] = []
    for node_id, view in views:
        same = alike.get(view, [node_id])
        if len(same) == 1:
            groups.append(view.lines(node_id))
        elif same[0] == node_id:
            groups.append(view.lines(", ".join(same), f" ({len(same)} sequencers)"))
    return groups


def _node_sections(
    s: NetworkSnapshot, spec: NetworkSpec, health: Health, remembered: Mapping[str, str]
) -> list[str]:
    by_node: dict[str, list[Finding]] = {}
    for f in health.findings:
        by_node.setdefault(f.subject, []).append(f)
    views = [_node_view(n, s, spec, by_node.get(n.id, []), remembered.get(n.id)) for n in s.nodes]
    # Listed in topology order; when there are too many, those with something to say come first.
    keep = sorted(range(len(views)), key=lambda i: (not views[i].details, i))[:MAX_NODE_ROWS]
    groups = _merge_alike([(s.nodes[i].id, views[i]) for i in sorted(keep)])
    hidden = len(views) - len(keep)
    if hidden:
        groups.append(f"…and {hidden} more sequencers not shown")
    return _pack(groups)


# ---- network-wide findings ----------------------------------------------------------------------


def _network_findings(health: Health, node_ids: set[str]) -> str:
    """Network-wide findings, then what follows from them or could not be judged; "" when none."""
    network = [f for f in health.findings if f.subject not in node_ids]
    lines = [
        f"{SEVERITY_EMOJI[f.severity]} {escape(f.summary)}"
        for f in network
        if f.state == "holds" and f.severity != "info"
    ]
    follows: dict[str, list[Finding]] = {}
    for f in network:
        if f.state == "held" and f.reason.startswith(FOLLOWS_FROM):
            follows.setdefault(f.reason.removeprefix(FOLLOWS_FROM).strip(), []).append(f)
        elif f.state == "held":
            lines.append(f"{HELD} {escape(f.summary)} — {escape(f.reason)}")
    for cause, found in follows.items():
        lines.append(f"{HELD} Not judged while {CONDITIONS[cause].title.lower()}: {_titles(found)}")
    unknown: dict[str, list[Finding]] = {}
    for f in network:
        if f.state == "unknown":
            unknown.setdefault(f.reason, []).append(f)
    lines.extend(
        f"{NODE_UNKNOWN} {_titles(found).capitalize()}: can't tell ({escape(why)})"
        for why, found in unknown.items()
    )
    return "\n".join(lines)
