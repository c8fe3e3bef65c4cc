"""Parse the arguments of a mutating verb into an `Operation`, checked against the topology.

Grammar (flags may appear anywhere after the verb, `--hash H` or `--hash=H`):

    pause NETWORK [SEQUENCER|all]            resume NETWORK [SEQUENCER|all] [--force]
    override-leader NETWORK SEQUENCER [--clear] [--node]
    add-voter NETWORK SEQUENCER              add-nonvoter NETWORK SEQUENCER
    remove-server NETWORK SEQUENCER          transfer-leader NETWORK [SEQUENCER] [--force]
    stop-sequencer NETWORK SEQUENCER         start-sequencer NETWORK SEQUENCER [--hash H] [--force]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chat.errors import UsageError
from chat.suggest import hint
from chat.text import clip
from cluster.topology import NetworkSpec, Topology
from commands import operations as ops

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$")
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
ALL = "all"


@dataclass(frozen=True)
class _Parsed:
    """Positional words and flags after the verb."""

    positional: list[str]
    flags: set[str]
    hash: str | None


_VERB_USAGE: dict[str, str] = {
    "pause": "pause NETWORK [SEQUENCER|all]",
    "resume": "resume NETWORK [SEQUENCER|all] [--force]",
    "override-leader": "override-leader NETWORK SEQUENCER [--clear] [--node]",
    "add-voter": "add-voter NETWORK SEQUENCER",
    "add-nonvoter": "add-nonvoter NETWORK SEQUENCER",
    "remove-server": "remove-server NETWORK SEQUENCER",
    "transfer-leader": "transfer-leader NETWORK [SEQUENCER] [--force]",
    "stop-sequencer": "stop-sequencer NETWORK SEQUENCER",
    "start-sequencer": "start-sequencer NETWORK SEQUENCER [--hash H] [--force]",
}

_VERB_FLAGS: dict[str, frozenset[str]] = {
    "override-leader": frozenset({"--clear", "--node"}),
    "start-sequencer": frozenset({"--hash"}),
}

OPERATION_VERBS: tuple[str, ...] = tuple(_VERB_USAGE)


# What we quote back of a user's word: enough to recognise a typo, not a pasted page.
ECHO_LIMIT = 64


def _echo(word: str | None) -> str:
    return clip(str(word), ECHO_LIMIT)


def usage(verb: str) -> str:
    """The one-line usage of a verb, for help texts and error messages."""
    return _VERB_USAGE[verb]


def parse_operation(verb: str, args: Sequence[str], topology: Topology) -> ops.Operation:
    """Turn `verb args...` into an Operation, or raise UsageError saying exactly what is wrong."""
    builder = _BUILDERS.get(verb)
    if builder is None:
        raise UsageError(f"unknown operation `{verb}`; operations: {', '.join(OPERATION_VERBS)}")
    parsed = _split(verb, args)
    if "--force" in parsed.flags and verb not in ops.FORCEABLE_KINDS:
        raise UsageError(
            f"`--force` is not accepted for {verb}; only for {', '.join(sorted(ops.FORCEABLE_KINDS))}"
        )
    return builder(verb, parsed, topology)


def _split(verb: str, args: Sequence[str]) -> _Parsed:
    allowed = _VERB_FLAGS.get(verb, frozenset()) | {"--force"}
    positional: list[str] = []
    flags: set[str] = set()
    hash_value: str | None = None
    words = iter(args)
    for word in words:
        if not word.startswith("-"):
            positional.append(word)
            continue
        name, eq, value = word.partition("=")
        if name not in allowed:
            raise UsageError(
                f"unknown flag `{_echo(name)}` for {verb}; accepted: {', '.join(sorted(allowed))}. "
                f"Usage: `{usage(verb)}`"
            )
        if name == "--hash":
            hash_value = value if eq else next(words, None)
            if not hash_value or not _HASH.match(hash_value):
                raise UsageError(
                    f"`--hash` needs a 0x-prefixed 32-byte hex block hash, got `{_echo(hash_value)}`"
                )
        elif eq:
            raise UsageError(f"flag `{_echo(name)}` takes no value")
        flags.add(name)
    return _Parsed(positional=positional, flags=flags, hash=hash_value)


def _network(verb: str, parsed: _Parsed, topology: Topology, min_args: int, max_args: int) -> NetworkSpec:
    n = len(parsed.positional)
    if not min_args <= n <= max_args:
        want = str(min_args) if min_args == max_args else f"{min_args} to {max_args}"
        raise UsageError(f"{verb} takes {want} arguments, got {n}. Usage: `{usage(verb)}`")
    name = parsed.positional[0]
    if not _ID.match(name):
        raise UsageError(f"`{_echo(name)}` is not a valid network name")
    spec = topology.network(name)
    if spec is None:
        known = ", ".join(sorted(topology.networks)) or "none configured"
        raise UsageError(
            _unknown(f"network `{_echo(name)}`", hint(name, topology.networks), "known networks", known)
        )
    return spec


def _sequencer(spec: NetworkSpec, word: str, allow_all: bool = False) -> str:
    ids = [s.id for s in spec.sequencers]
    if not _ID.match(word):
        raise UsageError(f"`{_echo(word)}` is not a valid sequencer id")
    if spec.sequencer(word) is None:
        guess = hint(word, [*ids, ALL] if allow_all else ids)
        raise UsageError(
            _unknown(f"sequencer `{_echo(word)}` in {spec.name}", guess, "its sequencers", ", ".join(ids))
        )
    return word


def _unknown(what: str, guess: str, label: str, listing: str) -> str:
    """`unknown network `x`; known networks: …`, or with a guess `… — did you mean `y`? Known …`."""
    if guess:
        return f"unknown {what}{guess} {label.capitalize()}: {listing}"
    return f"unknown {what}; {label}: {listing}"


def _optional_target(spec: NetworkSpec, parsed: _Parsed, allow_all: bool) -> str | None:
    if len(parsed.positional) < 2:
        return None
    word = parsed.positional[1]
    if allow_all and word == ALL:
        return None
    return _sequencer(spec, word, allow_all)


def _pause(verb: str, parsed: _Parsed, topology: Topology) -> ops.Operation:
    spec = _network(verb, parsed, topology, 1, 2)
    return ops.Pause(network=spec.name, sequencer=_optional_target(spec, parsed, allow_all=True))


def _resume(verb: str, parsed: _Parsed, topology: Topology) -> ops.Operation:
    spec = _network(verb, parsed, topology, 1, 2)
    return ops.Resume(
        network=spec.name,
        sequencer=_optional_target(spec, parsed, allow_all=True),
        force="--force" in parsed.flags,
    )


def _override(verb: str, parsed: _Parsed, topology: Topology) -> ops.Operation:
    spec = _network(verb, parsed, topology, 2, 2)
    clear, node = "--clear" in parsed.flags, "--node" in parsed.flags
    if clear and node:
        raise UsageError(
            "`--clear --node` is refused: op-node's leader override can only be cleared by restarting op-node"
        )
    return ops.OverrideLeader(
        network=spec.name, sequencer=_sequencer(spec, parsed.positional[1]), clear=clear, node=node
    )


def _single_target(verb: str, parsed: _Parsed, topology: Topology) -> ops.Operation:
    spec = _network(verb, parsed, topology, 2, 2)
    target = _sequencer(spec, parsed.positional[1])
    match verb:
        case "add-voter":
            return ops.AddVoter(network=spec.name, sequencer=target)
        case "add-nonvoter":
            return ops.AddNonvoter(network=spec.name, sequencer=target)
        case "remove-server":
            return ops.RemoveServer(network=spec.name, sequencer=target)
        case _:
            return ops.StopSequencer(network=spec.name, sequencer=target)


def _transfer(verb: str, parsed: _Parsed, topology: Topology) -> ops.Operation:
    spec = _network(verb, parsed, topology, 1, 2)
    return ops.TransferLeader(
        network=spec.name,
        sequencer=_optional_target(spec, parsed, allow_all=False),
        force="--force" in parsed.flags,
    )


def _start(verb: str, parsed: _Parsed, topology: Topology) -> ops.Operation:
    spec = _network(verb, parsed, topology, 2, 2)
    return ops.StartSequencer(
        network=spec.name,
        sequencer=_sequencer(spec, parsed.positional[1]),
        hash=parsed.hash,
        force="--force" in parsed.flags,
    )


_BUILDERS: dict[str, Callable[[str, _Parsed, Topology], ops.Operation]] = {
    "pause": _pause,
    "resume": _resume,
    "override-leader": _override,
    "add-voter": _single_target,
    "add-nonvoter": _single_target,
    "remove-server": _single_target,
    "transfer-leader": _transfer,
    "stop-sequencer": _single_target,
    "start-sequencer": _start,
}
