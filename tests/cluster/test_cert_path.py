"""op-conductor-ops' `config.toml` read in full: `cert_path` reaches HTTPS verification, and the
rollup-boost and builder URLs are kept per sequencer."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.http_pool import HttpPool
from cluster.poller import polling_client
from cluster.rpc import JsonRpcClient, Unreachable
from cluster.topology import Topology
from cluster.topology_file import TopologyError, dump_topology_yaml, load_topology
from tests.fixtures.tls import https_rpc_server, write_config


def test_the_ops_tool_keys_are_read_and_cert_path_is_relative_to_the_file(tmp_path: Path) -> None:
    topology = load_topology(write_config(tmp_path))
    assert topology.cert_path == tmp_path / "certs" / "ca.pem"
    seq = topology.networks["op-sepolia"].sequencers[0]
    assert seq.rollup_boost_rpc_url == "https://seq-0-rollup-boost:5555"
    assert seq.builder_rpc_url == "https://seq-0-builder:8545"
    # Written out in our YAML and read back, nothing is lost.
    again = tmp_path / "clusters.yml"
    again.write_text(dump_topology_yaml(topology))
    assert load_topology(again) == topology


def test_an_empty_cert_path_means_none_as_in_the_ops_tools_example(tmp_path: Path) -> None:
    path = write_config(tmp_path, **{'cert_path = "certs/ca.pem"': 'cert_path = ""'})
    assert load_topology(path).cert_path is None


def test_an_unreadable_bundle_and_a_bad_rollup_boost_url_are_reported(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        **{"certs/ca.pem": "certs/missing.pem", "https://seq-0-rollup-boost:5555": "seq-0-rollup-boost:5555"},
    )
    with pytest.raises(TopologyError) as exc:
        load_topology(path)
    shown = str(exc.value)
    assert "sequencers[0].rollup_boost_rpc_url: URL 'seq-0-rollup-boost:5555' must start with http" in shown
    assert f"cert_path: cannot load the CA bundle '{tmp_path / 'certs' / 'missing.pem'}'" in shown


def test_two_different_rollup_boost_urls_are_a_problem(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        **{'builder_rpc_url = "': 'rollup_boost_rpc_url = "https://other:5555"\nbuilder_rpc_url = "'},
    )
    with pytest.raises(TopologyError, match="rollup_boost_debug_rpc_url and rollup_boost_rpc_url differ"):
        load_topology(path)


async def test_https_endpoints_signed_by_the_bundle_are_trusted_only_with_cert_path(tmp_path: Path) -> None:
    async with https_rpc_server() as url:
        topology = load_topology(write_config(tmp_path, url=url))
        async with polling_client(topology) as http:
            assert await JsonRpcClient(http, 2.0).call(url, "conductor_leader") is True
        without = Topology(networks=topology.networks)
        async with polling_client(without) as http:
            with pytest.raises(Unreachable, match="CERTIFICATE_VERIFY_FAILED"):
                await JsonRpcClient(http, 2.0).call(url, "conductor_leader")
        # The watcher's keep-alive transport trusts the same, and keeps its TLS connection.
        async with HttpPool(topology) as pool:
            rpc = JsonRpcClient(pool.client("op-sepolia"), 2.0)
            assert [await rpc.call(url, "conductor_leader") for _ in range(3)] == [True] * 3
        async with HttpPool(without) as pool:
            with pytest.raises(Unreachable, match="CERTIFICATE_VERIFY_FAILED"):
                await JsonRpcClient(pool.client("op-sepolia"), 2.0).call(url, "conductor_leader")


async def test_without_https_endpoints_the_client_trusts_no_ca_rather_than_none_checked(
    tmp_path: Path,
) -> None:
    # Only http endpoints listed: an https URL reached through this client anyway still fails verification.
    async with https_rpc_server() as url:
        topology = load_topology(write_config(tmp_path))
        plain = Topology(
            networks={
                name: net.model_copy(
                    update={
                        "sequencers": tuple(
                            s.model_copy(
                                update={
                                    "conductor_rpc_url": "http://seq-0:8547",
                                    "node_rpc_url": "http://seq-0:9545",
                                    "rollup_boost_rpc_url": None,
                                    "builder_rpc_url": None,
                                }
                            )
                            for s in net.sequencers
                        )
                    }
                )
                for name, net in topology.networks.items()
            },
            cert_path=topology.cert_path,
        )
        async with polling_client(plain) as http:
            with pytest.raises(Unreachable, match="CERTIFICATE_VERIFY_FAILED"):
                await JsonRpcClient(http, 2.0).call(url, "conductor_leader")
