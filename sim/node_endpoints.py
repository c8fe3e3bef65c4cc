"""A simulated node's endpoints, and opening a whole network of simulated sequencers on loopback ports."""

from __future__ import annotations

from dataclasses import dataclass

from cluster.clock import ManualClock
from sim.endpoints import HttpEndpoint, RaftListener
from sim.methods import CONDUCTOR_METHODS, NODE_METHODS, NodeContext
from sim.network import ConfigEntry, SimNetwork
from sim.node import LoopState, SimNode
from sim.params import SimParams
from sim.rollup_boost import ROLLUP_BOOST_METHODS


@dataclass
class NodeEndpoints:
    conductor: HttpEndpoint
    node: HttpEndpoint
    raft: RaftListener
    rollup_boost: HttpEndpoint | None = None

    def http(self, kind: str) -> HttpEndpoint:
        if kind == "conductor":
            return self.conductor
        if kind == "node":
            return self.node
        raise ValueError(f"endpoint must be 'conductor' or 'node', not {kind!r}")


async def open_network(
    name: str,
    clock: ManualClock,
    params: SimParams,
    host: str,
    *,
    nodes: int,
    nonvoters: int,
    spare: int,
    fresh: bool,
    endpoints: dict[tuple[str, str], NodeEndpoints],
) -> SimNetwork:
    """Open `nodes + spare` simulated sequencers of network `name`, each one's endpoints into `endpoints`."""
    net = SimNetwork(name, clock, params)
    now = clock.now()
    members = 1 if fresh else nodes
    total = nodes + spare
    for i in range(total):
        node_id = f"seq-{i}"
        raft = RaftListener(host)
        await raft.open()
        is_member = i < members
        voter = not (is_member and not fresh and i >= nodes - nonvoters)
        node = SimNode(
            id=node_id,
            raft_addr=raft.addr,
            head=net.tip,
            voter=voter,
            member=is_member,
            paused=fresh or not is_member,
            peers=params.default_peers,
            last_health_at=now,
            last_produced_at=now,
            prev_state=LoopState(False, True, False),
        )
        net.nodes[node_id] = node
        if is_member:
            net.config.append(ConfigEntry(node_id, raft.addr, voter))
        ctx = NodeContext(net, node)
        conductor = HttpEndpoint(
            f"{name}/{node_id}/conductor",
            host,
            CONDUCTOR_METHODS,
            ctx,
            node.faults["conductor"],
            process_up=lambda n=node: n.conductor_up,  # type: ignore[misc]
            on_exit=raft.close_now,
        )
        op_node = HttpEndpoint(
            f"{name}/{node_id}/node",
            host,
            NODE_METHODS,
            ctx,
            node.faults["node"],
            process_up=lambda n=node: n.node_up,  # type: ignore[misc]
        )
        boost = HttpEndpoint(f"{name}/{node_id}/rollup-boost", host, ROLLUP_BOOST_METHODS, ctx)
        await conductor.open()
        await op_node.open()
        await boost.open()
        endpoints[(name, node_id)] = NodeEndpoints(conductor, op_node, raft, boost)
    net.config_index = len(net.config)
    # As after the runbook's bootstrap: seq-0 leads (a single bootstrapped voter elects itself).
    net.leader, net.term = "seq-0", 1
    leader = net.node("seq-0")
    leader.leader_flag = True
    if not fresh:
        net.fsm_head = net.tip
        leader.seq_active = leader.active = True
        leader.prev_state = LoopState(True, True, True)
    return net
