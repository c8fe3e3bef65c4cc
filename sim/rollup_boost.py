"""rollup-boost's debug JSON-RPC, one per simulated sequencer (reference §7).

`debug_setExecutionMode [{"execution_mode": "enabled"|"dry_run"|"disabled"}]` answers
`{"execution_mode": mode}`; `debug_getExecutionMode []` answers the same object. Switching needs no
restart. The mode lives on the node (`SimNode.execution_mode`), so `sim_state` shows it.
"""

from __future__ import annotations

from typing import Any

from sim.errors import SimError
from sim.jsonrpc import Method
from sim.methods import NodeContext

EXECUTION_MODES = ("enabled", "dry_run", "disabled")


async def _set_mode(c: NodeContext, args: list[Any]) -> Any:
    wanted = args[0].get("execution_mode") if isinstance(args[0], dict) else None
    if wanted not in EXECUTION_MODES:
        raise SimError(f"invalid execution mode: {wanted!r}")
    c.node.execution_mode = wanted
    return {"execution_mode": wanted}


async def _get_mode(c: NodeContext, _: list[Any]) -> Any:
    return {"execution_mode": c.node.execution_mode}


ROLLUP_BOOST_METHODS: dict[str, Method[NodeContext]] = {
    "debug_setExecutionMode": Method(("object",), _set_mode),
    "debug_getExecutionMode": Method((), _get_mode),
}
