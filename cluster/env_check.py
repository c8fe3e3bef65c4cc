"""The runbook's op-conductor and op-node environment, checked against the clusters file.

`check_env(nodes, network, options)` is pure: it takes the parsed env files of a network's nodes
(`cluster.env_file`) and that network's intended topology, and returns every problem found, each with
the file and line to fix and a hint. Variable names are the runbook's (its first section) and
op-conductor's own (`op-conductor/flags/flags.go`); the rules, one function each:

- required variables: the runbook's list plus what op-conductor refuses to start without
  (`consensus.addr`, the three health-check settings, `network` or `rollup.config`);
- op-node: `OP_NODE_CONDUCTOR_ENABLED=true` with `OP_NODE_CONDUCTOR_RPC` pointing at *its own* conductor,
  sequencing and the admin API on; op-conductor's `OP_CONDUCTOR_NODE_RPC` pointing at its own op-node;
- `OP_CONDUCTOR_NETWORK` = `OP_NODE_NETWORK`, and one network across the nodes;
- `OP_CONDUCTOR_RAFT_BOOTSTRAP=true` on at most one node, only when bootstrapping a new cluster, never on
  a node joining one;
- `OP_CONDUCTOR_PAUSED=true` on every new and every redeployed node;
- the consensus port and server id match the clusters file's `raft_addr` and `id`; ids are unique;
- health-check settings that can never pass: unsafe interval below the block time, a minimum peer count
  above the peers op-node may keep (or with p2p disabled), zero interval or peer count.

This module holds the wiring rules (which variable points where); `cluster.env_lifecycle` the paused,
bootstrap, health and cluster-wide ones; `cluster.env_vars` the variable catalogue and shared helpers.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from cluster.env_file import NodeEnv
from cluster.env_lifecycle import check_cluster_wide, check_health, check_paused
from cluster.env_vars import (
    CONDUCTOR_KNOWN,
    CONDUCTOR_REQUIRED,
    LOOPBACK,
    NODE_REQUIRED,
    UNSPECIFIED,
    C,
    EnvCheckOptions,
    Findings,
    NodeFiles,
    parse_bool,
)
from cluster.redact import redact_url
from cluster.topology import NetworkSpec, SequencerSpec
from cluster.topology_problems import Problem, check_http_url

__all__ = ["EnvCheckOptions", "EnvReport", "check_env"]


class EnvReport(BaseModel):
    """Problems stop a deploy (exit 3); warnings are printed and do not."""

    model_config = ConfigDict(frozen=True)

    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]


def check_env(nodes: tuple[NodeEnv, ...], network: NetworkSpec, options: EnvCheckOptions) -> EnvReport:
    """Every problem with `nodes`' env files for `network` (see the module docstring)."""
    out = Findings()
    checked = [NodeFiles(env, network.sequencer(env.name)) for env in nodes]
    for env in nodes:
        for f in (env.conductor, env.node):
            if f is not None:
                out.problems.extend(f.problems)
                out.warnings.extend(f.warnings)
    for node in checked:
        _check_files_present(node, network, out)
        _check_required(node, out)
        _check_op_node(node, network, out)
        _check_node_rpc(node, network, out)
        _check_network_name(node, out)
        _check_identity(node, out)
        check_paused(node, options, out)
        check_health(node, options, out)
        _check_misspelt(node, out)
    check_cluster_wide(checked, network, options, out)
    return EnvReport(problems=tuple(out.problems), warnings=tuple(out.warnings))


def _check_files_present(node: NodeFiles, network: NetworkSpec, out: Findings) -> None:
    if node.spec is None:
        known = ", ".join(s.id for s in network.sequencers)
        out.error(
            node.c or node.n or node.source,
            None,
            f"node {node.name!r} is not a sequencer of {network.name} in the clusters file",
            f"name the node's directory or files after its sequencer id ({known})",
        )
    for f, role in ((node.c, "op-conductor"), (node.n, "op-node")):
        if f is None:
            out.error(
                node.source,
                None,
                f"no {role} env file for {node.name}",
                f"add {role}.env next to the other one",
            )


def _check_required(node: NodeFiles, out: Findings) -> None:
    for f, required in ((node.c, CONDUCTOR_REQUIRED), (node.n, NODE_REQUIRED)):
        if f is None:
            continue
        for key, what in required.items():
            var = f.get(key)
            if var is None:
                hint = what
                if key == f"{C}RAFT_SERVER_ID" and f.get("RAFT_SERVER_ID_PREFIX") is not None:
                    hint = f"op-conductor reads {key}; RAFT_SERVER_ID_PREFIX is only a template"
                out.error(f, key, f"{key} is not set", hint)
            elif not var.value:
                out.error(f, var, f"{key} is empty", what)
    if node.c is not None and node.c.get(f"{C}NETWORK") is None and node.c.get(f"{C}ROLLUP_CONFIG") is None:
        out.error(
            node.c, f"{C}NETWORK", f"{C}NETWORK is not set", "the chain's name, the same as OP_NODE_NETWORK"
        )


def _check_op_node(node: NodeFiles, network: NetworkSpec, out: Findings) -> None:
    n = node.n
    if n is None:
        return
    for key in ("OP_NODE_SEQUENCER_ENABLED", "OP_NODE_RPC_ENABLE_ADMIN"):
        if (var := n.get(key)) is not None and var.value and not parse_bool(var, False, n, out):
            out.error(n, var, f"{key} is false", NODE_REQUIRED[key])
    enabled_var, rpc = n.get("OP_NODE_CONDUCTOR_ENABLED"), n.get("OP_NODE_CONDUCTOR_RPC")
    enabled = (
        parse_bool(enabled_var, False, n, out) if enabled_var is not None and enabled_var.value else None
    )
    if enabled is False and enabled_var is not None:
        out.error(
            n,
            enabled_var,
            "OP_NODE_CONDUCTOR_ENABLED is false: op-node sequences without asking its conductor",
            "set it to true on every sequencer of a conductor cluster",
        )
    if enabled and rpc is None and enabled_var is not None:
        out.error(
            n,
            enabled_var,
            "OP_NODE_CONDUCTOR_ENABLED=true without OP_NODE_CONDUCTOR_RPC: op-node dials http://127.0.0.1:8547",
            "set OP_NODE_CONDUCTOR_RPC to this node's conductor",
        )
    if rpc is None or not rpc.value:
        return
    if (err := check_http_url(rpc.value)) is not None:
        out.error(n, rpc, err, "use http://<this node's conductor>:<OP_CONDUCTOR_RPC_PORT>")
        return
    if (other := _points_at_other(rpc.value, node, network, lambda s: s.conductor_rpc_url)) is not None:
        out.error(
            n,
            rpc,
            f"OP_NODE_CONDUCTOR_RPC {redact_url(rpc.value)} is {other}'s conductor, not {node.name}'s",
            "each op-node must ask its own conductor",
        )
        return
    own_port = node.c.get(f"{C}RPC_PORT") if node.c is not None else None
    port = _port_of(rpc.value)
    if own_port is not None and own_port.value.isdigit() and port is not None and port != int(own_port.value):
        assert node.c is not None
        out.warn(
            n,
            rpc,
            f"OP_NODE_CONDUCTOR_RPC port {port} is not this node's OP_CONDUCTOR_RPC_PORT {own_port.value}",
            f"{node.c.path}:{own_port.line}; fine only behind a port-mapping proxy",
        )


def _check_node_rpc(node: NodeFiles, network: NetworkSpec, out: Findings) -> None:
    c = node.c
    var = c.get(f"{C}NODE_RPC") if c is not None else None
    if c is None or var is None or not var.value:
        return
    if (err := check_http_url(var.value)) is not None:
        out.error(c, var, err, "use http://<this node's op-node>:<its RPC port>")
    elif (other := _points_at_other(var.value, node, network, lambda s: s.node_rpc_url)) is not None:
        out.error(
            c,
            var,
            f"{C}NODE_RPC {redact_url(var.value)} is {other}'s op-node, not {node.name}'s",
            "each conductor must control its own op-node",
        )


def _points_at_other(
    url: str, node: NodeFiles, network: NetworkSpec, url_of: Callable[[SequencerSpec], str]
) -> str | None:
    """The other sequencer `url` names (by its host in the clusters file, or its id in the host)."""
    host = (urlsplit(url).hostname or "").lower()
    if node.name and _names(host, node.name):
        return None
    for other in network.sequencers:
        if other.id == node.name:
            continue
        if host == (urlsplit(url_of(other)).hostname or "").lower() or _names(host, other.id):
            return other.id
    return None


def _names(host: str, sequencer_id: str) -> bool:
    return re.search(rf"(^|[^a-z0-9]){re.escape(sequencer_id.lower())}($|[^a-z0-9])", host) is not None


def _port_of(url: str) -> int | None:
    try:
        parts = urlsplit(url)
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None


def _check_network_name(node: NodeFiles, out: Findings) -> None:
    if node.c is None or node.n is None:
        return
    mine, theirs = node.c.get(f"{C}NETWORK"), node.n.get("OP_NODE_NETWORK")
    if mine is not None and theirs is not None and mine.value != theirs.value:
        out.error(
            node.c,
            mine,
            f"{C}NETWORK={mine.value} but OP_NODE_NETWORK={theirs.value}",
            f"the runbook: same as OP_NODE_NETWORK ({node.n.path}:{theirs.line})",
        )


def _check_identity(node: NodeFiles, out: Findings) -> None:
    c, spec = node.c, node.spec
    if c is None or spec is None:
        return
    sid = c.get(f"{C}RAFT_SERVER_ID")
    if sid is not None and sid.value and sid.value != spec.id:
        out.error(
            c,
            sid,
            f"server id {sid.value!r} is not the clusters file's id {spec.id!r}",
            "raft membership lists this id; add-voter and the bot use the clusters file's",
        )
    want_host, _, want_port = spec.raft_addr.rpartition(":")
    advertised = c.get(f"{C}CONSENSUS_ADVERTISED")
    addr, port = c.get(f"{C}CONSENSUS_ADDR"), c.get(f"{C}CONSENSUS_PORT")
    if advertised is not None and advertised.value:
        if advertised.value != spec.raft_addr:
            out.error(
                c,
                advertised,
                f"advertises {advertised.value} but the clusters file's raft_addr is {spec.raft_addr}",
                "peers and add-voter dial raft_addr; make them the same",
            )
        return
    if port is not None and port.value and port.value != want_port:
        out.error(
            c,
            port,
            f"consensus port {port.value} is not the port of the clusters file's raft_addr {spec.raft_addr}",
            "add-voter tells the peers to dial raft_addr",
        )
    if addr is None or not addr.value:
        return  # reported as missing
    if addr.value in LOOPBACK | UNSPECIFIED and want_host not in LOOPBACK:
        out.error(
            c,
            addr,
            f"raft advertises {addr.value}, which its peers cannot dial",
            f"set {C}CONSENSUS_ADDR={want_host} (or {C}CONSENSUS_ADVERTISED={spec.raft_addr})",
        )
    elif addr.value != want_host:
        out.warn(
            c,
            addr,
            f"consensus address {addr.value} is not the host of the clusters file's {spec.raft_addr}",
            "fine only if both name this node",
        )


def _check_misspelt(node: NodeFiles, out: Findings) -> None:
    if node.c is None:
        return
    for key, var in node.c.vars.items():
        if key.startswith(C) and key not in CONDUCTOR_KNOWN and not key.startswith(f"{C}OVERRIDE_"):
            close = difflib.get_close_matches(key, CONDUCTOR_KNOWN, n=1, cutoff=0.85)
            if close:
                out.error(
                    node.c, var, f"op-conductor has no {key}; it is ignored", f"did you mean {close[0]}?"
                )
