"""Judge a plan by the cluster it leaves behind: predict each step's effect, then check named invariants.

`predict(snapshot, plan, marks)` walks the plan's steps over a small model of the cluster (voters and
which of them are live, the raft leader, pause and override flags, op-node overrides the bot set,
which sequencers are active or unknown, every node's head). After each step the unpaused control
loops react as op-conductor's action table does (reference §3.3): a follower stops its sequencer, a
healthy leader starts one at the raft head. `check(...)` then applies the invariants below to every
predicted state; each violated one becomes a finding whose message gives the reason in one sentence
and the manual alternative.

    quorum_lost          a step leaves fewer live voters than a majority       block
    two_active           a step leaves two active sequencers                    block
    sequencer_unknown    a start while an op-node that did not answer may sequence
                         timed out / malformed answer                           block
                         refused the connection (process down: the DR path)     warn
    start_below_best     a start below the best known head, whatever the hash   block
    start_hash_not_best  a given hash that is not the best head's               block
    second_override      another conductor answers leader by override           block
                         another op-node override this bot set (unverifiable)   warn
    chain_halts          blocks were produced before and none would be after    block
    stop_undone          the leader's running control loop restarts the stop    block

None of these is `forceable`: each would halt or reorg the chain, which `--force` never overrides.
Facts about one snapshot come from the shared health model (`cluster.health`: quorum, overrides);
the model here only predicts how they change step by step, counting live voters the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from cluster.health import is_overridden
from cluster.snapshot import VOTER, NetworkSnapshot
from commands.checks import Findings, block, warn
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


# --- the invariants ----------------------------------------------------------------------------------


def _step_name(plan: Plan, index: int) -> str:
    step = plan.steps[index - 1]
    return f"step {index} ({step.description})"


def check_quorum(p: Prediction, plan: Plan) -> Findings:
    if not p.before.membership_known or not p.before.quorum:
        return []
    for index, c in enumerate(p.after_steps, start=1):
        # Removing the last voter is refused by raft itself (`last_voter`).
        if c.voters and not c.quorum:
            dead = sorted(c.voters - c.live)
            alternative = (
                f"remove or revive the dead voter{'s' if len(dead) > 1 else ''} {', '.join(dead)} first"
                if dead
                else "add a synced voter first"
            )
            return [
                block(
                    "quorum_lost",
                    f"after {_step_name(plan, index)} only {len(c.voters & c.live)} of {len(c.voters)} "
                    f"voters would be live, so raft loses its quorum, no node leads and the chain halts; "
                    f"instead {alternative}",
                )
            ]
    return []


def check_active(p: Prediction, plan: Plan) -> Findings:
    # Counted among sequencers whose blocks get committed and gossiped: one that cannot commit (its
    # conductor is no leader) builds nothing the others see.
    allowed = max(1, len(p.before.producing))
    for index, c in enumerate(p.after_steps, start=1):
        if len(c.producing) > allowed:
            return [
                block(
                    "two_active",
                    f"after {_step_name(plan, index)} {', '.join(sorted(c.producing))} would all sequence, "
                    "so their blocks compete and the chain reorgs; instead stop the others first "
                    "(`start-sequencer` does that as one handover)",
                )
            ]
    return []


def check_unknown(p: Prediction, network: str) -> Findings:
    unknown = {n: kind for n, kind in p.before.unknown.items() if all(s.node != n for s in p.starts)}
    if not p.starts or not unknown:
        return []
    names = ", ".join(sorted(unknown))
    if all(kind == "unreachable" for kind in unknown.values()):
        return [
            warn(
                "sequencer_unknown",
                f"the op-node of {names} refuses connections, so whether it sequences is unknown (not "
                "inactive); the runbook's disaster recovery needs this start, but make sure that host "
                "is really down before approving",
            )
        ]
    return [
        block(
            "sequencer_unknown",
            f"the op-node of {names} did not answer, so it may still be sequencing (unknown, not inactive) "
            "and a start would make two active sequencers; instead stop it yourself "
            f"(`stop-sequencer {network} {sorted(unknown)[0]}` once it answers, or stop its process) "
            "and request again",
        )
    ]


def check_starts(p: Prediction, network: str) -> Findings:
    best = p.before.best
    if best is None:
        return []
    found: Findings = []
    for s in p.starts:
        if s.head is not None and s.head.number < best.number:
            leader = _best_node(p.before)
            found.append(
                block(
                    "start_below_best",
                    f"{s.node} would start at #{s.head.number}, {best.number - s.head.number} blocks below "
                    f"the best known head #{best.number}, and reorg those blocks; instead start "
                    f"{leader or 'the node with the best head'} (`start-sequencer {network} "
                    f"{leader or 'NODE'}`) or wait until {s.node} has synced",
                )
            )
        elif s.given_hash is not None and s.given_hash.lower() != best.hash.lower():
            found.append(
                block(
                    "start_hash_not_best",
                    f"the given hash is not the best known head #{best.number} ({best.hash}): starting "
                    f"{s.node} there would build a competing chain and reorg the blocks above it; instead "
                    f"start {s.node} without --hash once it has synced to #{best.number}",
                )
            )
    return found


def _best_node(c: Cluster) -> str | None:
    best = c.best
    return next((n for n, h in sorted(c.heads.items()) if best is not None and h == best), None)


def check_overrides(p: Prediction, network: str) -> Findings:
    final, before = p.final, p.before
    added = (final.overridden - before.overridden) | (final.node_overridden - before.node_overridden)
    if not added:
        return []
    found: Findings = []
    others = sorted(before.overridden - added)
    if others:
        found.append(
            block(
                "second_override",
                f"{', '.join(others)} already answers leader by override, and a second override makes two "
                "nodes believe they lead (two sequencers); instead clear it first "
                f"(`override-leader {network} {others[0]} --clear`) or continue on {others[0]}",
            )
        )
    marked = sorted(before.node_overridden - added - before.overridden)
    if marked:
        found.append(
            warn(
                "second_override",
                f"this bot set an op-node override on {', '.join(marked)} earlier, which op-node cannot "
                "report and only its restart clears: if it was not restarted, two nodes believe they lead",
            )
        )
    return found


def check_halt(p: Prediction, plan: Plan, *, halting: bool) -> Findings:
    # Judged on the final state: a handover has no producer between its stop and its start.
    final = p.final
    if halting or not p.before.producing or final.producing:
        return []
    return [block("chain_halts", f"after this plan {_halt_reason(p.before, final)}")]


def _halt_reason(before: Cluster, after: Cluster) -> str:
    stopped = sorted(before.producing - after.active)
    names = ", ".join(stopped)
    if stopped and after.leader is None:
        return (
            f"{names} would be stopped by its own control loop, as no node leads raft, so the chain halts; "
            "instead keep its conductor paused until the cluster has a raft leader with quorum again"
        )
    if stopped:
        return (
            f"{names} would stop and {after.leader}'s paused conductor would not start sequencing, so the "
            f"chain halts; instead resume {after.leader}'s conductor first"
        )
    stuck = ", ".join(sorted(after.active))
    return (
        f"{stuck} would keep sequencing but could not commit its blocks, as it would no longer lead raft, "
        "so the chain halts; instead resume the conductors first, so they hand sequencing over with "
        "leadership, or use `start-sequencer` (stop and start as one handover)"
    )


def check_stop_undone(p: Prediction, plan: Plan, network: str) -> Findings:
    if any(s.method == "admin_startSequencer" for s in plan.steps):
        return []
    stops = {s.target for s in plan.steps if s.method == "admin_stopSequencer"}
    restarted = sorted(stops & p.final.active)
    if not restarted:
        return []
    n = restarted[0]
    return [
        block(
            "stop_undone",
            f"{n} leads and its conductor is not paused, so its control loop starts it again right after "
            f"the stop; instead pause it first (`pause {network} {n}`) or move leadership away "
            f"(`transfer-leader {network}`)",
        )
    ]


def check(
    snap: NetworkSnapshot,
    plan: Plan,
    marks: Mapping[str, NodeOverrideMark],
    *,
    halting: bool = False,
) -> Findings:
    """Every invariant the plan would violate, in the order a reader should see them."""
    p = predict(snap, plan, marks)
    quorum = check_quorum(p, plan)
    return [
        *quorum,
        *check_active(p, plan),
        *check_unknown(p, snap.network),
        *check_starts(p, snap.network),
        *check_overrides(p, snap.network),
        # Losing quorum already says the chain halts; one sentence per cause is easier to act on.
        *([] if quorum else check_halt(p, plan, halting=halting)),
        *check_stop_undone(p, plan, snap.network),
    ]
