"""What every node of a network said at one moment, and the facts that follow without judgement.

`NodeStatus` holds the raw answers of one sequencer (None where the call failed; the reason is in
`errors`). `analyze` turns the node answers plus the intended `NetworkSpec` into a `NetworkSnapshot`
with facts: leaders, active sequencers, head lag, membership and how it differs from the topology.
Judging them (thresholds, verdict) is `cluster.health`'s job; polling over HTTP is `cluster.poller`'s.
Everything here is pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from cluster.topology import NetworkSpec

Endpoint = Literal["conductor", "node"]
ErrorKind = Literal["unreachable", "timeout", "http", "rpc", "malformed"]
DriftKind = Literal["missing", "unexpected", "wrong_suffrage", "address_mismatch"]

# conductor_leaderWithID answers this fixed id while the override flag is set (op-conductor service.go).
OVERRIDDEN_LEADER_ID = "N/A (Leader overridden)"
VOTER, NONVOTER = 0, 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BlockRef(_Frozen):
    number: int
    hash: str
    timestamp: int


class ServerInfo(_Frozen):
    id: str
    addr: str
    suffrage: int = VOTER


class Membership(_Frozen):
    # None is what a conductor that never joined a cluster answers (`servers: null`).
    servers: tuple[ServerInfo, ...] | None
    version: int = 0


class ProbeError(_Frozen):
    """Why one call (or one endpoint) of a node gave no answer."""

    endpoint: Endpoint
    kind: ErrorKind
    message: str
    method: str | None = None


class NodeStatus(_Frozen):
    """The raw answers of one sequencer's op-conductor and op-node; None where unknown."""

    id: str
    leader: bool | None = None
    leader_with_id: ServerInfo | None = None
    leader_overridden: bool | None = None
    active: bool | None = None
    paused: bool | None = None
    stopped: bool | None = None
    healthy: bool | None = None
    membership: Membership | None = None
    sequencer_active: bool | None = None
    unsafe: BlockRef | None = None
    safe: BlockRef | None = None
    peers: int | None = None
    errors: tuple[ProbeError, ...] = ()

    def endpoint_down(self, endpoint: Endpoint) -> ProbeError | None:
        """The error that made a whole endpoint unusable (not a single failed method), if any."""
        return next(
            (e for e in self.errors if e.endpoint == endpoint and e.kind != "rpc" and e.method is None),
            None,
        )

    @property
    def conductor_reachable(self) -> bool:
        return self.endpoint_down("conductor") is None

    @property
    def node_reachable(self) -> bool:
        return self.endpoint_down("node") is None

    @property
    def believed_leader(self) -> str | None:
        """Whom this node believes leads raft; None when it knows no leader or is overridden."""
        info = self.leader_with_id
        if info is None or info.id in ("", OVERRIDDEN_LEADER_ID):
            return None
        return info.id


class NodeLag(_Frozen):
    blocks: int
    seconds: float


class MembershipDrift(_Frozen):
    kind: DriftKind
    sequencer_id: str
    expected: str | None = None
    actual: str | None = None

    @property
    def message(self) -> str:
        match self.kind:
            case "missing":
                return f"{self.sequencer_id} is in the topology but not a raft member"
            case "unexpected":
                return f"{self.sequencer_id} is a raft member ({self.actual}) but not in the topology"
            case "wrong_suffrage":
                return f"{self.sequencer_id} is a {self.actual} but the topology says {self.expected}"
            case "address_mismatch":
                return f"{self.sequencer_id} raft address is {self.actual}, topology says {self.expected}"


class NetworkSnapshot(_Frozen):
    """One network at one moment: raw node answers (topology order) plus the facts they give."""

    network: str
    taken_at: float
    nodes: tuple[NodeStatus, ...]
    leaders: tuple[str, ...]
    raft_leader_id: str | None
    active_sequencers: tuple[str, ...]
    best_unsafe: BlockRef | None
    lag: dict[str, NodeLag]
    membership: Membership | None
    membership_source: str | None
    # Topology nodes marked `standby` that are not raft members (yet): expected outside, not drift.
    standby: tuple[str, ...]
    drift: tuple[MembershipDrift, ...]

    def node(self, node_id: str) -> NodeStatus | None:
        return next((n for n in self.nodes if n.id == node_id), None)


def suffrage_name(suffrage: int) -> str:
    return {VOTER: "voter", NONVOTER: "nonvoter"}.get(suffrage, f"suffrage {suffrage}")


def analyze(spec: NetworkSpec, nodes: Sequence[NodeStatus], taken_at: float) -> NetworkSnapshot:
    """Derive the network-level facts from what each node said."""
    leaders = tuple(n.id for n in nodes if n.leader)
    raft_leader = _raft_leader(nodes)
    best = max((n.unsafe for n in nodes if n.unsafe is not None), key=lambda b: b.number, default=None)
    lag = {
        n.id: NodeLag(
            blocks=best.number - n.unsafe.number, seconds=float(best.timestamp - n.unsafe.timestamp)
        )
        for n in nodes
        if n.unsafe is not None and best is not None
    }
    source, membership = _membership(nodes, raft_leader)
    drift = _drift(spec, membership)
    members = {m.id for m in membership.servers or ()} if membership is not None else set()
    standby = tuple(seq.id for seq in spec.sequencers if seq.standby and seq.id not in members)
    return NetworkSnapshot(
        network=spec.name,
        taken_at=taken_at,
        nodes=tuple(nodes),
        leaders=leaders,
        raft_leader_id=raft_leader,
        active_sequencers=tuple(n.id for n in nodes if n.sequencer_active),
        best_unsafe=best,
        lag=lag,
        membership=membership,
        membership_source=source,
        standby=standby,
        drift=drift,
    )


def _raft_leader(nodes: Sequence[NodeStatus]) -> str | None:
    # A conductor that says leader=true without the override is the raft leader by its own word;
    # otherwise take the id most nodes believe leads.
    own = [n.id for n in nodes if n.leader and not n.leader_overridden]
    if len(own) == 1:
        return own[0]
    votes = Counter(b for n in nodes if (b := n.believed_leader) is not None)
    if not votes:
        return None
    (top, count), *rest = votes.most_common()
    return None if rest and rest[0][1] == count else top


def _membership(nodes: Sequence[NodeStatus], raft_leader: str | None) -> tuple[str | None, Membership | None]:
    # The leader's copy is authoritative; a follower's may lag behind a recent change.
    by_id = {n.id: n for n in nodes}
    if raft_leader in by_id and (m := by_id[raft_leader].membership) is not None and m.servers is not None:
        return raft_leader, m
    for n in nodes:
        if n.membership is not None and n.membership.servers is not None:
            return n.id, n.membership
    return None, None


def _drift(spec: NetworkSpec, membership: Membership | None) -> tuple[MembershipDrift, ...]:
    if membership is None or membership.servers is None:
        return ()
    members = {s.id: s for s in membership.servers}
    out: list[MembershipDrift] = []
    for seq in spec.sequencers:
        member = members.get(seq.id)
        if member is None:
            if not seq.standby:
                out.append(
                    MembershipDrift(kind="missing", sequencer_id=seq.id, expected=suffrage_name(seq.suffrage))
                )
            continue
        if member.suffrage != seq.suffrage:
            out.append(
                MembershipDrift(
                    kind="wrong_suffrage",
                    sequencer_id=seq.id,
                    expected=suffrage_name(seq.suffrage),
                    actual=suffrage_name(member.suffrage),
                )
            )
        if member.addr != seq.raft_addr:
            out.append(
                MembershipDrift(
                    kind="address_mismatch", sequencer_id=seq.id, expected=seq.raft_addr, actual=member.addr
                )
            )
    known = {s.id for s in spec.sequencers}
    out.extend(
        MembershipDrift(kind="unexpected", sequencer_id=m.id, actual=m.addr)
        for m in membership.servers
        if m.id not in known
    )
    return tuple(out)
