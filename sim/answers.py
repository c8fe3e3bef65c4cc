"""What op-node answers to the read-only calls the bot makes (`optimism_syncStatus`,
`opp2p_peerStats`, `optimism_rollupConfig`), built from the simulated network's state."""

from __future__ import annotations

from typing import Any

from sim import chain
from sim.network import SimNetwork
from sim.node import SimNode


def sync_status(net: SimNetwork, node: SimNode) -> dict[str, Any]:
    now = int(net.clock.now())
    head = node.head
    safe = net.block_at(max(0, head.number - net.params.safe_lag_blocks))
    finalized = net.block_at(max(0, head.number - 2 * net.params.safe_lag_blocks))
    l1_head = chain.L1_BASE + head.number // chain.L2_PER_L1 + 2
    l1 = chain.l1_ref(net.name, l1_head, now)
    l1_safe = chain.l1_ref(net.name, l1_head - 10, now - 120)
    l1_final = chain.l1_ref(net.name, l1_head - 64, now - 768)
    return {
        "current_l1": l1,
        "current_l1_finalized": l1_final,
        "head_l1": l1,
        "safe_l1": l1_safe,
        "finalized_l1": l1_final,
        "unsafe_l2": head.l2_ref(net.name),
        "safe_l2": safe.l2_ref(net.name),
        "finalized_l2": finalized.l2_ref(net.name),
        "pending_safe_l2": safe.l2_ref(net.name),
        "cross_unsafe_l2": head.l2_ref(net.name),
        "local_safe_l2": safe.l2_ref(net.name),
    }


def peer_stats(node: SimNode) -> dict[str, int]:
    p = node.peers
    return {
        "connected": p,
        "table": p * 3,
        "blocksTopic": p,
        "blocksTopicV2": p,
        "blocksTopicV3": p,
        "banned": 0,
        "known": p * 10,
    }


def rollup_config(net: SimNetwork) -> dict[str, Any]:
    genesis = net.block_at(0)
    return {
        "genesis": {
            "l1": {"hash": chain.l1_hash(net.name, chain.L1_BASE), "number": chain.L1_BASE},
            "l2": {"hash": genesis.hash, "number": 0},
            "l2_time": genesis.timestamp,
        },
        "block_time": int(net.params.block_time) if net.params.block_time >= 1 else net.params.block_time,
        "max_sequencer_drift": 600,
        "seq_window_size": 3600,
        "channel_timeout": 300,
        "l2_chain_id": 900_000 + sum(map(ord, net.name)),
    }
