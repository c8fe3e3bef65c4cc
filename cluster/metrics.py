"""Prometheus metrics of the op-conductor ground floor (RPC calls), on the process's default registry.

Here rather than in `chat.metrics` because `cluster` imports nothing above it; `chat.metrics` re-exports
them so /metrics has one catalogue. Labels are bounded: JSON-RPC method names of our own calls, and an
outcome that is `ok` or an `RpcError.kind`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class _CallCounts(Collector):
    """`conductor_bot_rpc_calls_total{method,outcome}` kept as plain counts and turned into samples
    when scraped: the watcher counts thousands of calls a second, and a prometheus `Counter` takes
    a lock and two lookups for each (~8 % of a poll's CPU)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "conductor_bot_rpc_calls",
            "JSON-RPC calls to conductors and nodes, by method and outcome (ok or the error kind).",
            labels=["method", "outcome"],
        )
        for (method, outcome), count in dict(self.counts).items():  # a copy: a scrape may run in a thread
            family.add_metric([method, outcome], count)
        yield family


RPC_CALLS = _CallCounts()
REGISTRY.register(RPC_CALLS)
# A batch request is timed once, as method="batch"; its calls are each counted in RPC_CALLS.
RPC_SECONDS = Histogram(
    "conductor_bot_rpc_seconds",
    "JSON-RPC request latency, by method.",
    ["method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0),
)

# `labels()` hashes and validates its arguments and takes a lock on every call, so the children
# (bounded label sets, never removed) are looked up once and kept.
_SECONDS_CHILDREN: dict[str, Any] = {}


def count_call(method: str, outcome: str) -> None:
    """One JSON-RPC call of `method` ended with `outcome` (`ok` or an `RpcError.kind`)."""
    counts = RPC_CALLS.counts
    key = (method, outcome)
    counts[key] = counts.get(key, 0) + 1


def observe_seconds(method: str, seconds: float) -> None:
    """One JSON-RPC request (`batch` for a batch) took `seconds`."""
    child = _SECONDS_CHILDREN.get(method)
    if child is None:
        child = _SECONDS_CHILDREN[method] = RPC_SECONDS.labels(method)
    child.observe(seconds)
