"""The rehearsal page's side of the simulator: its control API, the fault buttons and the scenarios.

Everything goes through the simulator's JSON-RPC control namespace (`sim/control.py`), as a team's own
tooling would, so the page can only do what that API allows. The fault buttons are a fixed table
(`FAULTS`): the page names an entry and a node, never a method.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger(__name__)

CONTROL_TIMEOUT = 5.0


class ControlError(Exception):
    """The control API refused a call (bad node, wrong state); the message is shown on the page."""


class Control:
    """A JSON-RPC client for the simulator's control API."""

    def __init__(self, url: str, network: str) -> None:
        self.url = url
        self.network = network
        self._ids = itertools.count(1)
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(CONTROL_TIMEOUT))

    async def close(self) -> None:
        await self._http.aclose()

    async def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        try:
            response = await self._http.post(self.url, json=body)
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ControlError(f"simulator control API unreachable: {type(exc).__name__}") from None
        if answer.get("error"):
            raise ControlError(str(answer["error"].get("message", "error")))
        return answer.get("result")

    async def state(self) -> dict[str, Any]:
        """This network's `sim_state`: leader, term, config and per-node flags."""
        result = await self.call("sim_state", self.network)
        return dict(result["networks"][0])


@dataclass(frozen=True)
class Fault:
    label: str
    method: str
    extra: tuple[Any, ...] = ()


FAULTS: dict[str, Fault] = {
    "kill-conductor": Fault("Kill conductor", "sim_kill", ("conductor",)),
    "revive-conductor": Fault("Revive conductor", "sim_revive", ("conductor",)),
    "kill-node": Fault("Kill op-node", "sim_kill", ("node",)),
    "revive-node": Fault("Revive op-node", "sim_revive", ("node",)),
    "hang-conductor": Fault("Hang conductor", "sim_hang", ("conductor",)),
    "unhang-conductor": Fault("Unhang conductor", "sim_unhang", ("conductor",)),
    "hang-node": Fault("Hang op-node", "sim_hang", ("node",)),
    "unhang-node": Fault("Unhang op-node", "sim_unhang", ("node",)),
    "partition": Fault("Partition", "sim_partition"),
    "heal": Fault("Heal partition", "sim_heal"),
    "stall-production": Fault("Stall production", "sim_stall", ("production", True)),
    "resume-production": Fault("Resume production", "sim_stall", ("production", False)),
    "stall-sync": Fault("Stall sync", "sim_stall", ("sync", True)),
    "resume-sync": Fault("Resume sync", "sim_stall", ("sync", False)),
    "split-brain": Fault("Split brain", "sim_splitBrain"),
}


async def inject(control: Control, fault: str, node: str) -> None:
    entry = FAULTS.get(fault)
    if entry is None:
        raise ControlError(f"unknown fault {fault!r}")
    await control.call(entry.method, control.network, node, *entry.extra)
    logger.info("rehearsal fault=%s node=%s", fault, node)


async def heal_all(control: Control) -> dict[str, Any]:
    """Undo every fault the panel can inject and restart paused member conductors (a restart resumes
    them, as after a redeploy without OP_CONDUCTOR_PAUSED); membership changes stay as they are."""
    for node in (await control.state())["nodes"]:
        nid = node["id"]
        if node["member"] and node["conductor_up"] and node["paused"]:
            await control.call("sim_kill", control.network, nid, "conductor")
            node["conductor_up"] = False
        for kind, up in (("node", node["node_up"]), ("conductor", node["conductor_up"])):
            if not up:
                await control.call("sim_revive", control.network, nid, kind, not node["member"])
            elif node["faults"][kind]["hung"]:
                await control.call("sim_unhang", control.network, nid, kind)
        if node["partitioned"]:
            await control.call("sim_heal", control.network, nid)
        for what in ("production", "sync"):
            if node[f"stall_{what}"]:
                await control.call("sim_stall", control.network, nid, what, False)
    return await control.state()


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    goal: str


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "leader-dies",
        "Leader's conductor dies",
        "The leader's op-conductor ({leader}) just died. Watch the alerts arrive, find the new leader "
        "with `/conductor status {network}`, acknowledge the alert, then revive {leader}'s conductor "
        "from the panel and check that every voter is healthy again.",
    ),
    Scenario(
        "quorum-lost",
        "Two of three conductors lost — recover",
        "The conductors of {leader} and {other} are gone: raft has no quorum and nothing can elect a "
        "leader. Follow the runbook's disaster recovery with the bot, each step approved by a second "
        "person: `/conductor pause {network} {survivor}`, `/conductor override-leader {network} "
        "{survivor}`, `/conductor start-sequencer {network} {survivor}`; then revive the dead "
        "conductors from the panel.",
    ),
    Scenario(
        "add-sequencer",
        "Add a sequencer",
        "{spare} is a synced standby outside the raft cluster, its conductor paused. Add it: "
        "`/conductor add-voter {network} {spare}`, approved by a second person; check the membership "
        "in the panel; then `/conductor resume {network} {spare}`.",
    ),
    Scenario(
        "redeploy",
        "Redeploy a sequencer",
        "{follower} was just redeployed: both processes restarted with its conductor paused "
        "(OP_CONDUCTOR_PAUSED=true). Check it has caught up (`/conductor status {network}`), then "
        "`/conductor resume {network} {follower}`, approved by a second person.",
    ),
)


async def set_up(control: Control, scenario_id: str) -> dict[str, str]:
    """Heal the cluster, then break it as the scenario says; returns the scenario with its goal filled in."""
    scenario = next((s for s in SCENARIOS if s.id == scenario_id), None)
    if scenario is None:
        raise ControlError(f"unknown scenario {scenario_id!r}")
    state = await heal_all(control)
    net = control.network
    members = [n["id"] for n in state["nodes"] if n["member"]]
    spares = [n["id"] for n in state["nodes"] if not n["member"]]
    leader = state["leader"] or members[0]
    followers = [m for m in members if m != leader]
    names = {
        "network": net,
        "leader": leader,
        "other": followers[0] if followers else leader,
        "survivor": followers[-1] if followers else leader,
        "follower": followers[-1] if followers else leader,
        "spare": spares[0] if spares else "a new sequencer",
    }
    if scenario.id == "leader-dies":
        await control.call("sim_kill", net, leader, "conductor")
    elif scenario.id == "quorum-lost":
        await control.call("sim_kill", net, leader, "conductor")
        await control.call("sim_kill", net, names["other"], "conductor")
    elif scenario.id == "redeploy":
        follower = names["follower"]
        for kind in ("conductor", "node"):
            await control.call("sim_kill", net, follower, kind)
        await control.call("sim_revive", net, follower, "node")
        await control.call("sim_revive", net, follower, "conductor", True)
    logger.info("rehearsal scenario=%s", scenario.id)
    return {"id": scenario.id, "title": scenario.title, "goal": scenario.goal.format(**names)}
