"""The op-conductor and op-node JSON-RPC method tables, each handler parameterised by the node it serves."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any

from sim import answers
from sim.chain import Block
from sim.errors import SimError
from sim.jsonrpc import Method
from sim.network import SimNetwork
from sim.node import ERR_CONNECTION_DOWN, SimNode

# op-conductor dials for 5 s; a shorter budget keeps a black-holed address from stalling tests.
DIAL_TIMEOUT = 1.0


@dataclass(frozen=True)
class NodeContext:
    net: SimNetwork
    node: SimNode


async def dial(addr: str, budget: float = DIAL_TIMEOUT) -> None:
    """net.DialTimeout("tcp", addr) with Go's error texts."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise SimError(f"dial tcp: address {addr}: missing port in address")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), budget)
    except TimeoutError:
        raise SimError(f"dial tcp {addr}: i/o timeout") from None
    except ConnectionRefusedError:
        raise SimError(f"dial tcp {addr}: connect: connection refused") from None
    except socket.gaierror:
        raise SimError(f"dial tcp: lookup {host}: no such host") from None
    except OSError as exc:
        raise SimError(f"dial tcp {addr}: connect: {exc.strerror or exc}") from None
    writer.close()
    await writer.wait_closed()


def block_from_envelope(envelope: dict[str, Any], producer: str) -> Block:
    payload = envelope.get("executionPayload")
    try:
        assert isinstance(payload, dict)
        return Block(
            number=int(payload["blockNumber"], 16),
            hash=str(payload["blockHash"]).lower(),
            parent_hash=str(payload["parentHash"]).lower(),
            timestamp=int(payload["timestamp"], 16),
            producer=producer,
        )
    except (AssertionError, KeyError, TypeError, ValueError):
        raise SimError("failed to decode payload envelope") from None


# ---- op-conductor ------------------------------------------------------------------------------------


async def _leader(c: NodeContext, _: list[Any]) -> Any:
    return c.net.is_leader(c.node)


async def _leader_with_id(c: NodeContext, _: list[Any]) -> Any:
    return c.net.leader_with_id(c.node)


async def _leader_overridden(c: NodeContext, _: list[Any]) -> Any:
    return c.node.override


async def _override_leader(c: NodeContext, args: list[Any]) -> Any:
    c.node.override = args[0]
    return None


async def _active(c: NodeContext, _: list[Any]) -> Any:
    return not c.node.stopped and not c.node.paused


async def _paused(c: NodeContext, _: list[Any]) -> Any:
    return c.node.paused


async def _stopped(c: NodeContext, _: list[Any]) -> Any:
    return c.node.stopped


async def _pause(c: NodeContext, _: list[Any]) -> Any:
    c.node.paused = True
    return None


async def _resume(c: NodeContext, _: list[Any]) -> Any:
    if not c.node.answers("node"):
        inner = f"failed to get sequencer active status: {ERR_CONNECTION_DOWN}"
        raise SimError(f"cannot resume because failed to get sequencer active status: {inner}")
    c.node.active = c.node.seq_active
    c.node.paused = False
    c.node.action_pending = True
    return None


async def _stop(c: NodeContext, _: list[Any]) -> Any:
    # Full shutdown: the endpoint closes its port once this response is written.
    c.node.stopped = True
    c.node.raft_shutdown = True
    c.net.kill(c.node, "conductor")
    return None


async def _sequencer_healthy(c: NodeContext, _: list[Any]) -> Any:
    return c.node.healthy


async def _membership(c: NodeContext, _: list[Any]) -> Any:
    return c.net.membership(c.node)


async def _add(c: NodeContext, args: list[Any], *, voter: bool) -> Any:
    server_id, addr, version = args
    await dial(addr)  # op-conductor dials before checking leadership (op PR #11210)
    c.net.add_server(c.node, server_id, addr, version, voter=voter)
    return None


async def _add_voter(c: NodeContext, args: list[Any]) -> Any:
    return await _add(c, args, voter=True)


async def _add_nonvoter(c: NodeContext, args: list[Any]) -> Any:
    return await _add(c, args, voter=False)


async def _remove(c: NodeContext, args: list[Any]) -> Any:
    c.net.remove_server(c.node, args[0], args[1])
    return None


async def _transfer(c: NodeContext, _: list[Any]) -> Any:
    c.net.transfer_leader(c.node)
    return None


async def _transfer_to(c: NodeContext, args: list[Any]) -> Any:
    c.net.transfer_leader_to(c.node, args[0], args[1])
    return None


async def _commit(c: NodeContext, args: list[Any]) -> Any:
    c.net.commit_unsafe_payload(c.node, block_from_envelope(args[0], c.node.id))
    return None


def _proxied(target: Method[NodeContext]) -> Method[NodeContext]:
    """The conductor's proxy: run the op-node call, then refuse the answer on a non-leader."""

    async def call(c: NodeContext, args: list[Any]) -> Any:
        if not c.node.answers("node"):
            raise SimError(ERR_CONNECTION_DOWN)
        result = await target.handler(c, args)
        if not c.net.is_leader(c.node):
            raise SimError("refusing to proxy request to non-leader sequencer")
        return result

    return Method(target.params, call)


# ---- op-node ---------------------------------------------------------------------------------------------


async def _sequencer_active(c: NodeContext, _: list[Any]) -> Any:
    return c.node.seq_active


async def _start_sequencer(c: NodeContext, args: list[Any]) -> Any:
    c.net.start_sequencer(c.node, args[0])
    return None


async def _stop_sequencer(c: NodeContext, _: list[Any]) -> Any:
    return c.net.stop_sequencer(c.node)


async def _node_override_leader(c: NodeContext, _: list[Any]) -> Any:
    c.node.node_override = True  # one-way until op-node restarts
    return None


async def _conductor_enabled(c: NodeContext, _: list[Any]) -> Any:
    return c.node.conductor_enabled


async def _post_unsafe_payload(c: NodeContext, args: list[Any]) -> Any:
    c.net.post_unsafe_payload(c.node, block_from_envelope(args[0], "external"))
    return None


async def _sync_status(c: NodeContext, _: list[Any]) -> Any:
    return answers.sync_status(c.net, c.node)


async def _peer_stats(c: NodeContext, _: list[Any]) -> Any:
    return answers.peer_stats(c.node)


async def _rollup_config(c: NodeContext, _: list[Any]) -> Any:
    return answers.rollup_config(c.net)


async def _version(c: NodeContext, _: list[Any]) -> Any:
    return "v1.9.4-sim"


NODE_METHODS: dict[str, Method[NodeContext]] = {
    "admin_sequencerActive": Method((), _sequencer_active),
    "admin_startSequencer": Method(("hash",), _start_sequencer),
    "admin_stopSequencer": Method((), _stop_sequencer),
    "admin_overrideLeader": Method((), _node_override_leader),
    "admin_conductorEnabled": Method((), _conductor_enabled),
    "admin_postUnsafePayload": Method(("object",), _post_unsafe_payload),
    "optimism_syncStatus": Method((), _sync_status),
    "optimism_rollupConfig": Method((), _rollup_config),
    "optimism_version": Method((), _version),
    "opp2p_peerStats": Method((), _peer_stats),
}

CONDUCTOR_METHODS: dict[str, Method[NodeContext]] = {
    "conductor_leader": Method((), _leader),
    "conductor_leaderWithID": Method((), _leader_with_id),
    "conductor_leaderOverridden": Method((), _leader_overridden),
    "conductor_overrideLeader": Method(("bool",), _override_leader),
    "conductor_active": Method((), _active),
    "conductor_paused": Method((), _paused),
    "conductor_stopped": Method((), _stopped),
    "conductor_pause": Method((), _pause),
    "conductor_resume": Method((), _resume),
    "conductor_stop": Method((), _stop),
    "conductor_sequencerHealthy": Method((), _sequencer_healthy),
    "conductor_clusterMembership": Method((), _membership),
    "conductor_addServerAsVoter": Method(("string", "string", "uint64"), _add_voter),
    "conductor_addServerAsNonvoter": Method(("string", "string", "uint64"), _add_nonvoter),
    "conductor_removeServer": Method(("string", "uint64"), _remove),
    "conductor_transferLeader": Method((), _transfer),
    "conductor_transferLeaderToServer": Method(("string", "string"), _transfer_to),
    "conductor_commitUnsafePayload": Method(("object",), _commit),
    "optimism_syncStatus": _proxied(NODE_METHODS["optimism_syncStatus"]),
    "optimism_rollupConfig": _proxied(NODE_METHODS["optimism_rollupConfig"]),
    "admin_sequencerActive": _proxied(NODE_METHODS["admin_sequencerActive"]),
}
