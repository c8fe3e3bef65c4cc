"""Drives the pure alert pipeline the way the watcher and notifier will, recording what Slack would see.

Per tick: evaluate rules → observe_network → group_effects, then "execute" the effects: a post gets
a message ts recorded on the alert state, replies and updates are collected. Nothing of ours is faked:
only Slack itself is replaced by lists.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from alerts.burst import group_effects
from alerts.catalog import rule_spec
from alerts.effects import Effect, PostAlert, PostSummary, ThreadReply, UpdateAlert
from alerts.model import AlertState
from alerts.observations import Observation
from alerts.rules import WatchMemory, evaluate
from alerts.state import observe_network, transition
from cluster.snapshot import NodeStatus
from tests.alerts.factories import NET, snap, spec

_STATES = TypeAdapter(dict[str, AlertState])


class Pipeline:
    def __init__(self) -> None:
        self.spec = spec()
        self.states: dict[str, AlertState] = {}
        self.memory = WatchMemory()
        self.network_silenced_until: float | None = None
        self.posts: list[str] = []
        self.summaries: list[tuple[str, ...]] = []
        self.updates: list[str] = []
        self.replies: list[ThreadReply] = []
        self._ts = 0

    def tick(self, nodes: list[NodeStatus], now: float) -> list[Effect]:
        conditions, self.memory = evaluate(snap(nodes, now), self.spec, self.memory, now)
        outcome = observe_network(
            NET,
            conditions,
            self.states,
            now,
            held=self.memory.held,
            network_silenced_until=self.network_silenced_until,
        )
        self.states.update(outcome.changed)
        effects = group_effects(NET, outcome.effects)
        self._execute(effects)
        return effects

    def act(self, fp: str, observation: Observation, now: float) -> list[Effect]:
        state = self.states[fp]
        self.states[fp], effects = transition(state, observation, now, rule_spec(state.rule))
        self._execute(effects)
        return effects

    def restart(self) -> None:
        """What a restart keeps: the JSON in Redis. Everything else is rebuilt from it."""
        self.states = _STATES.validate_json(_STATES.dump_json(self.states))
        self.memory = WatchMemory.model_validate_json(self.memory.model_dump_json())

    def _execute(self, effects: list[Effect]) -> None:
        for e in effects:
            match e:
                case PostAlert():
                    self._ts += 1
                    self.posts.append(e.fingerprint)
                    self.states[e.fingerprint] = self.states[e.fingerprint].posted(
                        "C-ALERTS", f"{self._ts}.0"
                    )
                case PostSummary():
                    self._ts += 1
                    self.summaries.append(e.fingerprints)
                    for fp in e.fingerprints:
                        self.states[fp] = self.states[fp].posted("C-ALERTS", f"{self._ts}.0", shared=True)
                case UpdateAlert():
                    self.updates.append(e.fingerprint)
                case ThreadReply():
                    self.replies.append(e)
