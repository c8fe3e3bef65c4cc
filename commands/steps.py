"""Run one plan step through the typed clients (`cluster.client`), so their version fallbacks apply.

A `RpcStep` names an op-conductor or op-node method; `STEP_CALLS` maps each method a plan may contain
to the typed client call that sends it. That is how the old-conductor fallback of
`ConductorClient.override_leader` (no parameter before op #12451) runs in production.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import JsonValue

from cluster.client import ConductorClient, NodeClient
from cluster.redact import redact_url
from cluster.rpc import JsonRpcClient, MalformedResponse
from cluster.topology import SequencerSpec
from commands.plans import RpcStep

logger = logging.getLogger(__name__)

ConductorCall = Callable[[ConductorClient, list[Any]], Awaitable[JsonValue]]
NodeCall = Callable[[NodeClient, list[Any]], Awaitable[JsonValue]]

CONDUCTOR_CALLS: dict[str, ConductorCall] = {
    "conductor_pause": lambda c, p: c.pause(),
    "conductor_resume": lambda c, p: c.resume(),
    "conductor_overrideLeader": lambda c, p: c.override_leader(bool(p[0]) if p else True),
    "conductor_addServerAsVoter": lambda c, p: c.add_server_as_voter(str(p[0]), str(p[1]), int(p[2])),
    "conductor_addServerAsNonvoter": lambda c, p: c.add_server_as_nonvoter(str(p[0]), str(p[1]), int(p[2])),
    "conductor_removeServer": lambda c, p: c.remove_server(str(p[0]), int(p[1])),
    "conductor_transferLeader": lambda c, p: c.transfer_leader(),
    "conductor_transferLeaderToServer": lambda c, p: c.transfer_leader_to_server(str(p[0]), str(p[1])),
}
NODE_CALLS: dict[str, NodeCall] = {
    "admin_stopSequencer": lambda n, p: n.stop_sequencer(),
    "admin_startSequencer": lambda n, p: n.start_sequencer(str(p[0])),
    "admin_overrideLeader": lambda n, p: n.override_leader(),
}


async def call(rpc: JsonRpcClient, seq: SequencerSpec, step: RpcStep, params: list[JsonValue]) -> JsonValue:
    """Send one step to `seq`; raises `cluster.rpc.RpcError` (an unknown method counts as malformed)."""
    if step.endpoint == "conductor":
        url = seq.conductor_rpc_url
        conductor_call = CONDUCTOR_CALLS.get(step.method)
        if conductor_call is None:
            raise MalformedResponse(url, "no typed call for this method", step.method)
        logger.info("rpc step method=%s url=%s", step.method, redact_url(url))
        return await conductor_call(ConductorClient(rpc, url), params)
    url = seq.node_rpc_url
    node_call = NODE_CALLS.get(step.method)
    if node_call is None:
        raise MalformedResponse(url, "no typed call for this method", step.method)
    logger.info("rpc step method=%s url=%s", step.method, redact_url(url))
    return await node_call(NodeClient(rpc, url), params)
