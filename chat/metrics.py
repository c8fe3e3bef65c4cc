"""Prometheus metrics of the bot process, served on GET /metrics.

Defined once at import on the default registry, so every module (and every bot started in one test
process) shares them. Labels are bounded sets: verbs from the registry, outcomes below, RPC method names.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

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
RPC_CALLS = Counter(
    "conductor_bot_rpc_calls_total", "JSON-RPC calls to conductors and nodes.", ["method", "outcome"]
)
RPC_SECONDS = Histogram("conductor_bot_rpc_seconds", "JSON-RPC call latency.", ["method"])


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
