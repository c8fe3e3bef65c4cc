"""What the bot did to nodes that the nodes cannot report: op-node leader overrides it set.

op-node's `admin_overrideLeader` is a one-way in-memory flag with no read method (reference §2.1), so
after disaster recovery nobody can see it on the node. The executor records each one here (which
request, who asked and approved, when); preflight, `--clear` and the approval message show it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from store.gateway import text

if TYPE_CHECKING:
    from store.gateway import Store

# See `Keys.node_overrides`.
NODE_OVERRIDE_TTL_MS = 30 * 24 * 3600 * 1000


class NodeOverrideMark(BaseModel):
    """One op-node override the bot set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sequencer: str
    request_id: str
    requester: str
    approvers: tuple[str, ...] = ()
    at: float


async def record_node_override(store: Store, network: str, mark: NodeOverrideMark) -> None:
    key = store.keys.node_overrides(network)
    async with store.redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, mark.sequencer, mark.model_dump_json())
        pipe.pexpire(key, NODE_OVERRIDE_TTL_MS)
        await pipe.execute()


async def node_overrides(store: Store, network: str) -> dict[str, NodeOverrideMark]:
    """Every recorded op-node override of the network, by sequencer."""
    raw = await store.redis.hgetall(store.keys.node_overrides(network))
    out: dict[str, NodeOverrideMark] = {}
    for field, value in raw.items():
        mark = NodeOverrideMark.model_validate_json(text(value))
        out[text(field)] = mark
    return out
