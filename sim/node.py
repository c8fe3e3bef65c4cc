"""One simulated sequencer: its op-conductor process, its op-node process, and injected faults.

Plain mutable state; the rules that move it live in `sim.network` (raft, chain) and
`sim.control_loop` (the conductor's health check and eight-case action table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sim.chain import Block

EndpointKind = Literal["conductor", "node"]
ENDPOINT_KINDS: tuple[EndpointKind, ...] = ("conductor", "node")

# op-conductor health errors (op-conductor/health/monitor.go)
ERR_CONNECTION_DOWN = "cannot connect to sequencer rpc endpoints"
ERR_NOT_HEALTHY = "sequencer is not healthy"


@dataclass
class EndpointFaults:
    """HTTP-level faults of one endpoint; the servers read these on every request."""

    hung: bool = False
    malformed: bool = False
    latency: float = 0.0
    # Seconds between handling a call and answering it: the call has taken effect, the caller waits.
    answer_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class LoopState:
    """The control loop's (leader, healthy, active) triple."""

    leader: bool
    healthy: bool
    active: bool


@dataclass
class SimNode:
    id: str
    raft_addr: str
    head: Block
    voter: bool = True
    # Raft: `member` means this node holds a configuration (bootstrapped or added); a spare does not.
    member: bool = True
    raft_shutdown: bool = False
    partitioned: bool = False
    # op-conductor process
    conductor_up: bool = True
    paused: bool = False
    stopped: bool = False
    override: bool = False
    healthy: bool = True
    hcerr: str | None = None
    leader_flag: bool = False
    active: bool = False
    prev_state: LoopState = LoopState(False, False, False)
    last_error: str | None = None
    action_pending: bool = True
    next_action_at: float = 0.0
    last_health_at: float = 0.0
    last_seen_num: int | None = None
    last_seen_time: float = 0.0
    # op-node process
    node_up: bool = True
    seq_active: bool = False
    node_override: bool = False
    # rollup-boost sidecar: its execution mode (`debug_setExecutionMode`).
    execution_mode: str = "enabled"
    conductor_enabled: bool = True
    peers: int = 5
    stall_production: bool = False
    stall_sync: bool = False
    # Blocks per second a syncing op-node gains on the tip (0: it jumps to the tip at once), so a node
    # that joins from far behind catches up over time as a real one does.
    sync_rate: float = 0.0
    sync_credit: float = 0.0
    last_sync_at: float = 0.0
    last_produced_at: float = 0.0
    last_commit_error: str | None = None
    faults: dict[EndpointKind, EndpointFaults] = field(
        default_factory=lambda: {kind: EndpointFaults() for kind in ENDPOINT_KINDS}
    )

    @property
    def in_raft(self) -> bool:
        """Takes part in raft right now: process alive, raft running, joined, not partitioned."""
        return self.conductor_up and not self.raft_shutdown and self.member and not self.partitioned

    def answers(self, kind: EndpointKind) -> bool:
        """Whether a caller inside the cluster (conductor <-> op-node) gets a usable answer."""
        up = self.conductor_up if kind == "conductor" else self.node_up
        faults = self.faults[kind]
        return up and not faults.hung and not faults.malformed

    def state(self) -> dict[str, object]:
        """A JSON-able dump for `sim_state` and test failure messages."""
        return {
            "id": self.id,
            "raft_addr": self.raft_addr,
            "voter": self.voter,
            "member": self.member,
            "raft_shutdown": self.raft_shutdown,
            "partitioned": self.partitioned,
            "conductor_up": self.conductor_up,
            "paused": self.paused,
            "override": self.override,
            "healthy": self.healthy,
            "hcerr": self.hcerr,
            "leader": self.leader_flag,
            "conductor_active": self.active,
            "last_error": self.last_error,
            "node_up": self.node_up,
            "sequencer_active": self.seq_active,
            "node_override": self.node_override,
            "execution_mode": self.execution_mode,
            "head": {"number": self.head.number, "hash": self.head.hash, "timestamp": self.head.timestamp},
            "peers": self.peers,
            "stall_production": self.stall_production,
            "stall_sync": self.stall_sync,
            "faults": {k: vars(f).copy() for k, f in self.faults.items()},
        }
