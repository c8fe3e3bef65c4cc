"""Plain texts shared by the alert message and its thread replies (durations, dates, reply lines)."""

from __future__ import annotations

from alerts.model import AlertState, SilenceEnd
from chat.text import duration, slack_date
from cluster.health import Severity

SEVERITY_EMOJI: dict[Severity, str] = {
    "critical": ":rotating_light:",
    "warning": ":warning:",
    "info": ":information_source:",
}
RESOLVED_EMOJI = ":white_check_mark:"


def silence_text(until: SilenceEnd, now: float) -> str:
    if until == "resolved":
        return "until resolved"
    return f"for {duration(until - now)} (until {slack_date(until)})"


def reminder_text(state: AlertState, now: float) -> str:
    firing_for = duration(now - (state.fired_at or now))
    return f"{SEVERITY_EMOJI[state.severity]} Still firing after {firing_for}: {state.summary}"


def resolved_text(state: AlertState, now: float) -> str:
    lasted = duration(now - (state.fired_at or now))
    return f"{RESOLVED_EMOJI} Resolved after {lasted}. Last seen: {state.summary}"


def acknowledged_text(user: str) -> str:
    return f":eyes: Acknowledged by <@{user}>; reminders stop."


def silenced_text(user: str, until: SilenceEnd, now: float) -> str:
    return f":no_bell: Silenced by <@{user}> {silence_text(until, now)}."


def unsilenced_text(user: str) -> str:
    return f":bell: Silence lifted by <@{user}>."
