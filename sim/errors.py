"""Errors the simulated services return.

SimError            a plain Go error: JSON-RPC -32000 with its text as message
└── (nothing else)  parameter errors are built by `sim.jsonrpc` directly
"""

from __future__ import annotations


class SimError(Exception):
    """Raised when a simulated op-conductor or op-node call fails the way the real one does."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
