"""Pure Block Kit builders for leader change event messages (`alerts.leader_events`).

An event has no state to manage: a header, the chain of leaders, the time of each change, a context
line (network, how long the flap lasted, the window that folds further changes into this message,
the request that caused it) and a Timeline button. No Acknowledge or Silence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.blocks import Block, cause_block, timeline_actions
from chat.text import HEADER_LIMIT, SECTION_LIMIT, clip, duration, escape, plural, slack_date

if TYPE_CHECKING:
    from alerts.leader_events import LeaderChain

EVENT_EMOJI = ":arrows_counterclockwise:"
# The newest changes listed one per line; the chain line above them always shows every leader.
MAX_CHANGE_LINES = 20


def chain_line(chain: LeaderChain) -> str:
    return " → ".join(escape(leader) for leader in chain.leaders)


def leader_chain_text(chain: LeaderChain) -> str:
    """The notification fallback text: the whole chain."""
    return clip(f"{EVENT_EMOJI} [{chain.network}] Leader changed: {chain_line(chain)}", 3000)


def leader_chain_blocks(chain: LeaderChain, window: float) -> list[Block]:
    count = len(chain.changes)
    title = "Leader changed" if count == 1 else f"Leader changed {count} times"
    lines = [
        f"{escape(c.before)} → {escape(c.after)} {slack_date(c.at)}"
        for c in chain.changes[-MAX_CHANGE_LINES:]
    ]
    if count > MAX_CHANGE_LINES:
        lines.insert(0, f"…{plural(count - MAX_CHANGE_LINES, 'earlier change')}")
    first, last = chain.changes[0].at, chain.changes[-1].at
    context = [f"network `{chain.network}`"]
    if count > 1:
        context.append(f"{plural(count, 'change')} in {duration(last - first)}")
    context.append(f"changes within {duration(window)} of the last one are added here")
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": clip(f"{EVENT_EMOJI} {title}", HEADER_LIMIT)},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": clip(f"*{chain_line(chain)}*\n" + "\n".join(lines), SECTION_LIMIT),
            },
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]},
    ]
    if (cause := cause_block(chain.cause)) is not None:
        blocks.append(cause)
    blocks.append(timeline_actions(chain.network, None))
    return blocks
