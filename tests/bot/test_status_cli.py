"""`conductor-bot status / networks / check-config` as an operator runs them: output and exit codes."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from bot.status_cli import check_config_command, networks_command, status_command
from cluster.clock import ManualClock
from cluster.topology_file import dump_topology_yaml
from sim.harness import Simulator, simulate
from tests.fixtures.tls import https_rpc_server, write_config

DATA = Path(__file__).parent.parent / "data" / "clusters"

app = typer.Typer()
app.command("status")(status_command)
app.command("networks")(networks_command)
app.command("check-config")(check_config_command)


def run(*args: str, rpc_timeout: float = 1.0) -> Result:
    env = {"COLUMNS": "250", "CONDUCTOR_BOT_RPC_TIMEOUT": str(rpc_timeout), "CONDUCTOR_BOT_CLUSTERS": ""}
    return CliRunner().invoke(app, list(args), env=env)


@pytest.fixture
async def live_sim(tmp_path: Path) -> AsyncIterator[tuple[Simulator, Path]]:
    # Heads stamped with wall-clock time: the CLI judges head age against the system clock.
    async with simulate(networks=1, nodes=3, clock=ManualClock(time.time())) as sim:
        await sim.advance(4)
        path = tmp_path / "clusters.yaml"
        path.write_text(dump_topology_yaml(sim.topology()))
        yield sim, path


async def test_status_of_a_healthy_cluster_prints_the_table_and_exits_0(
    live_sim: tuple[Simulator, Path],
) -> None:
    _, path = live_sim
    result = await asyncio.to_thread(run, "status", "sim-1", "--clusters", str(path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("sequencer" in line and "conductor" in line and "unsafe head" in line for line in lines)
    row0 = next(line for line in lines if "seq-0" in line)
    assert "active" in row0 and row0.count("yes") == 3  # leader, healthy, sequencing
    assert lines[-1] == "healthy"


async def test_status_json_and_degraded_exit_code(live_sim: tuple[Simulator, Path]) -> None:
    sim, path = live_sim
    await sim.kill("sim-1", "seq-2", "node")
    result = await asyncio.to_thread(run, "status", "sim-1", "--json", "--clusters", str(path))
    assert result.exit_code == 1, result.output
    snap = json.loads(result.output)
    assert snap["verdict"] == "degraded" and snap["leaders"] == ["seq-0"]
    errors = snap["nodes"][2]["errors"]
    assert [(e["endpoint"], e["kind"], e["method"]) for e in errors] == [("node", "unreachable", None)]


async def test_status_with_the_leaders_conductor_dead_is_degraded_not_a_lost_leader(
    live_sim: tuple[Simulator, Path],
) -> None:
    sim, path = live_sim
    await sim.kill("sim-1", "seq-0", "conductor")
    result = await asyncio.to_thread(run, "status", "sim-1", "--clusters", str(path))
    # The alerts say node_unreachable for this too: the followers still name seq-0, which sequences.
    assert result.exit_code == 1, result.output
    assert "[warning] node_unreachable: seq-0: conductor unreachable" in result.output
    assert "no_leader unknown (the followers name seq-0, whose conductor does not answer)" in result.output
    assert "Traceback" not in result.output


async def test_status_with_no_leader_exits_2(live_sim: tuple[Simulator, Path]) -> None:
    sim, path = live_sim
    for node in ("seq-1", "seq-2"):
        await sim.kill("sim-1", node, "conductor")
    await sim.advance(10)
    assert sim.network("sim-1").leader_id() is None
    result = await asyncio.to_thread(run, "status", "sim-1", "--clusters", str(path))
    assert result.exit_code == 2, result.output
    assert "[critical] no_leader: no conductor reports leadership (1 of 3 conductors answer)" in result.output
    assert "Traceback" not in result.output


def test_unknown_network_is_a_usage_error_naming_the_known_ones() -> None:
    result = run("status", "op-mainnet", "--clusters", str(DATA / "valid.yaml"))
    assert result.exit_code == 3
    assert "unknown network 'op-mainnet'; configured: devnet, op-sepolia" in result.output


def test_missing_clusters_file_and_bad_file_are_usage_errors() -> None:
    result = run("status", "sim-1")
    assert result.exit_code == 3
    assert "no clusters file: pass --clusters FILE or set CONDUCTOR_BOT_CLUSTERS" in result.output
    result = run("status", "net", "--clusters", str(DATA / "malformed" / "no_voter.yaml"))
    assert result.exit_code == 3
    assert "networks.net.sequencers: no voter" in result.output
    assert "Traceback" not in result.output


def test_networks_lists_each_network() -> None:
    result = run("networks", "--clusters", str(DATA / "valid.yaml"))
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "op-sepolia" in line)
    assert "seq-0, seq-1, seq-2" in row and "C0123456789" in row


def test_check_config_valid_file_exits_0_with_warnings_shown() -> None:
    result = run("check-config", str(DATA / "valid.toml"))
    assert result.exit_code == 0, result.output
    assert "valid (1 network(s), 3 sequencer(s))" in result.output
    assert "warning:" in result.output and "2 voters" in result.output


def test_check_config_invalid_file_lists_every_problem_and_exits_3() -> None:
    result = run("check-config", str(DATA / "malformed" / "duplicate_id.yaml"))
    assert result.exit_code == 3
    assert (
        "duplicate_id.yaml:4: networks.net.sequencers[0].id: duplicate sequencer id 'seq-0'" in result.output
    )
    assert "duplicate_id.yaml:5: networks.net.sequencers[1].id" in result.output
    assert "invalid (2 problem(s))" in result.output


CLI = (
    "import typer; from bot.status_cli import status_command; "
    "app = typer.Typer(); app.command()(status_command); app()"
)


async def test_watch_refreshes_until_ctrl_c_then_exits_with_the_last_verdict(
    live_sim: tuple[Simulator, Path],
) -> None:
    sim, path = live_sim
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLI,
        "sim-1",
        "--watch",
        "--json",
        "--interval",
        "0.1",
        "--clusters",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        first = json.loads(await asyncio.wait_for(proc.stdout.readline(), 15))
        await sim.kill("sim-1", "seq-1", "node")
        second: dict[str, object] = {}
        for _ in range(50):  # the poll in flight when we killed the node may still see it up
            second = json.loads(await asyncio.wait_for(proc.stdout.readline(), 5))
            if second["verdict"] != "healthy":
                break
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 5)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert first["verdict"] == "healthy"
    assert second["verdict"] == "degraded"
    assert code == 1
    stderr = await proc.stderr.read() if proc.stderr else b""
    assert b"Traceback" not in stderr


async def test_status_trusts_https_endpoints_signed_by_the_clusters_files_cert_path(tmp_path: Path) -> None:
    # The test server answers `true` to everything: enough to tell a TLS failure from an answer.
    async with https_rpc_server() as url:
        path = write_config(tmp_path, url=url)
        # TLS handshakes with a server on this test's own event loop: seconds on a busy machine, and no
        # step here waits out the timeout, so a generous one costs nothing.
        status = ("status", "op-sepolia", "--clusters", str(path), "--json")
        result = await asyncio.to_thread(run, *status, rpc_timeout=10.0)
        node = json.loads(result.output)["nodes"][0]
        assert node["leader"] is True and node["sequencer_active"] is True
        assert {e["kind"] for e in node["errors"]} == {"malformed"}
        path.write_text(path.read_text().replace('cert_path = "certs/ca.pem"', ""))
        result = await asyncio.to_thread(run, *status, rpc_timeout=10.0)
        node = json.loads(result.output)["nodes"][0]
        assert node["leader"] is None
        assert {e["kind"] for e in node["errors"]} == {"unreachable"}
        assert "CERTIFICATE_VERIFY_FAILED" in node["errors"][0]["message"]
