"""The files `write_config` produces load with the bot's own topology loader."""

from __future__ import annotations

from pathlib import Path

from cluster.topology_file import load_topology
from sim.harness import simulate


async def test_written_clusters_yml_and_config_toml_load(tmp_path: Path) -> None:
    async with simulate(networks=2, nodes=3, nonvoters=1, spare=1) as sim:
        sim.write_config(tmp_path)
        topology = sim.topology()
    assert load_topology(tmp_path / "clusters.yml") == topology
    net = topology.networks["sim-2"]
    assert [(s.id, s.voting) for s in net.sequencers] == [
        ("seq-0", True),
        ("seq-1", True),
        ("seq-2", False),
        ("seq-3", True),  # the spare is listed as the voter it is meant to become
    ]
    assert net.alert_channel == "C0SIM2"
    from_toml = load_topology(tmp_path / "config.toml")
    toml_net = from_toml.networks["sim-2"]
    # op-conductor-ops needs names unique across networks, so its sections carry the network prefix.
    assert [s.id for s in toml_net.sequencers] == ["sim-2-seq-0", "sim-2-seq-1", "sim-2-seq-2", "sim-2-seq-3"]
    assert [s.conductor_rpc_url for s in toml_net.sequencers] == [s.conductor_rpc_url for s in net.sequencers]
    assert (tmp_path / "control_url").read_text().startswith("http://127.0.0.1:")
