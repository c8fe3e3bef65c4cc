"""The `conductor-bot` command line: one click group whose verbs are imported only when run.

`conductor-bot status NET` is what an operator types when Slack is down, so it must start as fast as
op-conductor-ops does: importing the whole bot first (Bolt, aiohttp, redis, APScheduler, the
simulator) tripled its time. Each verb is therefore named here by module and function only; its module
is imported when that verb runs or its own `--help` is asked for. `conductor-bot --help` lists the
verbs from the short help below without importing any of them. `bench/bench_cli_start.py` measures it.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

from bot.logs import setup_logging


class Verb(NamedTuple):
    """Where a verb's typer function lives, and its one-line help."""

    module: str
    function: str
    help: str


VERBS: dict[str, Verb] = {
    "run": Verb(
        "bot.main", "run_command", "Run the Slack bot (Socket Mode with SLACK_APP_TOKEN, else HTTP)."
    ),
    "status": Verb("bot.status_cli", "status_command", "Show one network's cluster status."),
    "networks": Verb("bot.status_cli", "networks_command", "List configured networks."),
    "check-config": Verb(
        "bot.status_cli", "check_config_command", "Validate a clusters file (YAML or op-conductor-ops TOML)."
    ),
    "check-env": Verb(
        "bot.check_env_cli",
        "check_env_command",
        "Check op-conductor and op-node env files against the runbook and the clusters file.",
    ),
    "audit": Verb("bot.audit_cli", "audit_command", "Show a network's audit trail."),
    "timeline": Verb(
        "bot.timeline_cli", "timeline_command", "Draw a network's recent history as a PNG (--out file.png)."
    ),
    **{
        verb: Verb("bot.terminal_cli", "operation_command", f"{what} (break-glass: no Slack approver).")
        for verb, what in (
            ("pause", "Pause conductors"),
            ("resume", "Resume conductors"),
            ("override-leader", "Set or clear a leader override"),
            ("add-voter", "Add a sequencer to raft as a voter"),
            ("add-nonvoter", "Add a sequencer to raft as a nonvoter"),
            ("remove-server", "Remove a sequencer from raft"),
            ("transfer-leader", "Transfer raft leadership"),
            ("start-sequencer", "Start sequencing on one op-node"),
            ("stop-sequencer", "Stop sequencing on one op-node"),
        )
    },
    "procedure": Verb(
        "bot.procedure_cli",
        "procedure_command",
        "Run a runbook procedure step by step (break-glass: no Slack approver).",
    ),
    "demo": Verb(
        "bot.demo", "demo_command", "Run the simulator, a console stand-in for Slack and the bot together."
    ),
    "sim": Verb("sim.cli", "sim_command", "Run a local simulated op-conductor cluster in the foreground."),
}

HELP = "ChatOps for op-conductor sequencer clusters: Slack bot, status CLI and a local cluster simulator."


def verb_app(name: str) -> typer.Typer:
    """A one-command typer app for verb `name` (importing its module); tests invoke it directly."""
    verb = VERBS[name]
    function = getattr(importlib.import_module(verb.module), verb.function)
    one = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    # Mutating verbs take Slack's words and flags (`--force`, `--hash H`) as plain arguments.
    one.command(name, help=verb.help, context_settings=getattr(function, "context_settings", None))(function)
    return one


def load_verb(name: str) -> TyperCommand:
    """The real command for verb `name` (importing its module)."""
    command = typer.main.get_command(verb_app(name))
    assert isinstance(command, TyperCommand)  # one command and no callback: the command itself
    return command


# Contexts are typed `Any`: typer vendors its own click from 0.29 on, and `click` names another module.
class _LazyVerb(TyperCommand):
    """Stands in for a verb in the group's listing; becomes the real command when invoked."""

    def __init__(self, name: str) -> None:
        super().__init__(name, help=VERBS[name].help)

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        # click runs `sub_ctx.command`, so the returned context carries the real command from here on.
        return load_verb(self.name or "").make_context(info_name, args, parent=parent, **extra)


class LazyGroup(TyperGroup):
    """The root group: lists `VERBS`, imports one only to run it."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(VERBS)

    def get_command(self, ctx: Any, cmd_name: str) -> TyperCommand | None:
        return _LazyVerb(cmd_name) if cmd_name in VERBS else None


def build_cli() -> LazyGroup:
    return LazyGroup(name="conductor-bot", help=HELP, no_args_is_help=True)


def main() -> None:
    # Every command logs through the redacting handler; `run` sets it up again from its settings.
    setup_logging("WARNING")
    build_cli().main(prog_name="conductor-bot")
