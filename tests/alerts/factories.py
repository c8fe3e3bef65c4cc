"""Hand-made topologies and node answers for alert tests (no network)."""

from __future__ import annotations

from typing import Any

from cluster.snapshot import (
    BlockRef,
    Endpoint,
    Membership,
    NetworkSnapshot,
    NodeStatus,
    ProbeError,
    ServerInfo,
    analyze,
)
from cluster.topology import NetworkSpec, SequencerSpec

NET = "op-test"
T0 = 1_760_000_000.0
IDS = ("seq-0", "seq-1", "seq-2")


def spec(ids: tuple[str, ...] = IDS) -> NetworkSpec:
    return NetworkSpec(
        name=NET,
        sequencers=tuple(
            SequencerSpec(
                id=i,
                raft_addr=f"{i}:50050",
                conductor_rpc_url=f"http://{i}:8547",
                node_rpc_url=f"http://{i}:9545",
            )
            for i in ids
        ),
        alert_channel="C-ALERTS",
    )


def membership(ids: tuple[str, ...] = IDS) -> Membership:
    return Membership(servers=tuple(ServerInfo(id=i, addr=f"{i}:50050") for i in ids), version=3)


def node(
    node_id: str, *, leader_id: str = "seq-0", head: int = 100, now: float = T0, **changes: Any
) -> NodeStatus:
    """A healthy node of a cluster led by `leader_id`, its unsafe head `head` produced 1 s before `now`."""
    is_leader = node_id == leader_id
    fields: dict[str, Any] = {
        "id": node_id,
        "leader": is_leader,
        "leader_with_id": ServerInfo(id=leader_id, addr=f"{leader_id}:50050"),
        "leader_overridden": False,
        "active": True,
        "paused": False,
        "stopped": False,
        "healthy": True,
        "membership": membership(),
        "sequencer_active": is_leader,
        "unsafe": BlockRef(number=head, hash=f"0x{head:x}", timestamp=int(now) - 1),
        "safe": BlockRef(number=head - 10, hash=f"0x{head - 10:x}", timestamp=int(now) - 21),
        "peers": 3,
    }
    fields.update(changes)
    return NodeStatus(**fields)


def unreachable(
    node_id: str, endpoint: Endpoint = "conductor", message: str = "connection refused"
) -> NodeStatus:
    """A node whose `endpoint` does not answer at all (so every fact from it is unknown)."""
    base = node(node_id)
    unknown: dict[str, Any]
    if endpoint == "conductor":
        unknown = dict.fromkeys(
            (
                "leader",
                "leader_with_id",
                "leader_overridden",
                "active",
                "paused",
                "stopped",
                "healthy",
                "membership",
            )
        )
    else:
        unknown = dict.fromkeys(("sequencer_active", "unsafe", "safe", "peers"))
    error = ProbeError(endpoint=endpoint, kind="unreachable", message=message)
    return base.model_copy(update={**unknown, "errors": (error,)})


def healthy_nodes(head: int = 100, now: float = T0, leader_id: str = "seq-0") -> list[NodeStatus]:
    return [node(i, head=head, now=now, leader_id=leader_id) for i in IDS]


def snap(nodes: list[NodeStatus], now: float = T0, net: NetworkSpec | None = None) -> NetworkSnapshot:
    return analyze(net or spec(), nodes, now)


def replace(nodes: list[NodeStatus], node_id: str, **changes: Any) -> list[NodeStatus]:
    return [n.model_copy(update=changes) if n.id == node_id else n for n in nodes]


def put(nodes: list[NodeStatus], new: NodeStatus) -> list[NodeStatus]:
    """`nodes` with the node of the same id swapped for `new`."""
    return [new if n.id == new.id else n for n in nodes]
