"""What op-conductor and op-node read from their environment, and the plumbing the env rules share.

Names and defaults come from the runbook's first section and op-conductor's `flags/flags.go`
(required: consensus.addr/port, raft.server.id, raft.storage.dir, node.rpc, execution.rpc and the three
health-check settings; `network` xor `rollup.config`). Booleans are read as Go's `strconv.ParseBool`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cluster.env_file import EnvFile, EnvVar, NodeEnv
from cluster.topology import SequencerSpec
from cluster.topology_problems import Problem

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
CONDUCTOR_OPTIONAL = (
    "CONSENSUS_ADVERTISED",
    "RAFT_BOOTSTRAP",
    "RAFT_SNAPSHOT_INTERVAL",
    "RAFT_SNAPSHOT_THRESHOLD",
    "RAFT_TRAILING_LOGS",
    "RAFT_HEARTBEAT_TIMEOUT",
    "RAFT_LEASE_TIMEOUT",
    "RAFT_ROUND_ROBIN_LEADER_TRANSFER",
    "PAUSED",
    "RPC_ENABLE_PROXY",
    "RPC_ENABLE_ADMIN",
    "RPC_HTTP_BODY_LIMIT_MB",
    "NETWORK",
    "ROLLUP_CONFIG",
    "HEALTHCHECK_SAFE_ENABLED",
    "HEALTHCHECK_SAFE_INTERVAL",
    "HEALTHCHECK_EXECUTION_P2P_ENABLED",
    "HEALTHCHECK_EXECUTION_P2P_MIN_PEER_COUNT",
    "HEALTHCHECK_EXECUTION_P2P_RPC_URL",
    "HEALTHCHECK_EXECUTION_P2P_CHECK_API",
    "SUPERVISOR_RPC",
    "ROLLUP_BOOST_ENABLED",
    "ROLLUP_BOOST_HEALTHCHECK_TIMEOUT",
    "ROLLUP_BOOST_NEXT_ENABLED",
    "ROLLUP_BOOST_NEXT_HEALTHCHECK_URL",
    "ROLLUPBOOST_WS_URL",
    "WEBSOCKET_SERVER_PORT",
    "METRICS_ENABLED",
    "METRICS_ADDR",
    "METRICS_PORT",
    "PPROF_ENABLED",
    "PPROF_ADDR",
    "PPROF_PORT",
    "PPROF_TYPE",
    "PPROF_PATH",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "LOG_COLOR",
    "LOG_PID",
)
CONDUCTOR_KNOWN = {*CONDUCTOR_REQUIRED, *(C + name for name in CONDUCTOR_OPTIONAL)}
OP_NODE_PEERS_HI_DEFAULT = 30
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
UNSPECIFIED = {"0.0.0.0", "::"}
# Go's strconv.ParseBool, which op-conductor and op-node use for every boolean flag.
TRUE = {"1", "t", "T", "TRUE", "true", "True"}
FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class EnvCheckOptions(BaseModel):
    """What the env files cannot say themselves."""

    model_config = ConfigDict(frozen=True)

    # The chain's block time; every OP Stack chain in the superchain registry uses 2 s.
    block_time: float = Field(default=2.0, gt=0)
    # Bootstrapping this cluster from scratch (runbook "bootstrap"): exactly one node bootstraps.
    new_cluster: bool = False


class NodeFiles:
    """One node as the rules see it: its spec (if the clusters file lists it) and both files."""

    def __init__(self, env: NodeEnv, spec: SequencerSpec | None) -> None:
        self.name = env.name
        self.spec = spec
        self.c = env.conductor
        self.n = env.node
        self.source = env.source


class Findings:
    """What the rules found so far: problems stop a deploy, warnings do not."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, file: EnvFile | str, var: EnvVar | str | None, message: str, hint: str | None) -> None:
        self.problems.append(problem(file, var, message, hint))

    def warn(self, file: EnvFile | str, var: EnvVar | str | None, message: str, hint: str | None) -> None:
        self.warnings.append(problem(file, var, message, hint))


def problem(file: EnvFile | str, var: EnvVar | str | None, message: str, hint: str | None) -> Problem:
    path = file if isinstance(file, str) else file.path
    if isinstance(var, EnvVar):
        return Problem(file=path, location=var.key, line=var.line, message=message, hint=hint)
    return Problem(file=path, location=var or "", message=message, hint=hint)


def parse_bool(var: EnvVar | None, default: bool, file: EnvFile, out: Findings) -> bool:
    """The variable as Go's ParseBool reads it; `default` when unset, or unreadable (then a problem)."""
    if var is None:
        return default
    if var.value in TRUE or var.value in FALSE:
        return var.value in TRUE
    out.error(file, var, f"{var.value!r} is not a boolean", "use true or false")
    return default


def uint(var: EnvVar | None, file: EnvFile, out: Findings) -> int | None:
    """The variable as op-conductor's Uint64Flag reads it; None when unset or unreadable (a problem)."""
    if var is None:
        return None
    if not var.value.isdigit():
        out.error(file, var, f"{var.value!r} is not a whole number", "op-conductor reads it as an integer")
        return None
    return int(var.value)
