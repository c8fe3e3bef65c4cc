"""`conductor-bot sim`: run simulated networks in the foreground, in real time, until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import typer
from rich.console import Console

from sim.harness import STEP, Simulator, simulate


def print_endpoints(sim: Simulator, console: Console) -> None:
    # Plain lines rather than a table: URLs must survive narrow terminals and copy-paste intact.
    for name, spec in sim.topology().networks.items():
        for s in spec.sequencers:
            role = "voter" if s.voting else "nonvoter"
            urls = f"conductor={s.conductor_rpc_url} node={s.node_rpc_url}"
            console.print(f"{name} {s.id} {role} raft={s.raft_addr} {urls}", soft_wrap=True)
    console.print(f"control: {sim.control_url}")


async def run_foreground(
    *,
    networks: int,
    nodes: int,
    nonvoters: int,
    spare: int,
    fresh: bool,
    write_config: Path | None,
    block_time: float,
    speed: float,
    host: str,
    first: int = 1,
    step: float = STEP,
    quiet: bool = False,
) -> None:
    console = Console(highlight=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with simulate(
            networks=networks,
            nodes=nodes,
            nonvoters=nonvoters,
            spare=spare,
            fresh=fresh,
            first=first,
            step=step,
            realtime=True,
            speed=speed,
            block_time=block_time,
            host=host,
        ) as sim:
            if not quiet:
                print_endpoints(sim, console)
            if write_config is not None:
                sim.write_config(write_config)
                console.print(f"wrote {write_config / 'clusters.yml'} and {write_config / 'config.toml'}")
            endpoints = 2 * sum(len(n.nodes) for n in sim.networks.values())
            console.print(
                f"sim ready: {networks} network(s), {endpoints} RPC endpoints, control {sim.control_url}"
            )
            await stop.wait()
            console.print("sim stopping")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)


def sim_command(
    networks: int = typer.Option(1, help="How many networks (sim-1, sim-2, ...)."),
    nodes: int = typer.Option(3, help="Raft members per network (seq-0 ...)."),
    nonvoters: int = typer.Option(0, help="How many of the members are nonvoters (the last ones)."),
    spare: int = typer.Option(
        0, help="Spare nodes per network: synced, paused, not in raft (to rehearse adds)."
    ),
    fresh: bool = typer.Option(
        False, help="Brand-new cluster: seq-0 bootstrapped and paused, no unsafe head."
    ),
    write_config: Path | None = typer.Option(
        None, help="Write clusters.yml, config.toml and control_url into this directory."
    ),
    block_time: float = typer.Option(2.0, help="Seconds between blocks (simulated time)."),
    speed: float = typer.Option(1.0, help="Simulated seconds per real second."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    first: int = typer.Option(
        1, help="Number of the first network (sim-FIRST ...): several processes can serve one fleet."
    ),
    step: float = typer.Option(
        STEP, help="Model time resolution in seconds (coarser costs less CPU for many networks)."
    ),
    quiet: bool = typer.Option(False, help="Do not print every endpoint (thousands of lines)."),
) -> None:
    """Run a local simulated op-conductor cluster in the foreground until SIGINT/SIGTERM."""
    asyncio.run(
        run_foreground(
            networks=networks,
            nodes=nodes,
            nonvoters=nonvoters,
            spare=spare,
            fresh=fresh,
            write_config=write_config,
            block_time=block_time,
            speed=speed,
            host=host,
            first=first,
            step=step,
            quiet=quiet,
        )
    )
