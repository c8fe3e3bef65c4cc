"""Judge a plan by the cluster it leaves behind: check named invariants on every predicted state.

`commands.prediction` predicts the cluster after each step of a plan, control loops included; `check`
applies the invariants below to those states. Each violated one becomes a finding whose message gives
the reason in one sentence and the manual alternative.

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
"""

from __future__ import annotations

from collections.abc import Mapping

from cluster.snapshot import NetworkSnapshot
from commands.checks import Findings, block, warn
from commands.plans import Plan
from commands.prediction import Cluster, Prediction, predict
from store.marks import NodeOverrideMark

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
