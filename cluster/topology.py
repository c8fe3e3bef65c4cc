"""The intended topology: networks, their sequencers, and per-network Slack and threshold settings.

These are the values every other part reads. Loading them from a YAML clusters file or an
op-conductor-ops `config.toml` (with precise error messages) lives in `cluster.topology_file`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class Thresholds(BaseModel):
    """Health thresholds for one network; defaults suit 2 s blocks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_lag_blocks: int = Field(default=10, ge=0)
    max_lag_seconds: float = Field(default=30.0, ge=0)
    min_peers: int = Field(default=1, ge=0)
    # The best unsafe head not advancing for this long means the chain is stalled.
    stall_seconds: float = Field(default=12.0, gt=0)
    # A head older than this (vs. the clock) is stale even if it matches the best head.
    max_head_age_seconds: float = Field(default=30.0, gt=0)


class SequencerSpec(BaseModel):
    """One sequencer as the operators intend it to be (op-conductor-ops field names)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    raft_addr: str
    conductor_rpc_url: str
    node_rpc_url: str
    voting: bool = True
    # Listed ahead of the runbook's "add a sequencer" (so add-voter finds its address) but not yet meant
    # to be a raft member: its absence from membership and its paused conductor are expected, not alerts.
    standby: bool = False
    # op-conductor-ops' optional endpoints: rollup-boost's debug JSON-RPC (`debug_getExecutionMode` /
    # `debug_setExecutionMode`) and the block builder's execution RPC. Read and validated; kept for them.
    rollup_boost_rpc_url: str | None = None
    builder_rpc_url: str | None = None

    @property
    def suffrage(self) -> int:
        """Raft suffrage as op-conductor serialises it: 0 voter, 1 nonvoter."""
        return 0 if self.voting else 1


class NetworkSpec(BaseModel):
    """One network: its sequencers and who may act on it from Slack."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sequencers: tuple[SequencerSpec, ...]
    alert_channel: str | None = None
    command_channels: tuple[str, ...] = ()
    requesters: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()
    approvals_required: int = Field(default=1, ge=1)
    request_ttl_seconds: int = Field(default=900, gt=0)
    thresholds: Thresholds = Thresholds()

    def sequencer(self, sequencer_id: str) -> SequencerSpec | None:
        return next((s for s in self.sequencers if s.id == sequencer_id), None)

    @property
    def voters(self) -> tuple[SequencerSpec, ...]:
        return tuple(s for s in self.sequencers if s.voting)


class Topology(BaseModel):
    """All configured networks, by name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    networks: dict[str, NetworkSpec]
    # A CA bundle (PEM) trusted for HTTPS endpoints besides the system's (op-conductor-ops' `cert_path`),
    # already resolved against the clusters file's directory.
    cert_path: Path | None = None

    def network(self, name: str) -> NetworkSpec | None:
        return self.networks.get(name)
