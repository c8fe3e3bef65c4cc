"""`python -m sim`: the same as `conductor-bot sim`, usable before the bot CLI is wired."""

from __future__ import annotations

import typer

from sim.cli import sim_command

if __name__ == "__main__":
    typer.run(sim_command)
