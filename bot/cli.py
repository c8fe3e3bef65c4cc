"""The `conductor-bot` command line: one typer app; each command's body lives next to what it drives."""

from __future__ import annotations

import typer

from bot.audit_cli import audit_command
from bot.demo import demo_command
from bot.main import run_command
from bot.status_cli import check_config_command, networks_command, status_command
from sim.cli import sim_command

app = typer.Typer(
    name="conductor-bot",
    help="ChatOps for op-conductor sequencer clusters: Slack bot, status CLI and a local cluster simulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command("run", help="Run the Slack bot (Socket Mode with SLACK_APP_TOKEN, else HTTP).")(run_command)
app.command("status", help="Show one network's cluster status.")(status_command)
app.command("networks", help="List configured networks.")(networks_command)
app.command("check-config", help="Validate a clusters file (YAML or op-conductor-ops TOML).")(
    check_config_command
)
app.command("audit", help="Show a network's audit trail.")(audit_command)
app.command("demo", help="Run the simulator, a console stand-in for Slack and the bot together.")(
    demo_command
)
app.command("sim", help="Run a local simulated op-conductor cluster in the foreground.")(sim_command)


def main() -> None:
    app()
