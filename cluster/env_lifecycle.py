"""Env rules about a node's life in the cluster: paused on (re)deploy, bootstrap once, health that can pass.

Part of `cluster.env_check` (see its docstring), split out to keep modules short.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from cluster.env_file import EnvFile, EnvVar
from cluster.env_vars import (
    FALSE,
    OP_NODE_PEERS_HI_DEFAULT,
    TRUE,
    C,
    EnvCheckOptions,
    Findings,
    NodeFiles,
    parse_bool,
    uint,
)
from cluster.topology import NetworkSpec


def check_paused(node: NodeFiles, options: EnvCheckOptions, out: Findings) -> None:
    c = node.c
    if c is None:
        return
    var = c.get(f"{C}PAUSED")
    if parse_bool(var, False, c, out) or (var is not None and var.value not in TRUE | FALSE):
        return
    new = options.new_cluster or (node.spec is not None and node.spec.standby)
    message = f"{C}PAUSED is not true on a {'new' if new else 'redeployed'} node"
    hint = (
        "a new sequencer starts paused and is resumed once synced (runbook: bootstrap / add a sequencer, 1.2)"
        if new
        else "every redeploy starts paused and is resumed once caught up (runbook: redeploy, step 1)"
    )
    out.error(c, var or f"{C}PAUSED", message, hint)


def check_health(node: NodeFiles, options: EnvCheckOptions, out: Findings) -> None:
    c = node.c
    if c is None:
        return
    interval_var = c.get(f"{C}HEALTHCHECK_INTERVAL")
    unsafe_var = c.get(f"{C}HEALTHCHECK_UNSAFE_INTERVAL")
    peers_var = c.get(f"{C}HEALTHCHECK_MIN_PEER_COUNT")
    interval, unsafe, peers = (uint(v, c, out) for v in (interval_var, unsafe_var, peers_var))
    if interval == 0 and interval_var is not None:
        out.error(c, interval_var, "health-check interval 0: op-conductor refuses to start", "e.g. 1")
    if unsafe is not None and unsafe_var is not None and unsafe < options.block_time:
        out.error(
            c,
            unsafe_var,
            f"unsafe interval {unsafe}s is below the {options.block_time:g}s block time: "
            "the newest block is that old between blocks, so the check can never stay healthy",
            f"use several block times, e.g. {int(options.block_time * 5)}",
        )
    if peers is None or peers_var is None:
        return
    if peers == 0:
        out.error(c, peers_var, "min peer count 0: op-conductor refuses to start", "e.g. 2")
        return
    n = node.n
    if n is None:
        return
    disabled = n.get("OP_NODE_P2P_DISABLE")
    if parse_bool(disabled, False, n, out):
        assert disabled is not None
        out.error(
            c,
            peers_var,
            f"min peer count {peers} but op-node has p2p disabled ({n.path}:{disabled.line}): never healthy",
            "enable op-node's p2p, sequencers gossip blocks through it",
        )
        return
    hi_var = n.get("OP_NODE_P2P_PEERS_HI")
    hi = uint(hi_var, n, out) if hi_var is not None else OP_NODE_PEERS_HI_DEFAULT
    if hi is not None and peers > hi:
        where = f"OP_NODE_P2P_PEERS_HI at {n.path}:{hi_var.line}" if hi_var else "op-node's default"
        out.error(
            c,
            peers_var,
            f"min peer count {peers} is above the {hi} peers op-node keeps ({where}): never healthy",
            f"use at most {hi}",
        )


def check_cluster_wide(
    nodes: list[NodeFiles], network: NetworkSpec, options: EnvCheckOptions, out: Findings
) -> None:
    conductors = [(n, n.c) for n in nodes if n.c is not None]
    _check_duplicate_ids(conductors, out)
    _check_one_network(conductors, out)
    _check_bootstrap(conductors, options, out)
    seen = {n.name for n in nodes}
    for spec in network.sequencers:
        if spec.id not in seen:
            out.warn(
                nodes[0].source if nodes else "",
                None,
                f"no env files for {spec.id}: not checked",
                "pass every node's files to check the cluster-wide rules",
            )


def _values(
    conductors: list[tuple[NodeFiles, EnvFile]], key: str
) -> Iterator[tuple[NodeFiles, EnvFile, EnvVar]]:
    for node, c in conductors:
        if (var := c.get(key)) is not None and var.value:
            yield node, c, var


def _check_duplicate_ids(conductors: list[tuple[NodeFiles, EnvFile]], out: Findings) -> None:
    ids = list(_values(conductors, f"{C}RAFT_SERVER_ID"))
    counts = Counter(var.value for _, _, var in ids)
    for node, c, var in ids:
        if counts[var.value] > 1:
            others = ", ".join(n.name for n, _, v in ids if v.value == var.value and n is not node)
            out.error(c, var, f"server id {var.value!r} is also {others}'s", "raft server ids must be unique")


def _check_one_network(conductors: list[tuple[NodeFiles, EnvFile]], out: Findings) -> None:
    names = list(_values(conductors, f"{C}NETWORK"))
    counts = Counter(var.value for _, _, var in names)
    if len(counts) < 2:
        return
    usual = counts.most_common(1)[0][0]
    for _, c, var in names:
        if var.value != usual:
            out.error(
                c, var, f"{C}NETWORK={var.value} but the other nodes say {usual}", "one cluster, one chain"
            )


def _check_bootstrap(
    conductors: list[tuple[NodeFiles, EnvFile]], options: EnvCheckOptions, out: Findings
) -> None:
    booting = [(n, c, c.get(f"{C}RAFT_BOOTSTRAP")) for n, c in conductors]
    on = [(n, c, v) for n, c, v in booting if v is not None and parse_bool(v, False, c, out)]
    for node, c, var in on:
        assert var is not None
        if len(on) > 1:
            names = ", ".join(n.name for n, _, _ in on)
            out.error(
                c,
                var,
                f"{C}RAFT_BOOTSTRAP=true on {len(on)} nodes ({names})",
                "only the first node of a new cluster bootstraps; the others join by add-voter",
            )
        elif node.spec is not None and node.spec.standby:
            out.error(
                c,
                var,
                f"{C}RAFT_BOOTSTRAP=true on {node.name}, a node joining the cluster",
                "a joining node keeps it false and is added by add-voter (runbook: add a sequencer, 1.1)",
            )
        elif not options.new_cluster:
            out.error(
                c,
                var,
                f"{C}RAFT_BOOTSTRAP is still true on a node of a formed cluster",
                "set it to false so a redeploy does not bootstrap again (runbook: bootstrap, step 5)",
            )
    if options.new_cluster and not on and conductors:
        node, c = conductors[0]
        out.error(
            c,
            c.get(f"{C}RAFT_BOOTSTRAP") or f"{C}RAFT_BOOTSTRAP",
            "no node bootstraps the new cluster",
            f"set {C}RAFT_BOOTSTRAP=true on exactly one node, e.g. {node.name} (runbook: bootstrap, 1.1)",
        )
