"""Decode a YAML clusters file cheaply, keeping line numbers for messages available on demand.

At 1,000 networks (a 1 MB file) PyYAML's pure-Python loader took ~12 s of CPU and, composing the
document twice (once for values, once for the line of every key), left the process ~95 MiB larger
for good: the node trees are freed, but into memory pages that the values still pin. So:

- libyaml's loader when PyYAML was built with it (it is in the manylinux wheels);
- the line numbers (a second compose) only when a problem or warning is reported;
- the decoded values are copied once through `pickle` after the node tree is gone, so the objects
  that live on sit in fresh pages and the parser's pages go back to the system (~22 MiB at 1,000
  networks). `pickle`, not JSON: YAML's int keys, dates and sets come back as they were.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from cluster.topology_problems import Loc, Problem, TopologyError

LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlLines(Mapping[Loc, int]):
    """Location -> 1-based line of a YAML text, composed the first time a line is asked for."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._lines: dict[Loc, int] | None = None

    def _load(self) -> dict[Loc, int]:
        if self._lines is None:
            node = yaml.compose(self._text, Loader=LOADER)
            self._lines = {loc: n.start_mark.line + 1 for loc, n in _walk(node, ())} if node else {}
        return self._lines

    def __getitem__(self, loc: Loc) -> int:
        return self._load()[loc]

    def __iter__(self) -> Iterator[Loc]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def parse_yaml(file: str, text: str) -> tuple[Any, YamlLines]:
    """The decoded document and its lazy line map; a syntax error raises `TopologyError`."""
    try:
        raw = yaml.load(text, Loader=LOADER)  # a safe loader: libyaml.s or PyYAML.s
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        raise TopologyError(
            [Problem(file=file, location="", message=f"YAML syntax error: {problem}", line=line)]
        ) from None
    return pickle.loads(pickle.dumps(raw)), YamlLines(text)  # our own bytes, just made


def _walk(node: yaml.Node, loc: Loc) -> Iterator[tuple[Loc, yaml.Node]]:
    yield loc, node
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                yield (*loc, key.value), key
                yield from _walk(value, (*loc, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            yield from _walk(value, (*loc, i))
