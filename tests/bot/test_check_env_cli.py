"""`conductor-bot check-env` as an operator runs it: messages on stderr, exit codes as `check-config`."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer
from typer.testing import CliRunner, Result

from bot.check_env_cli import check_env_command

EXAMPLE = Path(__file__).parents[2] / "examples" / "env"

app = typer.Typer()
app.command("check-env")(check_env_command)
app.command("noop")(lambda: None)  # two commands: the verb is then named on the command line


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["check-env", *args], env={"COLUMNS": "250", "CONDUCTOR_BOT_CLUSTERS": ""})


def test_the_example_passes_with_exit_0() -> None:
    result = run(str(EXAMPLE), "--clusters", str(EXAMPLE / "clusters.yml"))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "3 node(s) of op-sepolia: valid"


def test_problems_go_to_stderr_with_file_and_line_and_exit_3(tmp_path: Path) -> None:
    root = tmp_path / "env"
    shutil.copytree(EXAMPLE, root)
    conductor = root / "seq-1" / "op-conductor.env"
    conductor.write_text(
        conductor.read_text().replace("OP_CONDUCTOR_RAFT_BOOTSTRAP=false", "OP_CONDUCTOR_RAFT_BOOTSTRAP=true")
    )
    result = run(str(root), "--clusters", str(root / "clusters.yml"))
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        f"{conductor}:20: OP_CONDUCTOR_RAFT_BOOTSTRAP: OP_CONDUCTOR_RAFT_BOOTSTRAP is still true on a node"
        " of a formed cluster (hint: set it to false so a redeploy does not bootstrap again"
        " (runbook: bootstrap, step 5))",
        "3 node(s) of op-sepolia: invalid (1 problem(s))",
    ]
    # The same files are right for bootstrapping a new cluster from seq-1.
    assert run(str(root), "--clusters", str(root / "clusters.yml"), "--new-cluster").exit_code == 0


def test_usage_errors_exit_3(tmp_path: Path) -> None:
    clusters = str(EXAMPLE / "clusters.yml")
    assert "no clusters file" in run(str(EXAMPLE)).stderr
    unknown = run(str(EXAMPLE), "--clusters", clusters, "--network", "op-mainnet")
    assert unknown.exit_code == 3 and "unknown network 'op-mainnet'" in unknown.stderr
    empty = run(str(tmp_path), "--clusters", clusters)
    assert empty.exit_code == 3 and "no env files found" in empty.stderr
