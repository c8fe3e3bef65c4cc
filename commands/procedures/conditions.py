"""The conditions a procedure waits for: pure observations of one snapshot, with a live number.

`observe(snapshot, baseline)` says whether the condition holds, the number that shows progress (a
lag in blocks, a head height) and what it means in words; `live(...)` turns the number's path since
the wait began into the checklist's text ("lag 120 → 15 blocks").
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from cluster.snapshot import VOTER, NetworkSnapshot


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Observation(_Frozen):
    """One look at a wait's condition: met or not, the live number, and what it means in words."""

    met: bool
    value: int | None = None
    text: str


# --- conditions -------------------------------------------------------------------------------------


class Synced(_Frozen):
    kind: Literal["synced"] = "synced"
    sequencer: str
    max_lag: int

    @property
    def description(self) -> str:
        return f"{self.sequencer} within {self.max_lag} blocks of the best head"

    def observe(self, snap: NetworkSnapshot, baseline: int | None) -> Observation:
        node = snap.node(self.sequencer)
        lag = snap.lag.get(self.sequencer)
        if node is None or not node.node_reachable or lag is None:
            return Observation(met=False, text=f"{self.sequencer}'s op-node does not answer")
        return Observation(met=lag.blocks <= self.max_lag, value=lag.blocks, text=f"lag {lag.blocks} blocks")


class InMembership(_Frozen):
    kind: Literal["in_membership"] = "in_membership"
    sequencer: str
    suffrage: int

    @property
    def description(self) -> str:
        word = "voter" if self.suffrage == VOTER else "nonvoter"
        return f"{self.sequencer} in the leader's membership as a {word}"

    def observe(self, snap: NetworkSnapshot, baseline: int | None) -> Observation:
        servers = snap.membership.servers if snap.membership is not None else None
        member = next((s for s in servers or () if s.id == self.sequencer), None)
        if member is None:
            return Observation(met=False, text=f"{self.sequencer} not in the membership yet")
        return Observation(met=member.suffrage == self.suffrage, text=f"{self.sequencer} is a member")


class NotInMembership(_Frozen):
    kind: Literal["not_in_membership"] = "not_in_membership"
    sequencer: str

    @property
    def description(self) -> str:
        return f"{self.sequencer} out of the leader's membership"

    def observe(self, snap: NetworkSnapshot, baseline: int | None) -> Observation:
        if snap.membership is None or snap.membership.servers is None:
            return Observation(met=False, text="membership unknown")
        gone = all(s.id != self.sequencer for s in snap.membership.servers)
        return Observation(met=gone, text=f"{self.sequencer} {'removed' if gone else 'still a member'}")


class Leads(_Frozen):
    kind: Literal["leads"] = "leads"
    sequencer: str

    @property
    def description(self) -> str:
        return f"{self.sequencer} leads"

    def observe(self, snap: NetworkSnapshot, baseline: int | None) -> Observation:
        leads = snap.raft_leader_id == self.sequencer
        return Observation(met=leads, text=f"leader: {snap.raft_leader_id or 'none'}")


class AllAnswer(_Frozen):
    """Every listed node's conductor and op-node answer."""

    kind: Literal["all_answer"] = "all_answer"
    sequencers: tuple[str, ...]

    @property
    def description(self) -> str:
        return f"{', '.join(self.sequencers)} all answer"

    def observe(self, snap: NetworkSnapshot, baseline: int | None) -> Observation:
        silent = [
            s
            for s in self.sequencers
            if (n := snap.node(s)) is None or not (n.conductor_reachable and n.node_reachable)
        ]
        answering = len(self.sequencers) - len(silent)
        text = f"{answering}/{len(self.sequencers)} answer" + (
            f" (not: {', '.join(silent)})" if silent else ""
        )
        return Observation(met=not silent, value=answering, text=text)


class AllSynced(_Frozen):
    kind: Literal["all_synced"] = "all_synced"
    sequencers: tuple[str, ...]
    max_lag: int

    @property
    def description(self) -> str:
        return f"every node within {self.max_lag} blocks of the best head"

    def observe(self, snap: NetworkSnapshot, baseline: int | None) -> Observation:
        lags = {s: snap.lag[s].blocks if s in snap.lag else None for s in self.sequencers}
        behind = [f"{s} {'?' if b is None else b}" for s, b in lags.items() if b is None or b > self.max_lag]
        worst = max((b for b in lags.values() if b is not None), default=0)
        text = f"worst lag {worst} blocks" + (f" (behind: {', '.join(behind)})" if behind else "")
        return Observation(met=not behind, text=text)


class AllRunning(_Frozen):
    kind: Literal["all_running"] = "all_running"
    sequencers: tuple[str, ...]

    @property
    def description(self) -> str:
        return "every conductor active and healthy"

    def observe(self, snap: NetworkSnapshot, baseline: int | None) -> Observation:
        waiting = [
            s
            for s in self.sequencers
            if (n := snap.node(s)) is None or n.paused is not False or n.healthy is not True
        ]
        text = "all active and healthy" if not waiting else f"not yet: {', '.join(waiting)}"
        return Observation(met=not waiting, text=text)


class IsActive(_Frozen):
    kind: Literal["is_active"] = "is_active"
    sequencer: str

    @property
    def description(self) -> str:
        return f"{self.sequencer} already sequences"

    def observe(self, snap: NetworkSnapshot, baseline: int | None) -> Observation:
        active = self.sequencer in snap.active_sequencers
        return Observation(met=active, text=f"active: {', '.join(snap.active_sequencers) or 'none'}")


class UnsafeToStart(_Frozen):
    """The ops tool's bootstrap check, inverted: the leader's conductor runs, or another node sequences."""

    kind: Literal["unsafe_to_start"] = "unsafe_to_start"
    sequencer: str

    @property
    def description(self) -> str:
        return f"{self.sequencer}'s conductor is not paused, or another node sequences"

    def observe(self, snap: NetworkSnapshot, baseline: int | None) -> Observation:
        node = snap.node(self.sequencer)
        others = [a for a in snap.active_sequencers if a != self.sequencer]
        unsafe = node is None or node.paused is not True or bool(others)
        return Observation(
            met=unsafe, text=f"paused: {node.paused if node else None}; others active: {others}"
        )


class ConductorRunning(_Frozen):
    """The conductor answers, is not paused and reports its sequencer healthy."""

    kind: Literal["conductor_running"] = "conductor_running"
    sequencer: str

    @property
    def description(self) -> str:
        return f"{self.sequencer}'s conductor active and healthy"

    def observe(self, snap: NetworkSnapshot, baseline: int | None) -> Observation:
        node = snap.node(self.sequencer)
        if node is None or not node.conductor_reachable:
            return Observation(met=False, text=f"{self.sequencer}'s conductor does not answer")
        met = node.paused is False and node.healthy is True
        return Observation(met=met, text="active and healthy" if met else "paused or not healthy yet")


class Answers(_Frozen):
    """Both processes of the sequencer answer again (after a restart done by a human)."""

    kind: Literal["answers"] = "answers"
    sequencer: str
    max_lag: int

    @property
    def description(self) -> str:
        return f"{self.sequencer} answers and is within {self.max_lag} blocks of the best head"

    def observe(self, snap: NetworkSnapshot, baseline: int | None) -> Observation:
        node = snap.node(self.sequencer)
        if node is None or not (node.conductor_reachable and node.node_reachable):
            return Observation(met=False, text=f"{self.sequencer} does not answer yet")
        return Synced(sequencer=self.sequencer, max_lag=self.max_lag).observe(snap, baseline)


class BlocksFlow(_Frozen):
    """`sequencer` is the one active sequencer and the best head moved `blocks` past where the wait began."""

    kind: Literal["blocks_flow"] = "blocks_flow"
    sequencer: str
    blocks: int

    @property
    def description(self) -> str:
        return f"{self.sequencer} produces blocks ({self.blocks} new ones)"

    def observe(self, snap: NetworkSnapshot, baseline: int | None) -> Observation:
        best = snap.best_unsafe
        if best is None:
            return Observation(met=False, text="no node reports a head")
        start = best.number if baseline is None else baseline
        new = best.number - start
        met = snap.active_sequencers == (self.sequencer,) and new >= self.blocks
        return Observation(met=met, value=best.number, text=f"head #{best.number} ({new} new)")


class NothingActive(_Frozen):
    kind: Literal["nothing_active"] = "nothing_active"

    @property
    def description(self) -> str:
        return "no sequencer active"

    def observe(self, snap: NetworkSnapshot, baseline: int | None) -> Observation:
        active = snap.active_sequencers
        return Observation(met=not active, text=f"active: {', '.join(active) or 'none'}")


class NoConductorAnswers(_Frozen):
    kind: Literal["no_conductor_answers"] = "no_conductor_answers"

    @property
    def description(self) -> str:
        return "no conductor answers"

    def observe(self, snap: NetworkSnapshot, baseline: int | None) -> Observation:
        alive = [n.id for n in snap.nodes if n.conductor_reachable]
        return Observation(met=not alive, text=f"answering: {', '.join(alive) or 'none'}")


Condition = Annotated[
    Synced
    | AllAnswer
    | AllSynced
    | AllRunning
    | IsActive
    | UnsafeToStart
    | InMembership
    | NotInMembership
    | Leads
    | ConductorRunning
    | Answers
    | BlocksFlow
    | NothingActive
    | NoConductorAnswers,
    Field(discriminator="kind"),
]


def live(obs: Observation, first: int | None) -> str:
    """A wait's live text: the number's path since the wait began when it has one ("lag 120 → 15 blocks")."""
    if obs.value is None or first is None or first == obs.value or not obs.text.startswith("lag "):
        return obs.text
    return f"lag {first} → {obs.value} blocks"
