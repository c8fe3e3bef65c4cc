"""L2 blocks as the simulator models them: deterministic hashes, L1 origins and JSON shapes.

Hashes are sha256 of (network, number, producer, timestamp) so two sequencers producing at the same
height (split brain) make visibly different blocks, and a run is reproducible.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

L1_BASE = 20_000_000
# L1 blocks come every 12 s, L2 every 2 s by default: one L1 origin per six L2 blocks is close enough.
L2_PER_L1 = 6


def fake_hash(*parts: object) -> str:
    """A 0x-prefixed 32-byte hex string derived from the parts."""
    return "0x" + hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Block:
    number: int
    hash: str
    parent_hash: str
    timestamp: int
    producer: str

    def l2_ref(self, network: str) -> dict[str, Any]:
        """`L2BlockRef` JSON as op-node serialises it (numbers as JSON numbers)."""
        l1_number = L1_BASE + self.number // L2_PER_L1
        return {
            "hash": self.hash,
            "number": self.number,
            "parentHash": self.parent_hash,
            "timestamp": self.timestamp,
            "l1origin": {"hash": l1_hash(network, l1_number), "number": l1_number},
            "sequenceNumber": self.number % L2_PER_L1,
        }

    def payload_envelope(self) -> dict[str, Any]:
        """The `ExecutionPayloadEnvelope` the sequencer commits to the conductor (trimmed to what matters)."""
        return {
            "executionPayload": {
                "parentHash": self.parent_hash,
                "blockNumber": hex(self.number),
                "timestamp": hex(self.timestamp),
                "blockHash": self.hash,
                "transactions": [],
            }
        }


def l1_hash(network: str, number: int) -> str:
    return fake_hash(network, "l1", number)


def l1_ref(network: str, number: int, timestamp: int) -> dict[str, Any]:
    return {
        "hash": l1_hash(network, number),
        "number": number,
        "parentHash": l1_hash(network, number - 1),
        "timestamp": timestamp,
    }


def ancestor(network: str, number: int, timestamp: int) -> Block:
    """A block from before the simulation started (the chain's pre-history)."""
    return Block(
        number=number,
        hash=fake_hash(network, number, "history"),
        parent_hash=fake_hash(network, number - 1, "history"),
        timestamp=timestamp,
        producer="history",
    )


def child(network: str, parent: Block, producer: str, timestamp: int) -> Block:
    number = parent.number + 1
    return Block(
        number=number,
        hash=fake_hash(network, number, producer, timestamp),
        parent_hash=parent.hash,
        timestamp=timestamp,
        producer=producer,
    )
