"""Pure Block Kit builders for alert messages, burst summaries and their fallback texts.

Every builder is a function of domain objects and `now`; nothing here talks to Slack. Slack limits
kept: at most 50 blocks, section text ≤ 3000 chars, ≤ 10 section fields, header ≤ 150 chars,
button values ≤ 2000 chars (they carry only the network and the fingerprint).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from alerts.catalog import rule_spec
from alerts.ids import AlertAction, AlertBlock
from alerts.model import AlertState, OperationCause
from alerts.texts import RESOLVED_EMOJI, SEVERITY_EMOJI, cause_text, detail_label, detail_value, silence_text
from chat.text import HEADER_LIMIT, SECTION_LIMIT, clip, duration, escape, plural, slack_date

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_FIELDS = 10
SUMMARY_LINE_MAX = 300
DETAIL_FIELD_MAX = 200
# Slack rejects messages whose blocks total about 13k characters (msg_blocks_too_long) even when
# every block is within its own limit, so a burst summary lists lines up to this many characters.
SUMMARY_BUDGET = 9000


class AlertButtonValue(BaseModel):
    """What an alert button carries; handlers parse it with `model_validate_json`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    network: str
    fingerprint: str | None = None


def _emoji(state: AlertState) -> str:
    return RESOLVED_EMOJI if state.phase == "resolved" else SEVERITY_EMOJI[state.severity]


def _title(state: AlertState) -> str:
    title = rule_spec(state.rule).title
    return f"{title}: {state.subject}" if state.subject else title


def alert_text(state: AlertState) -> str:
    """The notification fallback text (what a phone push shows)."""
    summary = escape(state.summary)
    expected = f" (expected: request `{state.cause.request_id}`)" if state.cause is not None else ""
    return clip(
        f"{_emoji(state)} [{state.network}] {_title(state)} ({state.phase}): {summary}{expected}", 3000
    )


def _status_line(state: AlertState, now: float) -> str:
    if state.phase == "resolved":
        lasted = duration((state.resolved_at or now) - (state.fired_at or now))
        return f"*Resolved* {slack_date(state.resolved_at or now)} after {lasted}"
    started = state.fired_at if state.phase == "firing" else state.pending_since
    started = started or state.since
    return f"*{state.phase.capitalize()}* since {slack_date(started)} ({duration(now - started)})"


def _context(state: AlertState, now: float) -> str:
    parts = [f"network `{state.network}`", f"episode {state.episode}"]
    if state.acked_by:
        parts.append(f"acknowledged by <@{state.acked_by}>")
    if state.silenced_at(now) and state.silenced_until is not None:
        by = f" by <@{state.silenced_by}>" if state.silenced_by else ""
        parts.append(f"silenced{by} {silence_text(state.silenced_until, now)}")
    parts.append(f"`{state.fingerprint}`")
    return " · ".join(parts)


def _button(text: str, action: AlertAction, value: AlertButtonValue, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action.value,
        "value": value.model_dump_json(exclude_none=True),
    }
    if style:
        button["style"] = style
    return button


def timeline_button(network: str, fingerprint: str | None) -> Block:
    return _button(
        "Timeline", AlertAction.TIMELINE, AlertButtonValue(network=network, fingerprint=fingerprint)
    )


def timeline_actions(network: str, fingerprint: str | None) -> Block:
    """The actions block of a message whose only button is Timeline (a resolved alert, an event)."""
    return {
        "type": "actions",
        "block_id": AlertBlock.ACTIONS.value,
        "elements": [timeline_button(network, fingerprint)],
    }


def _actions(state: AlertState) -> Block:
    if state.phase == "resolved":
        return timeline_actions(state.network, state.fingerprint)
    value = AlertButtonValue(network=state.network, fingerprint=state.fingerprint)
    elements: list[Block] = []
    if state.acked_by is None:
        elements.append(_button("Acknowledge", AlertAction.ACKNOWLEDGE, value, "primary"))
    elements.append(_button("Silence 30 min", AlertAction.SILENCE_30M, value))
    elements.append(_button("Silence 2 h", AlertAction.SILENCE_2H, value))
    if state.silenced_until != "resolved":
        elements.append(_button("Silence until resolved", AlertAction.SILENCE_UNTIL_RESOLVED, value))
    elements.append(timeline_button(state.network, state.fingerprint))
    return {"type": "actions", "block_id": AlertBlock.ACTIONS.value, "elements": elements}


def cause_block(cause: OperationCause | None) -> Block | None:
    """The annotation naming the request whose operation caused this episode or event, if one did."""
    if cause is None:
        return None
    return {
        "type": "context",
        "block_id": AlertBlock.CAUSE.value,
        "elements": [{"type": "mrkdwn", "text": cause_text(cause)}],
    }


def alert_blocks(state: AlertState, now: float) -> list[Block]:
    """The alert's one message: title, state and duration, latest numbers, and its buttons."""
    blocks: list[Block] = [
        {
            "type": "header",
            "block_id": AlertBlock.HEADER.value,
            "text": {"type": "plain_text", "text": clip(f"{_emoji(state)} {_title(state)}", HEADER_LIMIT)},
        },
        {
            "type": "section",
            "block_id": AlertBlock.STATUS.value,
            "text": {
                "type": "mrkdwn",
                "text": clip(f"{escape(state.summary)}\n{_status_line(state, now)}", SECTION_LIMIT),
            },
        },
    ]
    if state.details:
        fields = [
            {
                "type": "mrkdwn",
                "text": clip(f"*{detail_label(key)}*\n{detail_value(key, value)}", DETAIL_FIELD_MAX),
            }
            for key, value in list(state.details.items())[:MAX_FIELDS]
        ]
        blocks.append({"type": "section", "block_id": AlertBlock.DETAILS.value, "fields": fields})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _context(state, now)}]})
    if (cause := cause_block(state.cause)) is not None:
        blocks.append(cause)
    blocks.append(_actions(state))
    return blocks


def _summary_line(state: AlertState) -> str:
    return clip(
        f"{_emoji(state)} *{_title(state)}* ({state.phase}) — {escape(state.summary)}", SUMMARY_LINE_MAX
    )


def burst_summary_text(network: str, states: Sequence[AlertState]) -> str:
    firing = sum(1 for s in states if s.phase == "firing")
    started = f"[{network}] {plural(len(states), 'alert')} started together"
    cause = states[0].cause if states else None
    if cause is not None:
        # Expected alerts in the request's thread: no siren for what the approvers asked for.
        still = f", {firing} still firing" if firing else ", all resolved"
        expected = plural(len(states), "expected alert")
        return f":information_source: [{network}] {expected} of `{cause.command}`{still}"
    if firing == 0:
        return f"{RESOLVED_EMOJI} {started}, all resolved"
    return f":rotating_light: {started}, {firing} still firing"


def burst_summary_blocks(network: str, states: Sequence[AlertState], now: float) -> list[Block]:
    """ONE message for a burst of alerts of `network`, re-rendered as they change."""
    ordered = sorted(
        states, key=lambda s: (s.phase == "resolved", _SEVERITY_ORDER[s.severity], s.fingerprint)
    )
    blocks: list[Block] = [
        {
            "type": "header",
            "block_id": AlertBlock.SUMMARY_HEADER.value,
            "text": {"type": "plain_text", "text": clip(burst_summary_text(network, states), HEADER_LIMIT)},
        }
    ]
    lines = [_summary_line(s) for s in ordered]
    shown = _fit(lines, SUMMARY_BUDGET)
    for chunk in _chunks(lines[:shown], SECTION_LIMIT):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    if shown < len(lines):
        blocks.append(
            {
                "type": "section",
                "block_id": AlertBlock.SUMMARY_MORE.value,
                "text": {"type": "mrkdwn", "text": f"…and {len(lines) - shown} more alerts"},
            }
        )
    since = min((s.fired_at or s.since for s in states), default=now)
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"network `{network}` · since {slack_date(since)} ({duration(now - since)})",
                }
            ],
        }
    )
    if (cause := cause_block(states[0].cause if states else None)) is not None:
        blocks.append(cause)
    value = AlertButtonValue(network=network)
    elements: list[Block] = []
    if any(s.phase != "resolved" for s in states):
        elements += [
            _button("Silence network 30 min", AlertAction.SILENCE_NETWORK_30M, value),
            _button("Silence network 2 h", AlertAction.SILENCE_NETWORK_2H, value),
        ]
    elements.append(timeline_button(network, None))
    blocks.append({"type": "actions", "block_id": AlertBlock.SUMMARY_ACTIONS.value, "elements": elements})
    return blocks


_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def _fit(lines: Sequence[str], budget: int) -> int:
    """How many of `lines` (one newline each) fit in `budget` characters."""
    used = 0
    for count, line in enumerate(lines):
        used += len(line) + 1
        if used > budget:
            return count
    return len(lines)


def _chunks(lines: Sequence[str], limit: int) -> list[str]:
    """Lines joined by newlines into pieces of at most `limit` characters."""
    out: list[str] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            out.append(current)
            current = line
        else:
            current = candidate
    if current:
        out.append(current)
    return out
