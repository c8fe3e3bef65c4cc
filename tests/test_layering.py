"""The pure core stays pure: the modules that decide (snapshots, rules, alert and approval state
machines, plans, preflight, Block Kit builders) import no I/O library, so they are tested without a
network and can never block the event loop or talk to Slack behind the caller's back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = [
    "cluster/clock.py",
    "cluster/snapshot.py",
    "cluster/health.py",
    "cluster/conditions.py",
    "cluster/topology.py",
    "alerts/model.py",
    "alerts/catalog.py",
    "alerts/rules.py",
    "alerts/state.py",
    "alerts/observations.py",
    "alerts/effects.py",
    "alerts/burst.py",
    "alerts/blocks.py",
    "alerts/texts.py",
    "alerts/ids.py",
    "commands/operations.py",
    "commands/args.py",
    "commands/plans.py",
    "commands/plan_builders.py",
    "commands/preflight.py",
    "commands/start_checks.py",
    "commands/checks.py",
    "commands/approval.py",
    "commands/approval_blocks.py",
    "commands/status_blocks.py",
    "commands/ids.py",
]
FORBIDDEN = ("slack_bolt", "slack_sdk", "redis", "httpx", "apscheduler", "aiohttp", "starlette", "uvicorn")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_io_library(module: str) -> None:
    offending = sorted(name for name in imported_modules(ROOT / module) if name.split(".")[0] in FORBIDDEN)
    assert offending == [], f"{module} imports {offending}"


def test_the_check_sees_imports() -> None:
    assert "redis.asyncio" in imported_modules(ROOT / "store/gateway.py")
