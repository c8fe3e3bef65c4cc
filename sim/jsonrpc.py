"""A JSON-RPC 2.0 dispatcher that answers like go-ethereum's `rpc` package (used by op-conductor and op-node).

Positional params only, decoded with Go `encoding/json` rules and error texts; batches run sequentially
in order; plain errors are -32000. HTTP concerns (status codes, content type) live in `sim.endpoints`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from sim.errors import SimError

ParamType = Literal["bool", "string", "uint64", "hash", "object", "number"]
C = TypeVar("C")

_GO_TYPES: dict[ParamType, str] = {
    "bool": "bool",
    "string": "string",
    "uint64": "uint64",
    "hash": "common.Hash",
    "object": "eth.ExecutionPayloadEnvelope",
    "number": "float64",
}
_ZERO: dict[ParamType, Any] = {
    "bool": False,
    "string": "",
    "uint64": 0,
    "hash": "0x" + "0" * 64,
    "object": {},
    "number": 0.0,
}
_PY_TYPES: dict[ParamType, type] = {
    "bool": bool,
    "string": str,
    "object": dict,
    "hash": str,
    "uint64": int,
    "number": float,
}
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


class ParamError(Exception):
    """Raised when params do not decode; becomes -32602 with this message."""


@dataclass(frozen=True)
class Method(Generic[C]):
    params: tuple[ParamType, ...]
    handler: Callable[[C, list[Any]], Awaitable[Any]]
    # Trailing params past this many may be left out (geth: pointer-typed arguments); None = all required.
    required: int | None = None


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _decode(index: int, kind: ParamType, value: Any) -> Any:
    if value is None:  # Go leaves a non-pointer untouched on null
        return _ZERO[kind]
    go_type = _GO_TYPES[kind]
    prefix = f"invalid argument {index}: "
    if kind == "hash":
        if not isinstance(value, str):
            raise ParamError(f"{prefix}json: cannot unmarshal non-string into Go value of type {go_type}")
        if not value.startswith(("0x", "0X")):
            raise ParamError(
                f"{prefix}json: cannot unmarshal hex string without 0x prefix into Go value of type {go_type}"
            )
        if not _HASH.match(value):
            raise ParamError(f"{prefix}hex string has length {len(value) - 2}, want 64 for {go_type}")
        return value.lower()
    if kind == "uint64":
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64:
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ParamError(f"{prefix}json: cannot unmarshal number {value} into Go value of type uint64")
    elif kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    elif isinstance(value, _PY_TYPES[kind]) and not (kind != "bool" and isinstance(value, bool)):
        return value
    raise ParamError(f"{prefix}json: cannot unmarshal {_json_kind(value)} into Go value of type {go_type}")


def decode_params(spec: tuple[ParamType, ...], raw: Any, required: int | None = None) -> list[Any]:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ParamError("non-array args")
    if len(raw) > len(spec):
        raise ParamError(f"too many arguments, want at most {len(spec)}")
    if len(raw) < (len(spec) if required is None else required):
        raise ParamError(f"missing value for required argument {len(raw)}")
    return [_decode(i, kind, value) for i, (kind, value) in enumerate(zip(spec, raw, strict=False))]


def error_object(code: int, message: str, msg_id: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


async def _call(
    table: Mapping[str, Method[C]], ctx: C, msg: Any, on_call: Callable[[str], None] | None = None
) -> dict[str, Any] | None:
    if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0" or not isinstance(msg.get("method"), str):
        return error_object(-32600, "invalid request", msg.get("id") if isinstance(msg, dict) else None)
    msg_id = msg.get("id")
    notification = "id" not in msg
    name: str = msg["method"]
    method = table.get(name)
    if method is None:
        response = error_object(-32601, f"the method {name} does not exist/is not available", msg_id)
    else:
        if on_call is not None:
            on_call(name)
        try:
            args = decode_params(method.params, msg.get("params"), method.required)
            result = await method.handler(ctx, args)
            response = {"jsonrpc": "2.0", "id": msg_id, "result": result}
        except ParamError as exc:
            response = error_object(-32602, str(exc), msg_id)
        except SimError as exc:
            response = error_object(-32000, exc.message, msg_id)
    return None if notification else response


async def handle(
    table: Mapping[str, Method[C]], ctx: C, body: bytes, on_call: Callable[[str], None] | None = None
) -> bytes:
    """One HTTP body in, one HTTP body out (empty when every message was a notification)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return _dump(error_object(-32700, "parse error"))
    if isinstance(parsed, list):
        if not parsed:
            return _dump(error_object(-32600, "empty batch"))
        answers = [a for a in [await _call(table, ctx, m, on_call) for m in parsed] if a is not None]
        return _dump(answers) if answers else b""
    answer = await _call(table, ctx, parsed, on_call)
    return b"" if answer is None else _dump(answer)


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"
