"""`simulate()`: start networks of simulated sequencers on loopback ports, and inject faults.

    async with simulate(nodes=3) as sim:
        topo = sim.topology()
        await sim.kill("sim-1", "seq-0")
        await sim.advance(5)
        assert sim.network("sim-1").leader_id() != "seq-0"

Virtual mode (default): time moves only in `advance()`, in steps of `STEP` seconds so elections and
blocks happen in order. Realtime mode: a background task advances the model by elapsed * speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import yaml

from cluster.clock import ManualClock
from cluster.topology import NetworkSpec, SequencerSpec, Topology
from sim.config_files import channel_for, clusters_yaml_dict, config_toml
from sim.endpoints import HttpEndpoint
from sim.network import ConfigEntry, SimNetwork
from sim.node import EndpointKind, SimNode
from sim.node_endpoints import NodeEndpoints, open_network
from sim.params import EPSILON, SimParams

logger = logging.getLogger(__name__)

STEP = 0.1
_REALTIME_TICK = 0.05


def _kind(endpoint: str) -> EndpointKind:
    if endpoint == "conductor":
        return "conductor"
    if endpoint == "node":
        return "node"
    raise ValueError(f"endpoint must be 'conductor' or 'node', not {endpoint!r}")


class Simulator:
    """Running simulated networks: the model, its endpoints, and fault injection."""

    def __init__(
        self,
        clock: ManualClock,
        params: SimParams,
        host: str,
        *,
        realtime: bool,
        speed: float,
        step: float = STEP,
    ) -> None:
        self.clock = clock
        self.params = params
        self.host = host
        self.realtime = realtime
        self.speed = speed
        self.step = step
        # Realtime model time starts now; building a thousand networks takes minutes (see run_realtime).
        self._started = time.monotonic()
        self.networks: dict[str, SimNetwork] = {}
        self.endpoints: dict[tuple[str, str], NodeEndpoints] = {}
        self.control: HttpEndpoint | None = None
        self._lock = asyncio.Lock()
        self._stepped = asyncio.Condition()

    # ---- building ----------------------------------------------------------------------------------

    async def build_network(
        self, name: str, *, nodes: int, nonvoters: int, spare: int, fresh: bool
    ) -> SimNetwork:
        net = await open_network(
            name,
            self.clock,
            self.params,
            self.host,
            nodes=nodes,
            nonvoters=nonvoters,
            spare=spare,
            fresh=fresh,
            endpoints=self.endpoints,
        )
        self.networks[name] = net
        return net

    async def close(self) -> None:
        for eps in self.endpoints.values():
            await eps.conductor.close()
            await eps.node.close()
            await eps.raft.close()
            if eps.rollup_boost is not None:
                await eps.rollup_boost.close()
        if self.control is not None:
            await self.control.close()

    # ---- views -------------------------------------------------------------------------------------

    def network(self, name: str) -> SimNetwork:
        try:
            return self.networks[name]
        except KeyError:
            raise KeyError(f"no network {name!r}; have {sorted(self.networks)}") from None

    def node(self, network: str, node: str) -> SimNode:
        return self.network(network).node(node)

    def endpoint(self, network: str, node: str) -> NodeEndpoints:
        self.node(network, node)
        return self.endpoints[(network, node)]

    def calls(self, network: str, method: str) -> dict[str, int]:
        """How many times each node's processes (conductor, op-node, rollup-boost) received `method`."""
        out: dict[str, int] = {}
        for (net, node), eps in self.endpoints.items():
            if net == network:
                boost = eps.rollup_boost.calls[method] if eps.rollup_boost is not None else 0
                count = eps.conductor.calls[method] + eps.node.calls[method] + boost
                if count:
                    out[node] = count
        return out

    @property
    def control_url(self) -> str:
        return self.control.url if self.control is not None else ""

    def topology(self) -> Topology:
        networks: dict[str, NetworkSpec] = {}
        for name, net in self.networks.items():
            specs = []
            for node in net.nodes.values():
                eps = self.endpoints[(name, node.id)]
                specs.append(
                    SequencerSpec(
                        id=node.id,
                        raft_addr=node.raft_addr,
                        conductor_rpc_url=eps.conductor.url,
                        node_rpc_url=eps.node.url,
                        rollup_boost_rpc_url=eps.rollup_boost.url if eps.rollup_boost else None,
                        voting=node.voter,
                        standby=not node.member,
                    )
                )
            channel = channel_for(name)
            networks[name] = NetworkSpec(
                name=name, sequencers=tuple(specs), alert_channel=channel, command_channels=(channel,)
            )
        return Topology(networks=networks)

    def clusters_yaml_dict(self) -> dict[str, Any]:
        return clusters_yaml_dict(self.topology())

    def write_config(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        # libyaml's dumper when present: PyYAML's own takes seconds for hundreds of networks.
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        clusters = yaml.dump(self.clusters_yaml_dict(), Dumper=dumper, sort_keys=False)
        (directory / "clusters.yml").write_text(clusters)
        (directory / "config.toml").write_text(config_toml(self.topology()))
        if self.control is not None:
            (directory / "control_url").write_text(self.control_url + "\n")

    def state(self, network: str | None = None) -> dict[str, Any]:
        nets = [self.network(network)] if network else list(self.networks.values())
        return {"time": self.clock.now(), "realtime": self.realtime, "networks": [n.state() for n in nets]}

    def requests(self, network: str | None = None) -> int:
        """HTTP requests received by the conductor and op-node endpoints (of `network`, or all)."""
        return sum(
            e.conductor.requests + e.node.requests
            for (net, _node), e in self.endpoints.items()
            if network is None or net == network
        )

    # ---- time --------------------------------------------------------------------------------------

    def _step_to(self, seconds: float) -> None:
        remaining = seconds
        while remaining > EPSILON:
            dt = min(self.step, remaining)
            self.clock.advance(dt)
            remaining -= dt
            for net in self.networks.values():
                net.step()

    async def advance(self, seconds: float) -> None:
        """Virtual mode: move time forward `seconds`, stepping every network in small increments."""
        if self.realtime:
            raise RuntimeError("advance() is for virtual time; this simulator runs in real time")
        if seconds < 0:
            raise ValueError("time only moves forward")
        async with self._lock:
            self._step_to(seconds)
        await self._notify_stepped()

    async def _notify_stepped(self) -> None:
        async with self._stepped:
            self._stepped.notify_all()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Real-time mode: wait until a model step makes `predicate` true (bound it with asyncio.timeout)."""
        async with self._stepped:
            await self._stepped.wait_for(predicate)

    def catch_up(self) -> None:
        """Real-time mode: step the model through the time spent building the networks (minutes for
        a thousand), before anyone polls; otherwise it runs that much behind the wall clock and every
        head looks minutes old to a real-time bot."""
        self._step_to((time.monotonic() - self._started) * self.speed)

    async def run_realtime(self) -> None:
        last = time.monotonic()
        # A coarser model step only saves CPU if the loop wakes that rarely too (each wake-up steps
        # every network at least once).
        tick = max(_REALTIME_TICK, self.step / self.speed) if self.step > STEP else _REALTIME_TICK
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            async with self._lock:
                self._step_to((now - last) * self.speed)
            last = now
            await self._notify_stepped()

    # ---- faults ------------------------------------------------------------------------------------

    async def kill(self, network: str, node: str, endpoint: str = "conductor") -> None:
        """The process behind `endpoint` dies: its port refuses connections (and a conductor leaves raft)."""
        kind, eps = _kind(endpoint), self.endpoint(network, node)
        self.network(network).kill(self.node(network, node), kind)
        await eps.http(kind).close()
        if kind == "conductor":
            await eps.raft.close()

    async def revive(
        self, network: str, node: str, endpoint: str = "conductor", *, paused: bool = False
    ) -> None:
        """Restart the process: same ports, in-memory flags (override, paused) reset."""
        kind, eps = _kind(endpoint), self.endpoint(network, node)
        self.network(network).revive(self.node(network, node), kind, paused=paused)
        if kind == "conductor":
            await eps.raft.open()
        await eps.http(kind).open()

    async def restart(
        self,
        network: str,
        node: str,
        *,
        raft_bootstrap: bool = False,
        paused: bool = False,
        sequencer_enabled: bool = False,
    ) -> None:
        """Redeploy both processes with the runbook's env flags: `OP_CONDUCTOR_RAFT_BOOTSTRAP` (bootstrap a
        one-voter raft cluster, only when no configuration exists, as raft refuses otherwise),
        `OP_CONDUCTOR_PAUSED`, `OP_NODE_SEQUENCER_ENABLED` (op-node starts sequencing at once; its blocks
        go through only if its conductor can commit them)."""
        for endpoint in ("node", "conductor"):
            if self.endpoint(network, node).http(endpoint).listening:
                await self.kill(network, node, endpoint)
        net, target = self.network(network), self.node(network, node)
        if raft_bootstrap and not net.config:
            net.config.append(ConfigEntry(target.id, target.raft_addr, True))
            net.config_index += 1
            target.voter = True
        await self.revive(network, node, "node")
        await self.revive(network, node, "conductor", paused=paused)
        if sequencer_enabled:
            target.seq_active = True
            target.last_produced_at = self.clock.now()

    async def hang(self, network: str, node: str, endpoint: str) -> None:
        self.endpoint(network, node).http(endpoint).hang(True)

    async def unhang(self, network: str, node: str, endpoint: str) -> None:
        self.endpoint(network, node).http(endpoint).hang(False)

    async def partition(self, network: str, node: str) -> None:
        self.node(network, node).partitioned = True

    async def heal(self, network: str, node: str) -> None:
        self.node(network, node).partitioned = False

    async def stall(self, network: str, node: str, what: str = "production", on: bool = True) -> None:
        target = self.node(network, node)
        if what == "production":
            target.stall_production = on
        elif what == "sync":
            target.stall_sync = on
        else:
            raise ValueError(f"stall what must be 'production' or 'sync', not {what!r}")

    async def set_sync_rate(self, network: str, node: str, blocks_per_second: float) -> None:
        """How fast the node's op-node catches up when behind (0: at once, the default)."""
        if blocks_per_second < 0:
            raise ValueError("sync rate must be >= 0")
        target = self.node(network, node)
        target.sync_rate, target.sync_credit, target.last_sync_at = blocks_per_second, 0.0, self.clock.now()

    async def set_peers(self, network: str, node: str, peers: int) -> None:
        if peers < 0:
            raise ValueError("peers must be >= 0")
        self.node(network, node).peers = peers

    async def malformed(self, network: str, node: str, endpoint: str, on: bool = True) -> None:
        self.endpoint(network, node).http(endpoint).faults.malformed = on

    async def latency(self, network: str, node: str, endpoint: str, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        self.endpoint(network, node).http(endpoint).faults.latency = seconds

    async def slow_answers(self, network: str, node: str, endpoint: str, seconds: float) -> None:
        """Calls take effect at once but their answers come `seconds` later (a caller may die meanwhile)."""
        if seconds < 0:
            raise ValueError("answer delay must be >= 0")
        self.endpoint(network, node).http(endpoint).faults.answer_delay = seconds

    async def split_brain(self, network: str, node: str) -> None:
        """Make this follower's op-node active behind its conductor's back (two active sequencers)."""
        target = self.node(network, node)
        target.seq_active = True
        target.last_produced_at = self.clock.now()


@contextlib.asynccontextmanager
async def simulate(
    *,
    networks: int = 1,
    nodes: int = 3,
    nonvoters: int = 0,
    spare: int = 0,
    fresh: bool = False,
    first: int = 1,
    step: float = STEP,
    clock: ManualClock | None = None,
    realtime: bool = False,
    speed: float = 1.0,
    block_time: float = 2.0,
    host: str = "127.0.0.1",
    params: SimParams | None = None,
) -> AsyncIterator[Simulator]:
    """Start `networks` networks `sim-<first>..` of `nodes` members (the last `nonvoters` of them
    nonvoters) plus `spare` spares each; yield the running `Simulator`; close every port on exit.
    `first` lets several simulator processes serve disjoint slices of one fleet; `step` is the model's
    time resolution (a benchmark of a thousand networks in real time may coarsen it to spare CPU)."""
    if nodes < 1 or networks < 1 or first < 1 or not 0 <= nonvoters < nodes or spare < 0 or step <= 0:
        raise ValueError(
            "need networks >= 1, first >= 1, nodes >= 1, 0 <= nonvoters < nodes, spare >= 0, step > 0"
        )
    if clock is None:
        clock = ManualClock(time.time()) if realtime else ManualClock()
    sim_params = params if params is not None else SimParams(block_time=block_time)
    sim = Simulator(clock, sim_params, host, realtime=realtime, speed=speed, step=step)
    from sim.control import CONTROL_METHODS

    runner: asyncio.Task[None] | None = None
    try:
        for i in range(first, first + networks):
            await sim.build_network(f"sim-{i}", nodes=nodes, nonvoters=nonvoters, spare=spare, fresh=fresh)
        sim.control = HttpEndpoint("control", host, CONTROL_METHODS, sim)
        await sim.control.open()
        if realtime:
            sim.catch_up()
            runner = asyncio.get_running_loop().create_task(sim.run_realtime())
        logger.info("sim started networks=%d nodes=%d control=%s", networks, nodes, sim.control_url)
        yield sim
    finally:
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        await sim.close()
