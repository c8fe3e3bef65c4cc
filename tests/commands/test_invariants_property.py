"""Property: random plans over random simulated clusters never break the chain behind the bot's back.

Each example builds a simulated network, injects random faults (dead conductors or op-nodes, paused
conductors, lagging nodes, an op-node override) and lets it settle, takes a snapshot over HTTP, prepares
a random operation, and when preflight lets it through runs its steps through the same typed clients
as the executor (with its rollback). After the cluster settles again, the simulator's ground truth
must show no more than one sequencer whose blocks reach the chain, no quorum lost, and no start below
the best head, unless preflight warned about that very danger (the catalogue's DR-path warnings).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import JsonValue

from cluster.clock import ManualClock
from cluster.poller import poll_network
from cluster.rpc import JsonRpcClient, RpcError
from cluster.topology import NetworkSpec
from commands import steps
from commands.operations import (
    AddVoter,
    Operation,
    OverrideLeader,
    Pause,
    RemoveServer,
    Resume,
    StartSequencer,
    StopSequencer,
    TransferLeader,
)
from commands.plans import Plan, RpcStep, resolve_params, tolerated
from commands.preflight import prepare
from sim.harness import Simulator, simulate
from sim.network import SimNetwork

NET = "sim-1"
NODES = ("seq-0", "seq-1", "seq-2")
FAULTS = ("none", "none", "conductor_dead", "node_dead", "paused", "lagging")
# Warnings under which the catalogue lets a danger through (the disaster-recovery path).
WARNED = {"two_active": {"sequencer_unknown"}, "quorum": set[str](), "below_best": set[str]()}

DETERMINISTIC = settings(max_examples=35, deadline=None, derandomize=True, database=None)

targets = st.sampled_from(NODES)
operations = st.one_of(
    st.builds(lambda t, f: Pause(network=NET, sequencer=t, force=f), st.none() | targets, st.just(False)),
    st.builds(lambda t, f: Resume(network=NET, sequencer=t, force=f), st.none() | targets, st.booleans()),
    st.builds(
        lambda t, c, n: OverrideLeader(network=NET, sequencer=t, clear=c, node=n and not c),
        targets,
        st.booleans(),
        st.booleans(),
    ),
    st.builds(lambda t: AddVoter(network=NET, sequencer=t), st.sampled_from(("seq-3", *NODES))),
    st.builds(lambda t: RemoveServer(network=NET, sequencer=t), targets),
    st.builds(
        lambda t, f: TransferLeader(network=NET, sequencer=t, force=f), st.none() | targets, st.booleans()
    ),
    st.builds(lambda t: StopSequencer(network=NET, sequencer=t), targets),
    st.builds(lambda t, f: StartSequencer(network=NET, sequencer=t, force=f), targets, st.booleans()),
    # A hash to be filled in with this node's head once the snapshot is taken (see `with_hash`).
    st.builds(
        lambda t, h, f: StartSequencer(
            network=NET, sequencer=t, hash="0x" + "0" * 63 + str(NODES.index(h)), force=f
        ),
        targets,
        targets,
        st.booleans(),
    ),
)
faults = st.tuples(*(st.sampled_from(FAULTS) for _ in NODES))


@dataclass
class Truth:
    committing: list[str]
    quorum: bool
    best: int


def truth(net: SimNetwork) -> Truth:
    """What the simulator knows: sequencers whose blocks get committed, quorum, the best head."""
    committing = [
        n.id
        for n in net.nodes.values()
        if n.node_up and n.seq_active and (n.node_override or (net.leader == n.id and n.in_raft))
    ]
    best = max(n.head.number for n in net.nodes.values() if n.node_up)
    return Truth(committing=committing, quorum=net.has_quorum(), best=best)


async def inject(sim: Simulator, plan: tuple[str, ...]) -> None:
    for node, fault in zip(NODES, plan, strict=True):
        match fault:
            case "conductor_dead":
                await sim.kill(NET, node)
            case "node_dead":
                await sim.kill(NET, node, "node")
            case "paused":
                sim.node(NET, node).paused = True
            case "lagging":
                await sim.stall(NET, node, "sync")
    await sim.advance(30)


async def run_plan(
    http: httpx.AsyncClient, spec: NetworkSpec, plan: Plan, net: SimNetwork, best: int
) -> list[str]:
    """Run the steps as the executor does; returns the starts that began below `best`."""
    stored: dict[str, JsonValue] = {}
    below: list[str] = []

    async def one(step: RpcStep) -> bool:
        seq = spec.sequencer(step.target)
        assert seq is not None
        head = net.node(step.target).head.number
        try:
            value = await steps.call(JsonRpcClient(http, 1.0), seq, step, resolve_params(step, stored))
        except RpcError as e:
            return tolerated(step, e.message)
        if step.method == "admin_startSequencer" and head < best:
            below.append(f"{step.target} started at #{head} below #{best}")
        if step.result_key is not None:
            stored[step.result_key] = value
        return True

    for index, step in enumerate(plan.steps, start=1):
        if not await one(step):
            if index > 1:
                for back in plan.rollback:
                    await one(back)
            break
    return below


def with_hash(op: Operation, net: SimNetwork) -> Operation:
    """A generated `--hash` names a node by its last digit; use that node's current head hash."""
    if not isinstance(op, StartSequencer) or op.hash is None:
        return op
    return op.model_copy(update={"hash": net.node(NODES[int(op.hash[-1])]).head.hash})


async def check_one(fault_plan: tuple[str, ...], ops: list[Operation]) -> None:
    async with simulate(nodes=3, spare=1, clock=ManualClock()) as sim, httpx.AsyncClient() as http:
        await sim.advance(4)
        await inject(sim, fault_plan)
        spec = sim.topology().networks[NET]
        net = sim.network(NET)
        for op in ops:
            snapshot = await poll_network(spec, http, sim.clock, timeout=0.5)
            prepared = prepare(with_hash(op, net), snapshot, spec)
            if prepared.blocked or prepared.plan is None:
                continue
            before = truth(net)
            below = await run_plan(http, spec, prepared.plan, net, before.best)
            await sim.advance(10)
            after = truth(net)
            warned = {f.code for f in prepared.findings if f.level == "warn"}
            context = f"{op.command} on {fault_plan}: {[f.message for f in prepared.findings]}"
            if len(after.committing) > max(1, len(before.committing)):
                assert warned & WARNED["two_active"], f"two active {after.committing} after {context}"
            if before.quorum and not after.quorum:
                assert warned & WARNED["quorum"], f"quorum lost after {context}"
            assert not below or warned & WARNED["below_best"], f"{below} after {context}"


@DETERMINISTIC
@given(fault_plan=faults, ops=st.lists(operations, min_size=1, max_size=4))
def test_no_executed_plan_breaks_the_chain_unless_warned(
    fault_plan: tuple[str, ...], ops: list[Operation]
) -> None:
    asyncio.run(check_one(fault_plan, ops))
