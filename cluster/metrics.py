"""Prometheus metrics of the op-conductor ground floor (RPC calls), on the process's default registry.

Here rather than in `chat.metrics` because `cluster` imports nothing above it; `chat.metrics` re-exports
them so /metrics has one catalogue. Labels are bounded: JSON-RPC method names of our own calls, and an
outcome that is `ok` or an `RpcError.kind`.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Histogram

RPC_CALLS = Counter(
    "conductor_bot_rpc_calls_total",
    "JSON-RPC calls to conductors and nodes, by method and outcome (ok or the error kind).",
    ["method", "outcome"],
)
# A batch request is timed once, as method="batch"; its calls are each counted in RPC_CALLS.
RPC_SECONDS = Histogram(
    "conductor_bot_rpc_seconds",
    "JSON-RPC request latency, by method.",
    ["method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0),
)

# `labels()` hashes and validates its arguments and takes a lock on every call; a watcher tick counts
# ~40 calls, so the children (bounded label sets, never removed) are looked up once and kept.
_CALL_CHILDREN: dict[tuple[str, str], Any] = {}
_SECONDS_CHILDREN: dict[str, Any] = {}


def count_call(method: str, outcome: str) -> None:
    """One JSON-RPC call of `method` ended with `outcome` (`ok` or an `RpcError.kind`)."""
    child = _CALL_CHILDREN.get((method, outcome))
    if child is None:
        child = _CALL_CHILDREN[(method, outcome)] = RPC_CALLS.labels(method, outcome)
    child.inc()


def observe_seconds(method: str, seconds: float) -> None:
    """One JSON-RPC request (`batch` for a batch) took `seconds`."""
    child = _SECONDS_CHILDREN.get(method)
    if child is None:
        child = _SECONDS_CHILDREN[method] = RPC_SECONDS.labels(method)
    child.observe(seconds)
