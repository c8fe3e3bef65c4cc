"""Prometheus metrics of the bot process, served on GET /metrics.

Defined once at import on the default registry, so every module (and every bot started in one test
process) shares them. Labels are bounded sets: verbs from the registry, outcomes below, RPC method names.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

from cluster.metrics import RPC_CALLS, RPC_SECONDS

__all__ = ["RPC_CALLS", "RPC_SECONDS"]  # defined on the ground floor, served here with the rest

# outcome: ok | user_error | error | unknown_verb
COMMANDS = Counter(
    "conductor_bot_commands_total", "Slash commands handled, by verb and outcome.", ["verb", "outcome"]
)
ACTIONS = Counter("conductor_bot_actions_total", "Interactive actions handled, by action id.", ["action_id"])
# Time to answer Slack's HTTP request, i.e. the ack latency Slack sees (limit 3 s).
ACK_SECONDS = Histogram(
    "conductor_bot_slack_ack_seconds",
    "Time from receiving a Slack request to answering it.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
)
# kind: user (an expected BotError) | bug (anything else)
ERRORS = Counter("conductor_bot_errors_total", "Errors turned into Slack replies.", ["kind"])

# The watcher, per network (labels: configured network names).
TICK_SECONDS = Histogram(
    "conductor_bot_tick_seconds",
    "Duration of a watcher tick, by network.",
    ["network"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0),
)
SKIPPED_TICKS = Counter(
    "conductor_bot_skipped_ticks_total",
    "Watcher ticks not run because the previous one was still running or ran too late, by network.",
    ["network", "reason"],
)
LEASE_HELD = Gauge(
    "conductor_bot_lease_held",
    "1 while this replica holds the network's watcher lease (exactly one replica should), else 0.",
    ["network"],
)
OUTBOX_DEPTH = Gauge(
    "conductor_bot_outbox_depth", "Slack posts waiting in the network's outbox after a tick.", ["network"]
)
# Slack Web API failures: `code` is Slack's error string (ratelimited, channel_not_found, …) or
# `connection` when no answer came back.
SLACK_ERRORS = Counter(
    "conductor_bot_slack_errors_total",
    "Slack Web API calls that failed, by method and code.",
    ["method", "code"],
)
# Outbox writes given up (`reason`: Slack's error code, e.g. message_not_found after its retries).
SLACK_WRITES_LOST = Counter(
    "conductor_bot_slack_writes_lost_total",
    "Slack writes of the outbox given up, by label and reason.",
    ["label", "reason"],
)
# Approval requests entering each state (`commands.approval` states: pending, approved, expired, …).
REQUESTS = Counter("conductor_bot_requests_total", "Approval requests entering a state, by state.", ["state"])
SOCKET_MODE_CONNECTED = Gauge(
    "conductor_bot_socket_mode_connected", "1 while the Socket Mode WebSocket to Slack is open."
)


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
