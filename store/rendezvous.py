"""Which live replica watches which network: rendezvous (highest-random-weight) hashing. Pure.

Every replica computes the same answer from the same live set, with no coordination: a network goes
to the replica whose hash of (replica, network) is highest. N replicas each get about 1/N of the
networks, and when one joins or leaves only the networks it wins or held move (about 1/N), unlike
`hash % N` where nearly all would. The watcher lease stays the fence: two replicas that briefly
disagree about the live set (one saw a heartbeat expire first) still cannot both watch a network.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence


# Every tick asks for its network's owner: the weights are hashed once per pair, not every time.
@functools.lru_cache(maxsize=1 << 16)
def weight(replica: str, network: str) -> int:
    """A stable 64-bit pseudo-random weight of the pair (the same in every process and version)."""
    digest = hashlib.blake2b(f"{replica}\x00{network}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(network: str, replicas: Sequence[str]) -> str | None:
    """The replica that watches `network`, or None when no replica is live."""
    if not replicas:
        return None
    # Ties (astronomically unlikely) go to the larger id, so every replica still agrees.
    return max(replicas, key=lambda r: (weight(r, network), r))


def assign(networks: Iterable[str], replicas: Sequence[str]) -> dict[str, str]:
    """Every network's owner among `replicas` (empty when there are none)."""
    if not replicas:
        return {}
    return {n: owner(n, replicas) or "" for n in networks}


def phase(network: str, interval: float) -> float:
    """A deterministic offset in [0, interval) for `network`, so ticks spread over the interval
    instead of all starting at once (and a restart keeps each network's slot)."""
    digest = hashlib.blake2b(network.encode(), digest_size=8, person=b"phase").digest()
    return int.from_bytes(digest, "big") / 2**64 * interval
