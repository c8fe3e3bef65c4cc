"""Rendezvous assignment: every replica agrees, the load is balanced, and few networks move."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from store.rendezvous import assign, owner, phase

NETWORKS = [f"net-{i}" for i in range(3000)]
REPLICAS = ["host-a:11:1f2e", "host-b:12:9c0d", "host-c:13:77aa"]


def test_three_replicas_each_get_about_a_third_of_the_networks() -> None:
    counts = Counter(assign(NETWORKS, REPLICAS).values())
    assert set(counts) == set(REPLICAS)
    for replica in REPLICAS:
        assert 0.9 / 3 < counts[replica] / len(NETWORKS) < 1.1 / 3, counts


def test_the_answer_does_not_depend_on_the_order_replicas_are_listed_in() -> None:
    assert assign(NETWORKS, REPLICAS) == assign(NETWORKS, list(reversed(REPLICAS)))


def test_a_dead_replica_moves_only_its_own_networks_spread_over_the_survivors() -> None:
    before = assign(NETWORKS, REPLICAS)
    after = assign(NETWORKS, REPLICAS[:2])
    moved = {n for n in NETWORKS if before[n] != after[n]}
    assert moved == {n for n in NETWORKS if before[n] == REPLICAS[2]}
    # The orphans are shared by the survivors, not dumped on one of them.
    gained = Counter(after[n] for n in moved)
    assert min(gained.values()) > 0.4 * len(moved)


def test_a_new_replica_takes_about_a_quarter_and_nothing_moves_between_the_others() -> None:
    before = assign(NETWORKS, REPLICAS)
    after = assign(NETWORKS, [*REPLICAS, "host-d:14:0001"])
    moved = [n for n in NETWORKS if before[n] != after[n]]
    assert all(after[n] == "host-d:14:0001" for n in moved)
    assert 0.2 < len(moved) / len(NETWORKS) < 0.3


def test_no_replica_means_no_owner() -> None:
    assert owner("net-1", []) is None
    assert assign(NETWORKS, []) == {}


@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6, unique=True), st.text(max_size=12))
def test_the_owner_is_always_one_of_the_live_replicas(replicas: list[str], network: str) -> None:
    assert owner(network, replicas) in replicas


def test_tick_phases_spread_over_the_interval_and_are_stable() -> None:
    phases = [phase(n, 2.0) for n in NETWORKS]
    assert all(0 <= p < 2.0 for p in phases)
    assert phase("net-7", 2.0) == phase("net-7", 2.0)
    # Each quarter of the interval gets about a quarter of the ticks, not all at the start.
    quarters = Counter(int(p / 0.5) for p in phases)
    assert all(0.2 < quarters[q] / len(NETWORKS) < 0.3 for q in range(4)), quarters
