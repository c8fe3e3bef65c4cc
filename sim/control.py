"""The `sim_*` control namespace, served on its own port (`Simulator.control_url`).

Positional params only, like the real endpoints. Bad network/node/endpoint names give -32000 with the
reason. Every method returns null unless the table says otherwise.

| Method and params                                    | Effect                                             |
|------------------------------------------------------|----------------------------------------------------|
| `sim_kill` network, node, endpoint="conductor"       | process dies: port refuses; a conductor leaves raft|
| `sim_revive` network, node, endpoint=.., paused=false| restart on the same port; override/paused reset    |
| `sim_hang` network, node, endpoint                   | black hole: accept, never answer                   |
| `sim_unhang` network, node, endpoint                 | answer again (held requests are answered then)     |
| `sim_partition` network, node                        | cut the node off from its raft peers               |
| `sim_heal` network, node                             | undo `sim_partition`                               |
| `sim_stall` network, node, what="production", on=true| stop block production, or p2p sync (what="sync")   |
| `sim_setPeers` network, node, peers                  | op-node peer count (`opp2p_peerStats.connected`)   |
| `sim_malformed` network, node, endpoint, on=true     | answer every request with truncated JSON           |
| `sim_latency` network, node, endpoint, seconds       | delay every answer by `seconds` of real time       |
| `sim_splitBrain` network, node                       | make a follower's op-node active too               |
| `sim_advance` seconds                                | virtual mode only: step model time; returns now    |
| `sim_state` network=null                             | dump: leader, term, config, per-node flags         |
| `sim_requests` network=null                          | returns HTTP requests received by RPC endpoints    |

Endpoint is `conductor` or `node`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sim.errors import SimError
from sim.jsonrpc import Method

if TYPE_CHECKING:
    from sim.harness import Simulator


def _guarded(
    fn: Callable[[Simulator, list[Any]], Awaitable[Any]],
) -> Callable[[Simulator, list[Any]], Awaitable[Any]]:
    async def call(sim: Simulator, args: list[Any]) -> Any:
        try:
            return await fn(sim, args)
        except (KeyError, ValueError, RuntimeError) as exc:
            raise SimError(str(exc.args[0]) if exc.args else repr(exc)) from None

    return call


async def _kill(sim: Simulator, a: list[Any]) -> Any:
    await sim.kill(a[0], a[1], *(a[2:3] or ["conductor"]))


async def _revive(sim: Simulator, a: list[Any]) -> Any:
    endpoint = a[2] if len(a) > 2 else "conductor"
    await sim.revive(a[0], a[1], endpoint, paused=bool(a[3]) if len(a) > 3 else False)


async def _hang(sim: Simulator, a: list[Any]) -> Any:
    await sim.hang(a[0], a[1], a[2])


async def _unhang(sim: Simulator, a: list[Any]) -> Any:
    await sim.unhang(a[0], a[1], a[2])


async def _partition(sim: Simulator, a: list[Any]) -> Any:
    await sim.partition(a[0], a[1])


async def _heal(sim: Simulator, a: list[Any]) -> Any:
    await sim.heal(a[0], a[1])


async def _stall(sim: Simulator, a: list[Any]) -> Any:
    await sim.stall(a[0], a[1], a[2] if len(a) > 2 else "production", a[3] if len(a) > 3 else True)


async def _set_peers(sim: Simulator, a: list[Any]) -> Any:
    await sim.set_peers(a[0], a[1], a[2])


async def _malformed(sim: Simulator, a: list[Any]) -> Any:
    await sim.malformed(a[0], a[1], a[2], a[3] if len(a) > 3 else True)


async def _latency(sim: Simulator, a: list[Any]) -> Any:
    await sim.latency(a[0], a[1], a[2], a[3])


async def _restart(sim: Simulator, a: list[Any]) -> Any:
    flags = a[2] if len(a) > 2 and isinstance(a[2], dict) else {}
    await sim.restart(
        a[0],
        a[1],
        raft_bootstrap=str(flags.get("OP_CONDUCTOR_RAFT_BOOTSTRAP", "false")).lower() == "true",
        paused=str(flags.get("OP_CONDUCTOR_PAUSED", "false")).lower() == "true",
        sequencer_enabled=str(flags.get("OP_NODE_SEQUENCER_ENABLED", "false")).lower() == "true",
    )


async def _slow_answers(sim: Simulator, a: list[Any]) -> Any:
    await sim.slow_answers(a[0], a[1], a[2], a[3])


async def _sync_rate(sim: Simulator, a: list[Any]) -> Any:
    await sim.set_sync_rate(a[0], a[1], a[2])


async def _calls(sim: Simulator, a: list[Any]) -> Any:
    return sim.calls(a[0], a[1])


async def _split_brain(sim: Simulator, a: list[Any]) -> Any:
    await sim.split_brain(a[0], a[1])


async def _advance(sim: Simulator, a: list[Any]) -> Any:
    await sim.advance(a[0])
    return sim.clock.now()


async def _requests(sim: Simulator, a: list[Any]) -> Any:
    return sim.requests(a[0] if a and a[0] else None)


async def _state(sim: Simulator, a: list[Any]) -> Any:
    return sim.state(a[0] if a and a[0] else None)


def _m(
    params: tuple[Any, ...], fn: Callable[[Simulator, list[Any]], Awaitable[Any]], required: int
) -> Method[Any]:
    return Method(params, _guarded(fn), required)


CONTROL_METHODS: dict[str, Method[Any]] = {
    "sim_kill": _m(("string", "string", "string"), _kill, 2),
    "sim_revive": _m(("string", "string", "string", "bool"), _revive, 2),
    "sim_hang": _m(("string", "string", "string"), _hang, 3),
    "sim_unhang": _m(("string", "string", "string"), _unhang, 3),
    "sim_partition": _m(("string", "string"), _partition, 2),
    "sim_heal": _m(("string", "string"), _heal, 2),
    "sim_stall": _m(("string", "string", "string", "bool"), _stall, 2),
    "sim_setPeers": _m(("string", "string", "uint64"), _set_peers, 3),
    "sim_malformed": _m(("string", "string", "string", "bool"), _malformed, 3),
    "sim_latency": _m(("string", "string", "string", "number"), _latency, 4),
    "sim_restart": _m(("string", "string", "object"), _restart, 2),
    "sim_slowAnswers": _m(("string", "string", "string", "number"), _slow_answers, 4),
    "sim_setSyncRate": _m(("string", "string", "number"), _sync_rate, 3),
    "sim_calls": _m(("string", "string"), _calls, 2),
    "sim_splitBrain": _m(("string", "string"), _split_brain, 2),
    "sim_advance": _m(("number",), _advance, 1),
    "sim_state": _m(("string",), _state, 0),
    "sim_requests": _m(("string",), _requests, 0),
}
