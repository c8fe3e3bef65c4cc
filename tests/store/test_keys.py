"""The keyspace: every network key in its network's cluster slot, bad names refused."""

from __future__ import annotations

import pytest

from store.keys import Keys, hash_tag


def test_every_network_key_carries_the_network_hash_tag() -> None:
    keys = Keys()
    built = [
        keys.request("op-mainnet", "r1"),
        keys.pending("op-mainnet"),
        keys.lock("op-mainnet"),
        keys.fencing_epoch(keys.lock("op-mainnet")),
        keys.audit("op-mainnet"),
        keys.alert("op-mainnet", "no_leader:cluster"),
        keys.alerts("op-mainnet"),
        keys.memory("op-mainnet"),
        keys.watch_lease("op-mainnet"),
        keys.silence("op-mainnet"),
        keys.once("op-mainnet", "tick:42"),
    ]
    assert all(k.startswith("cb:{op-mainnet}:") for k in built)
    assert {hash_tag(k) for k in built} == {"op-mainnet"}
    assert len(set(built)) == len(built)


def test_documented_key_shapes() -> None:
    keys = Keys()
    assert keys.request("op", "abc") == "cb:{op}:req:abc"
    assert keys.watch_lease("op") == "cb:{op}:lease:watch"
    assert keys.usergroup("oncall") == "cb:slack:usergroup:oncall"
    assert keys.seen("123.456") == "cb:slack:seen:123.456"
    assert Keys(prefix="stage").pending("op") == "stage:{op}:pending"


@pytest.mark.parametrize("network", ["", "a{b}", "has space", "x}y"])
def test_network_names_that_would_break_the_hash_tag_are_refused(network: str) -> None:
    with pytest.raises(ValueError, match="network name"):
        Keys().lock(network)


def test_key_parts_with_braces_are_refused() -> None:
    with pytest.raises(ValueError, match="key part"):
        Keys().request("op", "{other}")
