"""Load a `Topology` from a clusters file: our YAML, or op-conductor-ops' `config.toml`.

Every problem is collected (not just the first) as a `Problem` with the file, a dotted location
such as `networks.op-sepolia.sequencers[1].raft_addr`, the YAML line where known, and a hint,
so `conductor-bot check-config` can say exactly what to fix. URLs with credentials are redacted
in every message.

YAML shape::

    networks:
      <name>:
        alert_channel, command_channels, requesters, approvers, approvals_required,
        request_ttl_seconds, thresholds: {max_lag_blocks, max_lag_seconds, min_peers, ...},
        sequencers: [{id, raft_addr, conductor_rpc_url, node_rpc_url, voting, standby,
                      rollup_boost_rpc_url, builder_rpc_url}, ...]
    cert_path: ca.pem                    # optional: CA bundle for https endpoints, relative to this file

TOML shape (op-conductor-ops)::

    cert_path = "./cacert.pem"           # optional, as above
    [networks.<name>]
    sequencers = ["seq-0", ...]          # plus any of the per-network keys above
    [sequencers.seq-0]
    raft_addr = "...", conductor_rpc_url = "...", node_rpc_url = "...", voting = true
    rollup_boost_debug_rpc_url = "...", builder_rpc_url = "..."     # optional

The sequencer id is the TOML section name, kept verbatim. op-conductor-ops reads rollup-boost's URL from
`rollup_boost_debug_rpc_url`; `rollup_boost_rpc_url` (its name inside the tool, and ours) is accepted too.
"""

from __future__ import annotations

import ssl
import tomllib
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cluster.redact import redact_url
from cluster.tls import ssl_context
from cluster.topology import NetworkSpec, SequencerSpec, Thresholds, Topology
from cluster.topology_problems import Loc, Problem, TopologyError, check_host_port, check_http_url
from cluster.topology_yaml import parse_yaml

__all__ = [
    "LoadedTopology",
    "Problem",
    "TopologyError",
    "check_http_url",
    "dump_topology_yaml",
    "load_topology",
    "load_topology_with_warnings",
    "parse_topology",
]


class _ProblemAt(Protocol):
    def __call__(self, loc: Loc, message: str, hint: str | None = None) -> Problem: ...


class LoadedTopology(BaseModel):
    """A valid topology plus warnings that do not stop the bot (e.g. an even number of voters)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    topology: Topology
    warnings: tuple[Problem, ...] = ()


# The file-side models are strict: YAML "yes" or "2" in the wrong place is an error, not a guess.
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _SequencerEntry(SequencerSpec):
    # The same fields as the model, read strictly from the file (no "yes" for a bool).
    model_config = ConfigDict(extra="forbid", strict=True)


class _NetworkEntry(_Strict):
    sequencers: list[_SequencerEntry]
    alert_channel: str | None = None
    command_channels: list[str] = []
    requesters: list[str] = []
    approvers: list[str] = []
    approvals_required: int = Field(default=1, ge=1)
    request_ttl_seconds: int = Field(default=900, gt=0)
    thresholds: Thresholds = Thresholds()


class _ClustersFile(_Strict):
    networks: dict[str, _NetworkEntry]
    cert_path: str | None = None


_HINTS = {
    "missing": "add this key",
    "extra_forbidden": "remove it or fix its spelling",
}


def load_topology(path: Path) -> Topology:
    """The topology in `path` (YAML, or TOML when it ends in .toml); raises `TopologyError`."""
    return load_topology_with_warnings(path).topology


def load_topology_with_warnings(path: Path) -> LoadedTopology:
    """Like `load_topology`, also returning non-fatal warnings."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TopologyError([Problem(file=file, location="", message=f"cannot read file: {reason}")]) from exc
    if path.suffix == ".toml":
        raw, lines = _parse_toml(file, text), None
    else:
        raw, lines = parse_yaml(file, text)
    return parse_topology(raw, file, lines)


def parse_topology(raw: Any, file: str, lines: Mapping[Loc, int] | None = None) -> LoadedTopology:
    """Validate already-decoded file content; `lines` maps locations to YAML lines for messages
    (looked up only when there is something to report: a YAML line map may be costly to build)."""
    if lines is None:
        lines = {}

    def problem(loc: Loc, message: str, hint: str | None = None) -> Problem:
        return Problem(
            file=file, location=_format_loc(loc), message=message, hint=hint, line=_line(lines, loc)
        )

    if not isinstance(raw, dict) or "networks" not in raw:
        raise TopologyError([problem((), "expected a mapping with a top-level `networks` key")])
    try:
        parsed = _ClustersFile.model_validate(raw)
    except ValidationError as exc:
        raise TopologyError([problem(tuple(e["loc"]), *_explain(e)) for e in exc.errors()]) from None
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if not parsed.networks:
        problems.append(problem(("networks",), "no networks configured", "add at least one network"))
    for name, net in parsed.networks.items():
        _check_network(name, net, problem, problems, warnings)
    cert_path = _cert_path(parsed.cert_path, file, problem, problems)
    if problems:
        raise TopologyError(problems)
    topology = Topology(
        networks={name: _to_spec(name, net) for name, net in parsed.networks.items()}, cert_path=cert_path
    )
    return LoadedTopology(topology=topology, warnings=tuple(warnings))


def _cert_path(value: str | None, file: str, problem: _ProblemAt, problems: list[Problem]) -> Path | None:
    """`cert_path` resolved against the clusters file's directory (as op-conductor-ops does), if loadable."""
    if not value:  # op-conductor-ops' example ships `cert_path = ""` for "none"
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = Path(file).resolve().parent / path
    try:
        ssl_context(path)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        problems.append(
            problem(
                ("cert_path",),
                f"cannot load the CA bundle {str(path)!r}: {reason}",
                "a PEM file of CA certificates; a relative path is from the clusters file's directory",
            )
        )
        return None
    return path


def _to_spec(name: str, net: _NetworkEntry) -> NetworkSpec:
    return NetworkSpec(
        name=name,
        sequencers=tuple(SequencerSpec(**s.model_dump()) for s in net.sequencers),
        alert_channel=net.alert_channel,
        command_channels=tuple(net.command_channels),
        requesters=tuple(net.requesters),
        approvers=tuple(net.approvers),
        approvals_required=net.approvals_required,
        request_ttl_seconds=net.request_ttl_seconds,
        thresholds=net.thresholds,
    )


def _check_network(
    name: str,
    net: _NetworkEntry,
    problem: _ProblemAt,
    problems: list[Problem],
    warnings: list[Problem],
) -> None:
    base: Loc = ("networks", name)
    seqs = net.sequencers
    if not seqs:
        problems.append(problem((*base, "sequencers"), "no sequencers", "list at least one sequencer"))
        return
    ids = Counter(s.id for s in seqs)
    addrs = Counter(s.raft_addr for s in seqs)
    for i, s in enumerate(seqs):
        loc: Loc = (*base, "sequencers", i)
        if ids[s.id] > 1:
            problems.append(problem((*loc, "id"), f"duplicate sequencer id {s.id!r}", "ids must be unique"))
        if addrs[s.raft_addr] > 1:
            problems.append(
                problem(
                    (*loc, "raft_addr"), f"duplicate raft address {s.raft_addr!r}", "one node per address"
                )
            )
        if (err := check_host_port(s.raft_addr)) is not None:
            problems.append(problem((*loc, "raft_addr"), err, "use host:port, e.g. seq-0:50050"))
        for key in ("conductor_rpc_url", "node_rpc_url", "rollup_boost_rpc_url", "builder_rpc_url"):
            url = getattr(s, key)
            if url is not None and (err := check_http_url(url)) is not None:
                problems.append(problem((*loc, key), err, "use http(s)://host:port"))
    voters = sum(1 for s in seqs if s.voting)
    if voters == 0:
        problems.append(problem((*base, "sequencers"), "no voter", "set voting: true on at least one"))
    elif voters % 2 == 0:
        warnings.append(
            problem(
                (*base, "sequencers"),
                f"{voters} voters tolerate no more failures than {voters - 1} would",
                "use an odd number of voters",
            )
        )


def _explain(error: Any) -> tuple[str, str | None]:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}", _HINTS[kind]
    if kind == "missing":
        return f"missing required key {loc[-1]!r}", _HINTS[kind]
    msg = error["msg"]
    value = error.get("input")
    if isinstance(value, str | int | float | bool) and kind != "string_too_short":
        shown = redact_url(value) if isinstance(value, str) else value
        return f"{msg} (got {shown!r})", None
    return msg, None


def _format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    # The nearest enclosing node with a known line (a missing key has no line of its own).
    for end in range(len(loc), -1, -1):
        if (found := lines.get(tuple(loc[:end]))) is not None:
            return found
    return None


def _parse_toml(file: str, text: str) -> dict[str, Any]:
    """Turn op-conductor-ops `config.toml` into the YAML shape (sequencer lists inlined)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TopologyError([Problem(file=file, location="", message=f"TOML syntax error: {exc}")]) from None
    networks = doc.get("networks")
    sequencers = doc.get("sequencers", {})
    problems: list[Problem] = []
    for key in doc:
        if key not in ("networks", "sequencers", "cert_path"):
            problems.append(Problem(file=file, location=key, message=f"unknown table {key!r}"))
    if not isinstance(networks, dict) or not isinstance(sequencers, dict):
        problems.append(
            Problem(file=file, location="", message="expected [networks.<name>] and [sequencers.<id>]")
        )
        raise TopologyError(problems)
    out: dict[str, Any] = {}
    for name, net in networks.items():
        if not isinstance(net, dict) or not isinstance(net.get("sequencers"), list):
            problems.append(
                Problem(file=file, location=f"networks.{name}.sequencers", message="expected a list of names")
            )
            continue
        entries = []
        for i, seq_id in enumerate(net["sequencers"]):
            section = sequencers.get(seq_id) if isinstance(seq_id, str) else None
            if not isinstance(section, dict):
                problems.append(
                    Problem(
                        file=file,
                        location=f"networks.{name}.sequencers[{i}]",
                        message=f"sequencer {seq_id!r} has no [sequencers.{seq_id}] table",
                    )
                )
                continue
            entry = {"id": seq_id, **section}
            if "rollup_boost_debug_rpc_url" in entry:
                alias = entry.pop("rollup_boost_debug_rpc_url")
                if entry.setdefault("rollup_boost_rpc_url", alias) != alias:
                    problems.append(
                        Problem(
                            file=file,
                            location=f"sequencers.{seq_id}",
                            message="rollup_boost_debug_rpc_url and rollup_boost_rpc_url differ",
                            hint="keep rollup_boost_debug_rpc_url (op-conductor-ops reads that one)",
                        )
                    )
            entries.append(entry)
        out[name] = {**net, "sequencers": entries}
    if problems:
        raise TopologyError(problems)
    return {"networks": out, **({"cert_path": doc["cert_path"]} if "cert_path" in doc else {})}


def dump_topology_yaml(topology: Topology) -> str:
    """The YAML clusters file for `topology` (e.g. to write out a simulated cluster)."""
    doc: dict[str, Any] = {
        "networks": {
            name: net.model_dump(mode="json", exclude={"name"}, exclude_none=True)
            for name, net in topology.networks.items()
        }
    }
    if topology.cert_path is not None:
        doc["cert_path"] = str(topology.cert_path)
    return yaml.safe_dump(doc, sort_keys=False)
