"""One fleet served by several simulator processes (`bench.simproc`), as the scale benchmarks run it."""

from __future__ import annotations

import httpx
import pytest

from bench.simproc import sim_process, slices
from cluster.topology_file import load_topology
from sim.harness import simulate
from tests.sim.rpc import call


def test_slices_cover_every_network_once_in_near_equal_parts() -> None:
    assert slices(10, 3) == [(1, 4), (5, 3), (8, 3)]
    assert slices(2, 5) == [(1, 1), (2, 1)]
    assert slices(7, 1) == [(1, 7)]


async def test_first_numbers_a_slice_of_networks() -> None:
    async with simulate(networks=2, nodes=1, first=5) as sim:
        assert list(sim.topology().networks) == ["sim-5", "sim-6"]


async def test_faults_reach_the_process_serving_the_network_and_counters_add_up() -> None:
    async with sim_process(networks=4, nodes=1, processes=2) as sim:
        assert len(set(sim.pids)) == 2
        assert list(sim.topology.networks) == ["sim-1", "sim-2", "sim-3", "sim-4"]
        assert load_topology(sim.clusters_path) == sim.topology
        urls = {n: s.sequencers[0].conductor_rpc_url for n, s in sim.topology.networks.items()}
        for url in urls.values():
            assert await call(url, "conductor_leader") is True

        await sim.control("sim_kill", "sim-4", "seq-0")  # served by the second process
        with pytest.raises(httpx.ConnectError):
            await call(urls["sim-4"], "conductor_leader")
        assert await call(urls["sim-1"], "conductor_leader") is True
        # 4 answered calls, then one refused (no request reached a process) and one more answered
        assert await sim.requests() == 5
        assert await sim.requests("sim-1") == 2
