"""The cluster a plan leaves behind, predicted step by step from a snapshot (pure).

`predict(snapshot, plan, marks)` walks the plan's steps over a small model of the cluster (voters and
which of them are live, the raft leader, pause and override flags, op-node overrides the bot set,
which sequencers are active or unknown, every node's head). After each step the unpaused control
loops react as op-conductor's action table does (reference §3.3): a follower stops its sequencer, a
healthy leader starts one at the raft head. `commands.invariants` judges the predicted states.
Facts about the snapshot itself come from the shared health model (`cluster.health`); live voters are
counted as `cluster.health.has_quorum` counts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from cluster.health import is_overridden
from cluster.snapshot import VOTER, NetworkSnapshot
from commands.plans import FROM_KEY, Plan, RpcStep
from store.marks import NodeOverrideMark

# --- small predicates on one snapshot ------------------------------------------------------------


def live_conductors(snap: NetworkSnapshot) -> frozenset[str]:
    """Conductors that answer: the voters `cluster.health.has_quorum` counts."""
    return frozenset(n.id for n in snap.nodes if n.conductor_reachable)


def voters(snap: NetworkSnapshot) -> frozenset[str] | None:
    if snap.membership is None or snap.membership.servers is None:
        return None
    return frozenset(s.id for s in snap.membership.servers if s.suffrage == VOTER)


def majority(count: int) -> int:
    return count // 2 + 1


def unknown_sequencers(snap: NetworkSnapshot) -> dict[str, str]:
    """Nodes whose op-node did not say whether it sequences, with the error kind: never "inactive"."""
    out: dict[str, str] = {}
    for n in snap.nodes:
        if n.sequencer_active is None and n.id not in snap.standby:
            err = n.endpoint_down("node")
            out[n.id] = err.kind if err is not None else "rpc"
    return out


# --- the predicted cluster ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    number: int
    hash: str


@dataclass(frozen=True)
class Cluster:
    """What matters for the invariants, before or after one step."""

    voters: frozenset[str]
    membership_known: bool
    live: frozenset[str]
    leader: str | None
    loops: frozenset[str]  # live conductors whose control loop runs (not paused)
    healthy: frozenset[str]
    overridden: frozenset[str]
    node_overridden: frozenset[str]
    active: frozenset[str]
    unknown: Mapping[str, str]
    heads: Mapping[str, Head] = field(default_factory=dict)
    # Started by a plan step: either op-node lets it through (its override is set, so commits skip
    # raft) or the start fails and the plan's rollback restarts the stopped one; the start gate and
    # `no_commit_quorum` findings speak to which.
    started: frozenset[str] = frozenset()

    @property
    def quorum(self) -> bool:
        return bool(self.voters) and len(self.voters & self.live) >= majority(len(self.voters))

    @property
    def producing(self) -> frozenset[str]:
        """Active sequencers whose blocks can be committed: the raft leader, an override (DR), or one
        a step started (see `started`)."""
        trusted = self.overridden | self.node_overridden | self.started
        return frozenset(n for n in self.active if n == self.leader or n in trusted)

    @property
    def best(self) -> Head | None:
        return max(self.heads.values(), key=lambda h: h.number, default=None)


def from_snapshot(snap: NetworkSnapshot, marks: Mapping[str, NodeOverrideMark]) -> Cluster:
    vs = voters(snap)
    live = live_conductors(snap)
    known = vs is not None
    cluster = Cluster(
        voters=vs or frozenset(),
        membership_known=known,
        live=live,
        leader=snap.raft_leader_id,
        loops=frozenset(n.id for n in snap.nodes if n.id in live and n.paused is False),
        healthy=frozenset(n.id for n in snap.nodes if n.healthy),
        overridden=frozenset(n.id for n in snap.nodes if is_overridden(n)),
        node_overridden=frozenset(marks),
        active=frozenset(snap.active_sequencers),
        unknown=unknown_sequencers(snap),
        heads={n.id: Head(n.unsafe.number, n.unsafe.hash) for n in snap.nodes if n.unsafe is not None},
    )
    if known and not cluster.quorum:
        cluster = replace(cluster, leader=None)
    return cluster


@dataclass(frozen=True)
class Start:
    """A sequencer start the plan makes (by a step or by a control loop) and the head it builds on."""

    step: int
    node: str
    head: Head | None
    given_hash: str | None = None


@dataclass(frozen=True)
class Prediction:
    before: Cluster
    after_steps: tuple[Cluster, ...]
    starts: tuple[Start, ...]

    @property
    def final(self) -> Cluster:
        return self.after_steps[-1] if self.after_steps else self.before


def _elect(c: Cluster) -> str | None:
    """Who raft elects when leaderless: a live voter with the longest chain (log), if there is quorum."""
    if not c.quorum:
        return None
    candidates = sorted(c.voters & c.live)
    return max(candidates, key=lambda n: c.heads[n].number if n in c.heads else -1, default=None)


def _successor(c: Cluster) -> str | None:
    """Whom an untargeted transfer hands leadership to: the live voter with the longest chain."""
    if not c.quorum:
        return None
    candidates = sorted((c.voters & c.live) - {c.leader})
    return max(candidates, key=lambda n: c.heads[n].number if n in c.heads else -1, default=None)


def _param(step: RpcStep, i: int) -> object:
    return step.params[i] if len(step.params) > i else None


def _apply(c: Cluster, step: RpcStep, stopped: dict[str, Head]) -> tuple[Cluster, Head | None, bool]:
    """One step's own effect: the new cluster, the head a start builds on, whether it started."""
    t = step.target
    match step.method:
        case "conductor_pause":
            return replace(c, loops=c.loops - {t}), None, False
        case "conductor_resume":
            return replace(c, loops=c.loops | {t} if t in c.live else c.loops), None, False
        case "conductor_overrideLeader":
            on = _param(step, 0) is not False
            return replace(c, overridden=c.overridden | {t} if on else c.overridden - {t}), None, False
        case "admin_overrideLeader":
            return replace(c, node_overridden=c.node_overridden | {t}), None, False
        case "conductor_addServerAsVoter":
            return replace(c, voters=c.voters | {str(_param(step, 0))}), None, False
        case "conductor_removeServer":
            gone = str(_param(step, 0))
            if c.voters == {gone}:
                return c, None, False  # raft refuses to remove the last voter
            # ShutdownOnRemove: the removed node's raft stops, so it no longer votes or leads.
            c = replace(c, voters=c.voters - {gone}, live=c.live - {gone})
            return (replace(c, leader=None) if c.leader == gone else c), None, False
        case "conductor_transferLeader":
            return replace(c, leader=_successor(c) or c.leader), None, False
        case "conductor_transferLeaderToServer":
            target = str(_param(step, 0))
            ok = target in c.voters and target in c.live
            return replace(c, leader=target if ok else c.leader), None, False
        case "admin_stopSequencer":
            if t in c.heads:
                stopped.setdefault(t, c.heads[t])
            unknown = {k: v for k, v in c.unknown.items() if k != t}
            return replace(c, active=c.active - {t}, unknown=unknown), None, False
        case "admin_startSequencer":
            given = _param(step, 0)
            own = c.heads.get(t)
            if isinstance(given, dict) and FROM_KEY in given:
                head = next(iter(stopped.values()), None)
            else:
                # op-node starts only at its own head; another hash fails (no harm, nothing starts).
                head = (
                    own if own is not None and isinstance(given, str) and own.hash == given.lower() else None
                )
            return replace(c, active=c.active | {t}, started=c.started | {t}), head, True
        case _:
            return c, None, False


def _settle(c: Cluster) -> tuple[Cluster, str | None]:
    """The control loops' reaction (reference §3.3 cases 2, 4 and 7); returns who a loop started."""
    leader = c.leader if c.quorum or not c.membership_known else None
    if leader is None and c.membership_known:
        leader = _elect(c)
    c = replace(c, leader=leader)
    stop = frozenset(n for n in c.active & c.loops if n != leader)
    c = replace(c, active=c.active - stop)
    if leader is not None and leader in c.loops and leader in c.healthy and leader not in c.active:
        return replace(c, active=c.active | {leader}), leader
    return c, None


def predict(snap: NetworkSnapshot, plan: Plan, marks: Mapping[str, NodeOverrideMark]) -> Prediction:
    before = from_snapshot(snap, marks)
    states: list[Cluster] = []
    starts: list[Start] = []
    stopped: dict[str, Head] = {}
    c = before
    for index, step in enumerate(plan.steps, start=1):
        c, head, started = _apply(c, step, stopped)
        if started:
            given = _param(step, 0)
            starts.append(Start(index, step.target, head, given if isinstance(given, str) else None))
        c, loop_started = _settle(c)
        if loop_started is not None:
            # A loop starts at the raft head, which is the best committed head: never below it.
            starts.append(Start(index, loop_started, before.best))
        states.append(c)
    return Prediction(before=before, after_steps=tuple(states), starts=tuple(starts))
