"""One simulated network: raft-like leadership and membership, the chain, and the op-node admin rules.

The model is synchronous and stepped by `step()`; the HTTP servers and the control namespace call the
methods here. Error texts follow op-conductor, hashicorp/raft and op-node (see
/work/shared/reference/op-conductor-rpc.md); each method says which source it mirrors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from cluster.clock import ManualClock
from sim import chain
from sim.chain import Block
from sim.errors import SimError
from sim.node import EndpointKind, SimNode
from sim.params import EPSILON, SimParams

logger = logging.getLogger(__name__)

NOT_LEADER = "node is not the leader"
RAFT_SHUTDOWN = "raft is already shutdown"
OVERRIDDEN_LEADER = {"id": "N/A (Leader overridden)", "addr": "N/A", "suffrage": 0}
NO_LEADER = {"id": "", "addr": "", "suffrage": 0}


@dataclass
class ConfigEntry:
    id: str
    addr: str
    voter: bool

    def server_info(self) -> dict[str, Any]:
        return {"id": self.id, "addr": self.addr, "suffrage": 0 if self.voter else 1}


class SimNetwork:
    """A raft cluster of sequencers plus spares, and the L2 chain they build."""

    def __init__(self, name: str, clock: ManualClock, params: SimParams) -> None:
        self.name = name
        self.clock = clock
        self.params = params
        self.nodes: dict[str, SimNode] = {}
        self.config: list[ConfigEntry] = []
        # raft's real configuration index; op-conductor reports 0 and only shows this in mismatch errors.
        self.config_index = 1
        self.term = 0
        self.leader: str | None = None
        self.leader_lost_at: float | None = None
        self.last_leader: str | None = None
        self.fsm_head: Block | None = None
        now = int(clock.now())
        self.tip = chain.ancestor(name, 1000, now)

    # ---- views -------------------------------------------------------------------------------------

    def node(self, node_id: str) -> SimNode:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(f"no node {node_id!r} in {self.name}") from None

    def leader_id(self) -> str | None:
        return self.leader

    def active_sequencers(self) -> list[str]:
        return [n.id for n in self.nodes.values() if n.node_up and n.seq_active]

    def entry(self, node_id: str) -> ConfigEntry | None:
        return next((e for e in self.config if e.id == node_id), None)

    def voters(self) -> list[ConfigEntry]:
        return [e for e in self.config if e.voter]

    def _reachable_voter(self, entry: ConfigEntry) -> bool:
        node = self.nodes.get(entry.id)
        return entry.voter and node is not None and node.in_raft and node.raft_addr == entry.addr

    def has_quorum(self) -> bool:
        voters = self.voters()
        reachable = sum(1 for e in voters if self._reachable_voter(e))
        return bool(voters) and reachable >= len(voters) // 2 + 1

    def block_at(self, number: int) -> Block:
        """The canonical block at a height (pre-history blocks are synthesised)."""
        if number >= self.tip.number:
            return self.tip
        return chain.ancestor(
            self.name, number, self.tip.timestamp - int(self.params.block_time) * (self.tip.number - number)
        )

    def state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "time": self.clock.now(),
            "term": self.term,
            "leader": self.leader,
            "fsm_head": None if self.fsm_head is None else self.fsm_head.number,
            "tip": self.tip.number,
            "config": [e.server_info() for e in self.config],
            "active_sequencers": self.active_sequencers(),
            "nodes": [n.state() for n in self.nodes.values()],
        }

    # ---- stepping ----------------------------------------------------------------------------------

    def step(self) -> None:
        """Advance the model to the clock's current time: raft, then blocks, then every control loop."""
        from sim.control_loop import run_conductor

        self._step_raft()
        self._step_chain()
        for node in self.nodes.values():
            if node.conductor_up:
                run_conductor(self, node)

    def _lose_leader(self, why: str) -> None:
        logger.info("sim leader lost network=%s leader=%s why=%s", self.name, self.leader, why)
        self.last_leader = self.leader
        self.leader = None
        self.leader_lost_at = self.clock.now()

    def _step_raft(self) -> None:
        now = self.clock.now()
        if self.leader is not None:
            entry = self.entry(self.leader)
            if entry is None or not self._reachable_voter(entry):
                self._lose_leader("leader unreachable")
            elif not self.has_quorum():
                self._lose_leader("lost quorum")
        if self.leader is None:
            if self.leader_lost_at is None:
                self.leader_lost_at = now
            if now - self.leader_lost_at >= self.params.election_timeout - EPSILON and self.has_quorum():
                self._elect(self._candidate())

    def _candidate(self) -> str:
        # Raft gives no preference beyond an up-to-date log; rotating from the previous leader keeps
        # elections deterministic without always picking seq-0.
        voters = [e.id for e in self.voters() if self._reachable_voter(e)]
        ids = [e.id for e in self.config]
        start = ids.index(self.last_leader) + 1 if self.last_leader in ids else 0
        ordered = ids[start:] + ids[:start]
        return next(i for i in ordered if i in voters)

    def _elect(self, node_id: str) -> None:
        self.term += 1
        self.last_leader = self.leader if self.leader is not None else self.last_leader
        self.leader = node_id
        self.leader_lost_at = None
        logger.info("sim leader elected network=%s leader=%s term=%d", self.name, node_id, self.term)

    def _step_chain(self) -> None:
        now = self.clock.now()
        for node in self.nodes.values():
            due = now - node.last_produced_at >= self.params.block_time - EPSILON
            if node.node_up and node.seq_active and not node.stall_production and due:
                node.last_produced_at = now
                self._produce(node, now)
        for node in self.nodes.values():
            elapsed, node.last_sync_at = now - node.last_sync_at, now
            if node.node_up and not node.stall_sync and self.tip.number > node.head.number:
                if node.sync_rate <= 0:
                    node.head = self.tip
                    continue
                node.sync_credit += node.sync_rate * elapsed
                gained = int(node.sync_credit + EPSILON)
                if gained > 0:
                    node.sync_credit -= gained
                    node.head = self.block_at(min(self.tip.number, node.head.number + gained))
            else:
                node.sync_credit = 0.0

    def _produce(self, node: SimNode, now: float) -> None:
        block = chain.child(self.name, node.head, node.id, max(node.head.timestamp + 1, int(now)))
        if not node.node_override:
            # op-node commits every sealed block to its conductor first; a failed commit means the
            # block is neither inserted nor gossiped (the split-brain guard).
            try:
                self._commit_from_node(node, block)
            except SimError as exc:
                node.last_commit_error = exc.message
                return
        node.last_commit_error = None
        node.head = block
        if block.number > self.tip.number:
            self.tip = block

    def _commit_from_node(self, node: SimNode, block: Block) -> None:
        if not node.answers("conductor"):
            raise SimError(
                f"failed to commit unsafe payload to conductor: dial tcp {node.raft_addr}: connection refused"
            )
        self.commit_unsafe_payload(node, block)

    # ---- raft / conductor operations ---------------------------------------------------------------

    def is_leader(self, node: SimNode) -> bool:
        """conductor_leader: the override flag, or raft leadership as this node sees it."""
        return node.override or (self.leader == node.id and node.in_raft)

    def leader_with_id(self, node: SimNode) -> dict[str, Any]:
        if node.override:
            return dict(OVERRIDDEN_LEADER)
        if self.leader is None or not node.in_raft:
            return dict(NO_LEADER)
        leader = self.node(self.leader)
        return {"id": leader.id, "addr": leader.raft_addr, "suffrage": 0}

    def membership(self, node: SimNode) -> dict[str, Any]:
        if node.raft_shutdown:
            raise SimError(RAFT_SHUTDOWN)
        servers = [e.server_info() for e in self.config] if node.member else None
        return {"servers": servers, "version": 0}

    def _require_leader(self, node: SimNode) -> None:
        if node.raft_shutdown:
            raise SimError(RAFT_SHUTDOWN)
        if self.leader != node.id or not node.in_raft:
            raise SimError(NOT_LEADER)

    def _check_version(self, version: int) -> None:
        # hashicorp/raft nextConfiguration: the check is off for 0.
        if version > 0 and version != self.config_index:
            raise SimError(f"configuration changed since {version} (latest is {self.config_index})")

    def add_server(self, node: SimNode, server_id: str, addr: str, version: int, *, voter: bool) -> None:
        """addServerAsVoter / addServerAsNonvoter after the TCP dial (done by the caller)."""
        self._require_leader(node)
        self._check_version(version)
        for e in self.config:
            if e.addr == addr and e.id != server_id:
                raise SimError(f"found duplicate address in configuration: {addr}")
        existing = self.entry(server_id)
        if existing is None:
            self.config.append(ConfigEntry(server_id, addr, voter))
        else:
            existing.addr = addr
            # AddNonvoter never demotes a voter; AddVoter promotes a nonvoter.
            existing.voter = existing.voter or voter
        self.config_index += 1
        joined = self.nodes.get(server_id)
        if joined is not None and joined.conductor_up:
            joined.member = True
            joined.raft_shutdown = False
            joined.voter = self.entry(server_id).voter  # type: ignore[union-attr]
        logger.info("sim membership add network=%s id=%s voter=%s", self.name, server_id, voter)

    def remove_server(self, node: SimNode, server_id: str, version: int) -> None:
        self._require_leader(node)
        self._check_version(version)
        entry = self.entry(server_id)
        if entry is not None and entry.voter and len(self.voters()) == 1:
            raise SimError(
                f"need at least one voter in configuration: {[e.server_info() for e in self.config]}"
            )
        if entry is not None:
            self.config.remove(entry)
        self.config_index += 1
        removed = self.nodes.get(server_id)
        if removed is not None and entry is not None:
            # ShutdownOnRemove (raft default): the removed node's raft stops for good.
            removed.raft_shutdown = True
            removed.leader_flag = removed.leader_flag and removed.id != server_id
        if self.leader == server_id:
            self._lose_leader("leader removed")
        logger.info("sim membership remove network=%s id=%s", self.name, server_id)

    def _transfer_to(self, target: ConfigEntry) -> None:
        node = self.nodes.get(target.id)
        if node is None or not node.in_raft or node.raft_addr != target.addr:
            raise SimError(
                f"failed to make TimeoutNow RPC to {{{target.id} {target.addr}}}: "
                f"dial tcp {target.addr}: connect: connection refused"
            )
        if not target.voter:
            raise SimError("leadership transfer timeout")
        self._elect(target.id)

    def transfer_leader(self, node: SimNode) -> None:
        """conductor_transferLeader: swallowed on followers; on the leader, moves to a healthy-ish voter."""
        if node.raft_shutdown:
            raise SimError(RAFT_SHUTDOWN)
        if self.leader != node.id or not node.in_raft:
            return
        others = [e for e in self.voters() if e.id != node.id]
        if not others:
            raise SimError("cannot find peer")

        def rank(e: ConfigEntry) -> tuple[bool, bool, int]:
            peer = self.nodes.get(e.id)
            if peer is None:
                return (True, True, 0)
            return (not peer.in_raft, not peer.healthy, -peer.head.number)

        self._transfer_to(min(others, key=rank))

    def transfer_leader_to(self, node: SimNode, server_id: str, addr: str) -> None:
        if server_id == node.id:
            raise SimError("cannot transfer leadership to itself")
        self._require_leader(node)
        target = self.entry(server_id)
        if target is None:
            # raft prints the id's pointer, not the id itself
            raise SimError(f"cannot find replication state for 0xc000{chain.fake_hash(server_id)[2:8]}")
        self._transfer_to(ConfigEntry(target.id, addr, target.voter))

    def commit_unsafe_payload(self, node: SimNode, block: Block) -> None:
        if node.raft_shutdown:
            raise SimError(f"failed to apply payload envelope: {RAFT_SHUTDOWN}")
        if self.leader != node.id or not node.in_raft:
            raise SimError(f"failed to apply payload envelope: {NOT_LEADER}")
        # The FSM keeps only strictly higher block numbers; lower ones are ignored silently.
        if self.fsm_head is None or block.number > self.fsm_head.number:
            self.fsm_head = block

    # ---- op-node admin ------------------------------------------------------------------------------

    def start_sequencer(self, node: SimNode, block_hash: str) -> None:
        """admin_startSequencer's checks in op-node's order."""
        if not node.node_override and node.conductor_enabled:
            if not node.answers("conductor"):
                raise SimError(
                    "sequencer leader check failed: "
                    f'Post "http://conductor": dial tcp {node.raft_addr}: connect: connection refused'
                )
            if not self.is_leader(node):
                raise SimError("sequencer is not the leader, aborting")
        if node.seq_active:
            raise SimError("sequencer already running")
        if block_hash.lower() != node.head.hash:
            raise SimError(
                f"block hash does not match: head {node.head.hash}:{node.head.number}, received {block_hash}"
            )
        node.seq_active = True
        node.last_produced_at = self.clock.now()
        logger.info("sim sequencer started network=%s node=%s", self.name, node.id)

    def stop_sequencer(self, node: SimNode) -> str:
        if not node.seq_active:
            raise SimError("sequencer not running")
        node.seq_active = False
        logger.info("sim sequencer stopped network=%s node=%s", self.name, node.id)
        return node.head.hash

    def post_unsafe_payload(self, node: SimNode, block: Block) -> None:
        if block.number == node.head.number + 1 and block.parent_hash == node.head.hash:
            node.head = block

    # ---- faults (process level; the harness also opens/closes sockets) -----------------------------

    def kill(self, node: SimNode, kind: EndpointKind) -> None:
        if kind == "conductor":
            node.conductor_up = False
            node.leader_flag = False
        else:
            node.node_up = False
            node.seq_active = False

    def revive(self, node: SimNode, kind: EndpointKind, *, paused: bool = False) -> None:
        """A process restart: in-memory flags reset, persistent state (head, raft store) kept."""
        now = self.clock.now()
        if kind == "node":
            node.node_up = True
            node.seq_active = False
            node.node_override = False
            return
        node.conductor_up = True
        node.stopped = False
        node.override = False
        node.paused = paused
        node.healthy = True
        node.hcerr = None
        node.raft_shutdown = False
        # A node removed from the configuration comes back like a spare (it must be added again).
        node.member = self.entry(node.id) is not None
        node.active = node.node_up and node.seq_active
        node.leader_flag = False
        node.prev_state = type(node.prev_state)(False, False, False)
        node.last_health_at = now
        node.last_seen_num = None
        node.action_pending = True
        node.next_action_at = now
