"""Tunables of a simulated network, with op-conductor's defaults where it has them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Model time is a float near 1.7e9, where steps of 0.1 s carry ~1e-7 of rounding: compare with slack.
EPSILON = 1e-3


class SimParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    block_time: float = Field(default=2.0, gt=0)
    # raft's default election timeout (hashicorp/raft DefaultConfig).
    election_timeout: float = Field(default=1.0, gt=0)
    health_interval: float = Field(default=1.0, gt=0)
    # healthcheck.unsafe-interval; the e2e suite uses 30, a shorter one keeps tests quick.
    unsafe_interval: float = Field(default=10.0, gt=0)
    min_peer_count: int = Field(default=1, ge=1)
    # op-conductor retries a failed action after 0-2 s; a fixed 1 s keeps runs deterministic.
    action_retry: float = Field(default=1.0, gt=0)
    safe_lag_blocks: int = Field(default=20, ge=0)
    default_peers: int = Field(default=5, ge=0)
