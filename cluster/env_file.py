"""Read the op-conductor and op-node env files of a cluster's nodes, keeping every value's line.

An env file is what docker `--env-file`, compose `env_file:` and systemd `EnvironmentFile=` read, plus
the shell habits people bring to them:

    # comment
    export OP_CONDUCTOR_PAUSED=true          # `export ` is dropped; an unquoted value ends at " #"
    OP_CONDUCTOR_NETWORK="op-sepolia"        # double quotes: \\" \\\\ \\n escapes
    OP_CONDUCTOR_RAFT_STORAGE_DIR='/data'    # single quotes: literal

A line that is none of these is a `Problem` with its line number; a key set twice keeps the last value
(as docker does) and is a warning.

Which files belong to which node (`load_node_envs`): each path is a file or a directory. A file is an
op-conductor file when its name contains `conductor`, else an op-node file when it contains `node`; the
rest of its name (`seq-0.op-conductor.env` → `seq-0`) names the node, or, when nothing is left
(`op-conductor.env`), its directory does. A directory contributes its `*.env` files that way, and each
subdirectory is one node (`envs/seq-0/op-conductor.env`, `envs/seq-0/op-node.env`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from cluster.topology_problems import Problem

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "$": "$"}
_ROLE_NAME = re.compile(r"^(?P<node>.*?)[._-]*(?:op[-_]?)?(?P<role>conductor|node)(?:\.env)?$", re.IGNORECASE)


class Role(StrEnum):
    """Which service an env file configures."""

    CONDUCTOR = "op-conductor"
    NODE = "op-node"


class EnvVar(BaseModel):
    """One `KEY=VALUE` as the service will see it, with the line it came from."""

    model_config = ConfigDict(frozen=True)

    key: str
    value: str
    line: int


class EnvFile(BaseModel):
    """One parsed env file; `problems`/`warnings` are about its syntax."""

    model_config = ConfigDict(frozen=True)

    path: str
    vars: dict[str, EnvVar]
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    def get(self, key: str) -> EnvVar | None:
        return self.vars.get(key)


class NodeEnv(BaseModel):
    """The env files of one node, named as its sequencer in the clusters file."""

    model_config = ConfigDict(frozen=True)

    name: str
    conductor: EnvFile | None = None
    node: EnvFile | None = None
    # Where the node's files were found: the place to point at when one of them is missing.
    source: str


class NodeEnvs(BaseModel):
    """Every node found under the given paths, plus problems finding them."""

    model_config = ConfigDict(frozen=True)

    nodes: tuple[NodeEnv, ...]
    problems: tuple[Problem, ...] = ()


def parse_env(text: str, path: str) -> EnvFile:
    """Parse env-file text; syntax problems are collected, never raised."""
    found: dict[str, EnvVar] = {}
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[len("export") :].lstrip()
        key, sep, rest = line.partition("=")
        key = key.strip()
        if not sep or not _KEY.fullmatch(key):
            problems.append(
                Problem(
                    file=path,
                    location="",
                    line=number,
                    message=f"not KEY=VALUE: {raw.strip()[:60]!r}",
                    hint="write KEY=VALUE, or start the line with # to comment it out",
                )
            )
            continue
        value, error = _value(rest)
        if error is not None:
            problems.append(Problem(file=path, location=key, line=number, message=error))
            continue
        if (earlier := found.get(key)) is not None:
            warnings.append(
                Problem(
                    file=path,
                    location=key,
                    line=number,
                    message=f"set again (first on line {earlier.line}); this later value wins",
                    hint="keep one of the two lines",
                )
            )
        found[key] = EnvVar(key=key, value=value, line=number)
    return EnvFile(path=path, vars=found, problems=tuple(problems), warnings=tuple(warnings))


def _value(rest: str) -> tuple[str, str | None]:
    """The value after `=`, or an error message for an unterminated or trailing-junk quote."""
    rest = rest.strip()
    if not rest or rest[0] not in "\"'":
        # An unquoted value ends where a comment starts (" #"), as in compose and the shell.
        return re.split(r"\s+#", rest, maxsplit=1)[0].rstrip(), None
    quote, out, i = rest[0], list[str](), 1
    while i < len(rest):
        ch = rest[i]
        if ch == quote:
            tail = rest[i + 1 :].strip()
            if tail and not tail.startswith("#"):
                return "", f"text after the closing quote: {tail[:30]!r}"
            return "".join(out), None
        if quote == '"' and ch == "\\" and i + 1 < len(rest):
            i += 1
            out.append(_ESCAPES.get(rest[i], "\\" + rest[i]))
        else:
            out.append(ch)
        i += 1
    return "", f"unterminated {quote} quote (values cannot span lines here)"


def role_of(name: str) -> tuple[Role, str] | None:
    """The role a file name says, and the node name it carries ('' when none), or None."""
    match = _ROLE_NAME.match(name)
    if match is None:
        return None
    role = Role.CONDUCTOR if match["role"].lower() == "conductor" else Role.NODE
    return role, match["node"].strip("._-")


def load_node_envs(paths: Sequence[Path]) -> NodeEnvs:
    """Read the env files under `paths` and group them by node (see the module docstring)."""
    problems: list[Problem] = []
    found: dict[str, dict[Role, EnvFile]] = {}
    sources: dict[str, str] = {}
    for path, node_hint in _candidates(paths, problems):
        named = role_of(path.name)
        if named is None:
            problems.append(
                Problem(
                    file=str(path),
                    location="",
                    message="cannot tell whether this is an op-conductor or an op-node env file",
                    hint="name it op-conductor.env or op-node.env (or <sequencer>.op-conductor.env)",
                )
            )
            continue
        role, name = named
        name = name or node_hint
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.append(Problem(file=str(path), location="", message=f"cannot read file: {reason}"))
            continue
        roles = found.setdefault(name, {})
        if role in roles:
            problems.append(
                Problem(
                    file=str(path),
                    location="",
                    message=f"a second {role} file for {name!r} (the first is {roles[role].path})",
                    hint="give each node one op-conductor and one op-node file",
                )
            )
            continue
        roles[role] = parse_env(text, str(path))
        sources.setdefault(name, str(path.parent))
    nodes = tuple(
        NodeEnv(
            name=name, conductor=roles.get(Role.CONDUCTOR), node=roles.get(Role.NODE), source=sources[name]
        )
        for name, roles in found.items()
    )
    return NodeEnvs(nodes=nodes, problems=tuple(problems))


def _candidates(paths: Iterable[Path], problems: list[Problem]) -> Iterable[tuple[Path, str]]:
    """(file, the node name its directory gives) for every env file under `paths`."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.is_dir():
                    yield from ((f, child.name) for f in sorted(child.glob("*.env")) if f.is_file())
                elif child.suffix == ".env":
                    yield child, path.resolve().name
        elif path.is_file():
            yield path, path.resolve().parent.name
        else:
            problems.append(Problem(file=str(path), location="", message="no such file or directory"))
