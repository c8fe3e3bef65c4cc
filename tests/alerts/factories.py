"""Hand-made topologies and node answers for alert tests (no network)."""

from __future__ import annotations

from typing import Any

from cluster import snapshot as facts
from cluster.topology import NetworkSpec, SequencerSpec

NET = "op-test"
T0 = 1_760_000_000.0
IDS = ("seq-0", "seq-1", "seq-2")


def spec(ids: tuple[str, ...] = IDS, *, name: str = NET, voters: int | None = None) -> NetworkSpec:
    """A network of `ids` (the first `voters` of them voters; all by default)."""
    return NetworkSpec(
        name=name,
        sequencers=tuple(
            SequencerSpec(
                id=i,
                raft_addr=f"{i}:50050",
                conductor_rpc_url=f"http://{i}:8547",
                node_rpc_url=f"http://{i}:9545",
                voting=voters is None or n < voters,
            )
            for n, i in enumerate(ids)
        ),
        alert_channel="C-ALERTS",
    )


def membership(ids: tuple[str, ...] = IDS) -> facts.Membership:
    return facts.Membership(servers=tuple(facts.ServerInfo(id=i, addr=f"{i}:50050") for i in ids), version=3)


def node(
    node_id: str, *, leader_id: str = "seq-0", head: int = 100, now: float = T0, **changes: Any
) -> facts.NodeStatus:
    """A healthy node of a cluster led by `leader_id`, its unsafe head `head` produced 1 s before `now`."""
    is_leader = node_id == leader_id
    fields: dict[str, Any] = {
        "id": node_id,
        "leader": is_leader,
        "leader_with_id": facts.ServerInfo(id=leader_id, addr=f"{leader_id}:50050"),
        "leader_overridden": False,
        "active": True,
        "paused": False,
        "stopped": False,
        "healthy": True,
        "membership": membership(),
        "sequencer_active": is_leader,
        "unsafe": facts.BlockRef(number=head, hash=f"0x{head:x}", timestamp=int(now) - 1),
        "safe": facts.BlockRef(number=head - 10, hash=f"0x{head - 10:x}", timestamp=int(now) - 21),
        "peers": 3,
    }
    fields.update(changes)
    return facts.NodeStatus(**fields)


# The NodeStatus fields each endpoint answers: unknown when that endpoint is down.
FACTS_OF: dict[facts.Endpoint, tuple[str, ...]] = {
    "conductor": (
        "leader",
        "leader_with_id",
        "leader_overridden",
        "active",
        "paused",
        "stopped",
        "healthy",
        "membership",
    ),
    "node": ("sequencer_active", "unsafe", "safe", "peers"),
}


def silent(
    n: facts.NodeStatus, *endpoints: facts.Endpoint, kind: facts.ErrorKind = "unreachable", message: str = ""
) -> facts.NodeStatus:
    """`n` with `endpoints` giving no answer at all (every fact from them unknown)."""
    unknown: dict[str, Any] = {f: None for e in endpoints for f in FACTS_OF[e]}
    errors = tuple(
        facts.ProbeError(endpoint=e, kind=kind, message=message or f"{e} {kind}") for e in endpoints
    )
    return n.model_copy(update={**unknown, "errors": errors})


def unreachable(
    node_id: str, endpoint: facts.Endpoint = "conductor", message: str = "connection refused"
) -> facts.NodeStatus:
    """A node whose `endpoint` does not answer at all (so every fact from it is unknown)."""
    return silent(node(node_id), endpoint, message=message)


def healthy_nodes(head: int = 100, now: float = T0, leader_id: str = "seq-0") -> list[facts.NodeStatus]:
    return [node(i, head=head, now=now, leader_id=leader_id) for i in IDS]


def snap(
    nodes: list[facts.NodeStatus], now: float = T0, net: NetworkSpec | None = None
) -> facts.NetworkSnapshot:
    return facts.analyze(net or spec(), nodes, now)


def replace(nodes: list[facts.NodeStatus], node_id: str, **changes: Any) -> list[facts.NodeStatus]:
    return [n.model_copy(update=changes) if n.id == node_id else n for n in nodes]


def put(nodes: list[facts.NodeStatus], new: facts.NodeStatus) -> list[facts.NodeStatus]:
    """`nodes` with the node of the same id swapped for `new`."""
    return [new if n.id == new.id else n for n in nodes]
