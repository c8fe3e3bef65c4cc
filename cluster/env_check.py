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
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from cluster.env_file import EnvFile, EnvVar, NodeEnv
from cluster.redact import redact_url
from cluster.topology import NetworkSpec, SequencerSpec
from cluster.topology_file import Problem, check_http_url

C = "OP_CONDUCTOR_"

# variable -> what it is (shown as the hint when it is missing). Runbook list + op-conductor's required.
CONDUCTOR_REQUIRED: dict[str, str] = {
    f"{C}RAFT_SERVER_ID": "this node's raft id, the clusters file's sequencer id (e.g. seq-0)",
    f"{C}RAFT_STORAGE_DIR": "where raft keeps its log and snapshots (a persistent volume)",
    f"{C}RPC_ADDR": "the address the conductor's JSON-RPC listens on, e.g. 0.0.0.0",
    f"{C}RPC_PORT": "the conductor's JSON-RPC port, e.g. 8547",
    f"{C}CONSENSUS_ADDR": "the raft address peers dial (host of the clusters file's raft_addr)",
    f"{C}CONSENSUS_PORT": "the raft port (port of the clusters file's raft_addr), e.g. 50050",
    f"{C}NODE_RPC": "this node's op-node RPC, e.g. http://op-node:9545",
    f"{C}EXECUTION_RPC": "this node's execution client RPC, e.g. http://op-geth:8545",
    f"{C}HEALTHCHECK_INTERVAL": "seconds between health checks, e.g. 1",
    f"{C}HEALTHCHECK_UNSAFE_INTERVAL": "seconds the unsafe head may lag the clock, e.g. 10",
    f"{C}HEALTHCHECK_MIN_PEER_COUNT": "op-node peers needed to be healthy, e.g. 2",
}
NODE_REQUIRED: dict[str, str] = {
    "OP_NODE_CONDUCTOR_ENABLED": "true: op-node asks its conductor before sequencing",
    "OP_NODE_CONDUCTOR_RPC": "this node's conductor RPC, e.g. http://op-conductor:8547",
    "OP_NODE_SEQUENCER_ENABLED": "true on every sequencer of the cluster",
    "OP_NODE_RPC_ENABLE_ADMIN": "true: the conductor starts and stops sequencing through admin_* calls",
}
# Every op-conductor variable, so a misspelt one (silently ignored by op-conductor) can be named.
CONDUCTOR_KNOWN = {
    *CONDUCTOR_REQUIRED,
    *(
        C + name
        for name in (
            "CONSENSUS_ADVERTISED RAFT_BOOTSTRAP RAFT_SNAPSHOT_INTERVAL RAFT_SNAPSHOT_THRESHOLD "
            "RAFT_TRAILING_LOGS RAFT_HEARTBEAT_TIMEOUT RAFT_LEASE_TIMEOUT RAFT_ROUND_ROBIN_LEADER_TRANSFER "
            "PAUSED RPC_ENABLE_PROXY RPC_ENABLE_ADMIN RPC_HTTP_BODY_LIMIT_MB NETWORK ROLLUP_CONFIG "
            "HEALTHCHECK_SAFE_ENABLED HEALTHCHECK_SAFE_INTERVAL HEALTHCHECK_EXECUTION_P2P_ENABLED "
            "HEALTHCHECK_EXECUTION_P2P_MIN_PEER_COUNT HEALTHCHECK_EXECUTION_P2P_RPC_URL "
            "HEALTHCHECK_EXECUTION_P2P_CHECK_API SUPERVISOR_RPC ROLLUP_BOOST_ENABLED "
            "ROLLUP_BOOST_HEALTHCHECK_TIMEOUT ROLLUP_BOOST_NEXT_ENABLED ROLLUP_BOOST_NEXT_HEALTHCHECK_URL "
            "ROLLUPBOOST_WS_URL WEBSOCKET_SERVER_PORT METRICS_ENABLED METRICS_ADDR METRICS_PORT "
            "PPROF_ENABLED PPROF_ADDR PPROF_PORT PPROF_TYPE PPROF_PATH LOG_LEVEL LOG_FORMAT LOG_COLOR LOG_PID"
        ).split()
    ),
}
OP_NODE_PEERS_HI_DEFAULT = 30
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_UNSPECIFIED = {"0.0.0.0", "::"}
# Go's strconv.ParseBool, which op-conductor and op-node use for every boolean flag.
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class EnvCheckOptions(BaseModel):
    """What the env files cannot say themselves."""

    model_config = ConfigDict(frozen=True)

    # The chain's block time; every OP Stack chain in the superchain registry uses 2 s.
    block_time: float = Field(default=2.0, gt=0)
    # Bootstrapping this cluster from scratch (runbook "bootstrap"): exactly one node bootstraps.
    new_cluster: bool = False


class EnvReport(BaseModel):
    """Problems stop a deploy (exit 3); warnings are printed and do not."""

    model_config = ConfigDict(frozen=True)

    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]


class _Node:
    """One node as the rules see it: its spec (if the clusters file lists it) and both files."""

    def __init__(self, env: NodeEnv, spec: SequencerSpec | None) -> None:
        self.name = env.name
        self.spec = spec
        self.c = env.conductor
        self.n = env.node
        self.source = env.source


class _Out:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, file: EnvFile | str, var: EnvVar | str | None, message: str, hint: str | None) -> None:
        self.problems.append(_problem(file, var, message, hint))

    def warn(self, file: EnvFile | str, var: EnvVar | str | None, message: str, hint: str | None) -> None:
        self.warnings.append(_problem(file, var, message, hint))


def _problem(file: EnvFile | str, var: EnvVar | str | None, message: str, hint: str | None) -> Problem:
    path = file if isinstance(file, str) else file.path
    if isinstance(var, EnvVar):
        return Problem(file=path, location=var.key, line=var.line, message=message, hint=hint)
    return Problem(file=path, location=var or "", message=message, hint=hint)


def check_env(nodes: tuple[NodeEnv, ...], network: NetworkSpec, options: EnvCheckOptions) -> EnvReport:
    """Every problem with `nodes`' env files for `network` (see the module docstring)."""
    out = _Out()
    checked = [_Node(env, network.sequencer(env.name)) for env in nodes]
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
        _check_paused(node, options, out)
        _check_health(node, options, out)
        _check_misspelt(node, out)
    _check_cluster_wide(checked, network, options, out)
    return EnvReport(problems=tuple(out.problems), warnings=tuple(out.warnings))


def parse_bool(var: EnvVar | None, default: bool, file: EnvFile, out: _Out) -> bool:
    if var is None:
        return default
    if var.value in _TRUE or var.value in _FALSE:
        return var.value in _TRUE
    out.error(file, var, f"{var.value!r} is not a boolean", "use true or false")
    return default


def _uint(var: EnvVar | None, file: EnvFile, out: _Out) -> int | None:
    if var is None:
        return None
    if not var.value.isdigit():
        out.error(file, var, f"{var.value!r} is not a whole number", "op-conductor reads it as an integer")
        return None
    return int(var.value)


def _check_files_present(node: _Node, network: NetworkSpec, out: _Out) -> None:
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
                node.source, None, f"no {role} env file for {node.name}", f"add {role}.env next to the other one"
            )


def _check_required(node: _Node, out: _Out) -> None:
    for f, required in ((node.c, CONDUCTOR_REQUIRED), (node.n, NODE_REQUIRED)):
        if f is None:
            continue
        for key, what in required.items():
            var = f.get(key)
            if var is None:
                hint = what
                if key == f"{C}RAFT_SERVER_ID" and f.get("RAFT_SERVER_ID_PREFIX") is not None:
                    hint = "op-conductor reads OP_CONDUCTOR_RAFT_SERVER_ID; RAFT_SERVER_ID_PREFIX is only a template"
                out.error(f, key, f"{key} is not set", hint)
            elif not var.value:
                out.error(f, var, f"{key} is empty", what)
    if node.c is not None and node.c.get(f"{C}NETWORK") is None and node.c.get(f"{C}ROLLUP_CONFIG") is None:
        out.error(
            node.c, f"{C}NETWORK", f"{C}NETWORK is not set", "the chain's name, the same as OP_NODE_NETWORK"
        )


def _check_op_node(node: _Node, network: NetworkSpec, out: _Out) -> None:
    n = node.n
    if n is None:
        return
    for key in ("OP_NODE_SEQUENCER_ENABLED", "OP_NODE_RPC_ENABLE_ADMIN"):
        if (var := n.get(key)) is not None and var.value and not parse_bool(var, False, n, out):
            out.error(n, var, f"{key} is false", NODE_REQUIRED[key])
    enabled_var, rpc = n.get("OP_NODE_CONDUCTOR_ENABLED"), n.get("OP_NODE_CONDUCTOR_RPC")
    enabled = parse_bool(enabled_var, False, n, out) if enabled_var is not None and enabled_var.value else None
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


def _check_node_rpc(node: _Node, network: NetworkSpec, out: _Out) -> None:
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
    url: str, node: _Node, network: NetworkSpec, url_of: Callable[[SequencerSpec], str]
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


def _check_network_name(node: _Node, out: _Out) -> None:
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


def _check_identity(node: _Node, out: _Out) -> None:
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
    if addr.value in _LOOPBACK | _UNSPECIFIED and want_host not in _LOOPBACK:
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
            f"consensus address {addr.value} is not the host of the clusters file's raft_addr {spec.raft_addr}",
            "fine only if both name this node",
        )


def _check_paused(node: _Node, options: EnvCheckOptions, out: _Out) -> None:
    c = node.c
    if c is None:
        return
    var = c.get(f"{C}PAUSED")
    if parse_bool(var, False, c, out):
        return
    new = options.new_cluster or (node.spec is not None and node.spec.standby)
    message = f"{C}PAUSED is not true on a {'new' if new else 'redeployed'} node"
    hint = (
        "a new sequencer starts paused and is resumed once synced (runbook: bootstrap / add a sequencer, 1.2)"
        if new
        else "every redeploy starts paused and is resumed once caught up (runbook: redeploy, step 1)"
    )
    out.error(c, var or f"{C}PAUSED", message, hint)


def _check_health(node: _Node, options: EnvCheckOptions, out: _Out) -> None:
    c = node.c
    if c is None:
        return
    interval_var = c.get(f"{C}HEALTHCHECK_INTERVAL")
    unsafe_var = c.get(f"{C}HEALTHCHECK_UNSAFE_INTERVAL")
    peers_var = c.get(f"{C}HEALTHCHECK_MIN_PEER_COUNT")
    interval, unsafe, peers = (_uint(v, c, out) for v in (interval_var, unsafe_var, peers_var))
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
    hi = _uint(hi_var, n, out) if hi_var is not None else OP_NODE_PEERS_HI_DEFAULT
    if hi is not None and peers > hi:
        where = f"OP_NODE_P2P_PEERS_HI={hi} ({n.path}:{hi_var.line})" if hi_var else f"op-node's default {hi}"
        out.error(
            c,
            peers_var,
            f"min peer count {peers} is above the {hi} peers op-node keeps ({where}): never healthy",
            f"use at most {hi}",
        )


def _check_misspelt(node: _Node, out: _Out) -> None:
    if node.c is None:
        return
    for key, var in node.c.vars.items():
        if key.startswith(C) and key not in CONDUCTOR_KNOWN and not key.startswith(f"{C}OVERRIDE_"):
            close = difflib.get_close_matches(key, CONDUCTOR_KNOWN, n=1, cutoff=0.85)
            if close:
                out.error(
                    node.c, var, f"op-conductor has no {key}; it is ignored", f"did you mean {close[0]}?"
                )


def _check_cluster_wide(
    nodes: list[_Node], network: NetworkSpec, options: EnvCheckOptions, out: _Out
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


def _values(conductors: list[tuple[_Node, EnvFile]], key: str) -> Iterator[tuple[_Node, EnvFile, EnvVar]]:
    for node, c in conductors:
        if (var := c.get(key)) is not None and var.value:
            yield node, c, var


def _check_duplicate_ids(conductors: list[tuple[_Node, EnvFile]], out: _Out) -> None:
    ids = list(_values(conductors, f"{C}RAFT_SERVER_ID"))
    counts = Counter(var.value for _, _, var in ids)
    for node, c, var in ids:
        if counts[var.value] > 1:
            others = ", ".join(n.name for n, _, v in ids if v.value == var.value and n is not node)
            out.error(c, var, f"server id {var.value!r} is also {others}'s", "raft server ids must be unique")


def _check_one_network(conductors: list[tuple[_Node, EnvFile]], out: _Out) -> None:
    names = list(_values(conductors, f"{C}NETWORK"))
    counts = Counter(var.value for _, _, var in names)
    if len(counts) < 2:
        return
    usual = counts.most_common(1)[0][0]
    for _, c, var in names:
        if var.value != usual:
            out.error(c, var, f"{C}NETWORK={var.value} but the other nodes say {usual}", "one cluster, one chain")


def _check_bootstrap(conductors: list[tuple[_Node, EnvFile]], options: EnvCheckOptions, out: _Out) -> None:
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
                "a joining node starts with it false and is added with add-voter (runbook: add a sequencer, 1.1)",
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
