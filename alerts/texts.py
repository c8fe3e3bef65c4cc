"""Plain texts shared by the alert message and its thread replies (durations, dates, reply lines).

A finding's summary and details can quote a node (an error string, an address), so they are
mrkdwn-escaped wherever they are put into a message.
"""

from __future__ import annotations

from alerts.model import AlertState, OperationCause, SilenceEnd
from chat.text import duration, escape, slack_date
from cluster.health import DetailValue, Severity

SEVERITY_EMOJI: dict[Severity, str] = {
    "critical": ":rotating_light:",
    "warning": ":warning:",
    "info": ":information_source:",
}
RESOLVED_EMOJI = ":white_check_mark:"

# A finding's detail keys (`cluster.conditions`) as an operator reads them.
DETAIL_LABELS: dict[str, str] = {
    "nodes": "op-nodes checked",
    "conductors": "Conductors",
    "answering": "Conductors answering",
    "leaders": "Leaders",
    "from": "Previous leader",
    "to": "New leader",
    "active": "Active sequencers",
    "stepping_down": "Stepping down",
    "best_number": "Best unsafe head",
    "stalled_seconds": "Stalled for",
    "head_age_seconds": "Head age",
    "conductor": "Conductor",
    "node": "op-node",
    "state": "Conductor state",
    "lag_blocks": "Blocks behind",
    "lag_seconds": "Time behind",
    "peers": "Peers",
    "kinds": "Drift",
}
_DURATIONS = {"stalled_seconds", "head_age_seconds", "lag_seconds"}


def detail_label(key: str) -> str:
    return DETAIL_LABELS.get(key, key.replace("_", " ").capitalize())


def detail_value(key: str, value: DetailValue) -> str:
    """A detail's value in words: durations as `1m`, a block as `#1234`, lists with spaces; escaped."""
    if key in _DURATIONS and isinstance(value, int | float):
        return duration(value)
    if key == "best_number":
        return f"#{value}"
    if key == "kinds":
        return ", ".join(k.replace("_", " ") for k in str(value).split(","))
    return escape(str(value))


def silence_text(until: SilenceEnd, now: float) -> str:
    if until == "resolved":
        return "until resolved"
    return f"for {duration(until - now)} (until {slack_date(until)})"


def reminder_text(state: AlertState, now: float) -> str:
    firing_for = duration(now - (state.fired_at or now))
    return f"{SEVERITY_EMOJI[state.severity]} Still firing after {firing_for}: {escape(state.summary)}"


def resolved_text(state: AlertState, now: float) -> str:
    lasted = duration(now - (state.fired_at or now))
    return f"{RESOLVED_EMOJI} Resolved after {lasted}. Last seen: {escape(state.summary)}"


def acknowledged_text(user: str) -> str:
    return f":eyes: Acknowledged by <@{user}>; reminders stop."


def silenced_text(user: str, until: SilenceEnd, now: float) -> str:
    return f":no_bell: Silenced by <@{user}> {silence_text(until, now)}."


def unsilenced_text(user: str) -> str:
    return f":bell: Silence lifted by <@{user}>."


def cause_text(cause: OperationCause) -> str:
    """The annotation of an alert or event the bot's own approved operation caused."""
    return (
        f":link: Expected: caused by request `{escape(cause.request_id)}`, "
        f"`{escape(cause.command)}` requested by <@{cause.requester}>"
    )
