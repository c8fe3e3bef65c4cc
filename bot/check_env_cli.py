"""`conductor-bot check-env PATH...`: lint a cluster's op-conductor and op-node env files.

The rules live in `cluster.env_check` (pure); reading the files in `cluster.env_file`. This module
picks the network, prints every problem as `file:line: VARIABLE: message (hint: …)` and exits like
`check-config`:

    0  valid (warnings printed)
    3  invalid, or a usage or configuration error (no clusters file, unknown network)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.status_cli import EXIT_USAGE, ClustersOption, fail, settings_or_exit, topology_or_exit
from cluster.env_check import EnvCheckOptions, check_env
from cluster.env_file import NodeEnv, load_node_envs
from cluster.topology import NetworkSpec, Topology

log = logging.getLogger(__name__)


def pick_network(topology: Topology, nodes: tuple[NodeEnv, ...], name: str | None) -> NetworkSpec:
    """The network named, else the only one, else the one whose sequencers the nodes are named after."""
    if name is not None:
        spec = topology.network(name)
        if spec is None:
            fail(f"unknown network {name!r}; configured: {', '.join(sorted(topology.networks))}")
        return spec
    if len(topology.networks) == 1:
        return next(iter(topology.networks.values()))
    names = {n.name for n in nodes}
    fitting = [net for net in topology.networks.values() if names <= {s.id for s in net.sequencers}]
    if len(fitting) != 1:
        fail("several networks in the clusters file: pass --network NAME")
    return fitting[0]


def check_env_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Env files, or directories with one subdirectory (or <sequencer>.op-*.env pair) per node.",
            show_default=False,
        ),
    ],
    network: Annotated[
        str | None, typer.Option("--network", help="Network in the clusters file (default: inferred).")
    ] = None,
    block_time: Annotated[
        float, typer.Option("--block-time", min=0.1, help="The chain's block time, seconds.")
    ] = 2.0,
    new_cluster: Annotated[
        bool,
        typer.Option("--new-cluster", help="Bootstrapping a new cluster: exactly one node bootstraps."),
    ] = False,
    clusters: ClustersOption = None,
) -> None:
    """Check op-conductor and op-node env files against the runbook and the clusters file."""
    topology = topology_or_exit(settings_or_exit(clusters))
    found = load_node_envs(paths)
    out, err = Console(highlight=False), Console(stderr=True, highlight=False)
    if not found.nodes and not found.problems:
        fail("no env files found under " + ", ".join(map(str, paths)))
    spec = pick_network(topology, found.nodes, network)
    report = check_env(found.nodes, spec, EnvCheckOptions(block_time=block_time, new_cluster=new_cluster))
    problems = (*found.problems, *report.problems)
    for warning in report.warnings:
        out.print(f"warning: {warning}", style="yellow", markup=False, soft_wrap=True)
    for problem in problems:
        err.print(str(problem), markup=False, soft_wrap=True)
    checked = f"{len(found.nodes)} node(s) of {spec.name}"
    if problems:
        err.print(
            f"{checked}: invalid ({len(problems)} problem(s))", style="red", markup=False, soft_wrap=True
        )
        raise typer.Exit(EXIT_USAGE)
    out.print(f"{checked}: valid", markup=False, soft_wrap=True)
