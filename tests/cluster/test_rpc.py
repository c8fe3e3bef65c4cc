"""The JSON-RPC client against a real HTTP peer (a tiny aiohttp server): every failure is typed."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web

from cluster.http_pool import HttpPool
from cluster.rpc import (
    HttpClient,
    HttpStatusError,
    JsonRpcClient,
    JsonRpcError,
    MalformedResponse,
    RpcError,
    RpcTimeout,
    Unreachable,
    call_step,
)
from cluster.topology import Topology

# (method, params) -> result, or raise RpcFailure to answer an error object
Answer = Callable[[str, list[Any]], Any]


class RpcFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _answer_one(answer: Answer, req: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"jsonrpc": "2.0", "id": req["id"], "result": answer(req["method"], req.get("params", []))}
    except RpcFailure as f:
        return {"jsonrpc": "2.0", "id": req["id"], "error": {"code": f.code, "message": f.message}}


@asynccontextmanager
async def scripted_server(
    answer: Answer | None = None,
    raw: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None,
) -> AsyncIterator[tuple[str, list[Any]]]:
    """A JSON-RPC server on an ephemeral port; yields (url, list of request bodies received)."""
    seen: list[Any] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        seen.append(body)
        if raw is not None:
            return await raw(request)
        assert answer is not None
        if isinstance(body, list):
            return web.json_response([_answer_one(answer, r) for r in body])
        return web.json_response(_answer_one(answer, body))

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/", seen
    finally:
        await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def echo(method: str, params: list[Any]) -> Any:
    return {"method": method, "params": params}


@pytest.fixture(params=["httpx", "keepalive", "aiohttp"])
async def http(request: pytest.FixtureRequest) -> AsyncIterator[HttpClient]:
    """Every transport (the shared httpx client, the watcher's keep-alive pool, and aiohttp, the
    benchmark's baseline for it) gives one error tree."""
    if request.param == "keepalive":
        async with HttpPool(Topology(networks={})) as pool:
            yield pool.client("any")
        return
    if request.param == "aiohttp":
        async with aiohttp.ClientSession() as session:
            yield session
        return
    async with httpx.AsyncClient() as client:
        yield client


async def test_call_returns_the_result_and_sends_positional_params(http: HttpClient) -> None:
    async with scripted_server(echo) as (url, seen):
        result = await JsonRpcClient(http).call(
            url, "conductor_addServerAsVoter", ["seq-3", "seq-3:50050", 0]
        )
    assert result == {"method": "conductor_addServerAsVoter", "params": ["seq-3", "seq-3:50050", 0]}
    assert seen[0]["jsonrpc"] == "2.0" and seen[0]["method"] == "conductor_addServerAsVoter"


async def test_batch_is_one_request_with_results_in_call_order(http: HttpClient) -> None:
    def answer(method: str, params: list[Any]) -> Any:
        if method == "conductor_stop":
            raise RpcFailure(-32000, "boom")
        return method

    async with scripted_server(answer) as (url, seen):
        results = await JsonRpcClient(http).batch(
            url, [("conductor_leader", ()), ("conductor_stop", ()), ("conductor_active", ())]
        )
    assert len(seen) == 1 and isinstance(seen[0], list) and len(seen[0]) == 3
    assert results[0] == "conductor_leader" and results[2] == "conductor_active"
    err = results[1]
    assert isinstance(err, JsonRpcError)
    assert (err.kind, err.code, err.method, err.rpc_message) == ("rpc", -32000, "conductor_stop", "boom")


async def test_batch_answers_matched_by_id_even_if_reordered(http: HttpClient) -> None:
    async def reversed_answers(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        return web.json_response([_answer_one(echo, r) for r in reversed(body)])

    async with scripted_server(raw=reversed_answers) as (url, _):
        results = await JsonRpcClient(http).batch(url, [("a", ()), ("b", ())])
    assert [r["method"] for r in results if isinstance(r, dict)] == ["a", "b"]


async def test_json_rpc_error_carries_code_and_message(http: HttpClient) -> None:
    def answer(method: str, params: list[Any]) -> Any:
        raise RpcFailure(-32602, "missing value for required argument 0")

    async with scripted_server(answer) as (url, _):
        with pytest.raises(JsonRpcError) as caught:
            await JsonRpcClient(http).call(url, "conductor_overrideLeader")
    assert caught.value.code == -32602
    assert "missing value for required argument 0" in str(caught.value)
    assert caught.value.kind == "rpc"


@pytest.mark.parametrize(
    ("body", "status", "kind", "words"),
    [
        (b"not json at all", 200, MalformedResponse, "not valid JSON"),
        (b'{"jsonrpc":"2.0","id":999,"result":true}', 200, MalformedResponse, "id 999"),
        (b'{"jsonrpc":"2.0","id":1}', 200, MalformedResponse, "neither result nor error"),
        (b'{"jsonrpc":"2.0","id":1,"error":"bad"}', 200, MalformedResponse, "error object"),
        (b"[1,2]", 200, MalformedResponse, "expected a JSON object"),
        (b"oops", 503, HttpStatusError, "HTTP 503"),
        (b"", 415, HttpStatusError, "HTTP 415"),
    ],
)
async def test_bad_answers_map_to_typed_errors(
    http: HttpClient, body: bytes, status: int, kind: type[RpcError], words: str
) -> None:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, status=status, content_type="application/json")

    async with scripted_server(raw=reply) as (url, _):
        with pytest.raises(RpcError) as caught:
            await JsonRpcClient(http).call(url, "conductor_leader")
    assert type(caught.value) is kind
    assert words in str(caught.value)
    assert caught.value.method == "conductor_leader"


async def test_refused_connection_is_unreachable(http: HttpClient) -> None:
    with pytest.raises(Unreachable) as caught:
        await JsonRpcClient(http).call(f"http://127.0.0.1:{closed_port()}/", "conductor_leader")
    assert caught.value.kind == "unreachable"


async def test_hung_server_costs_exactly_one_timeout(http: HttpClient) -> None:
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.StreamResponse:
        await never.wait()
        return web.Response()

    async with scripted_server(raw=hang) as (url, _):
        start = time.monotonic()
        with pytest.raises(RpcTimeout) as caught:
            await JsonRpcClient(http, timeout=0.3).batch(url, [("conductor_leader", ())])
        elapsed = time.monotonic() - start
        never.set()
    assert 0.25 < elapsed < 0.8
    assert caught.value.kind == "timeout" and "0.3s" in str(caught.value)


async def test_server_without_batch_support_raises_its_error_for_the_batch(http: HttpClient) -> None:
    async def no_batches(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch not supported"}}
        )

    async with scripted_server(raw=no_batches) as (url, _):
        with pytest.raises(JsonRpcError) as caught:
            await JsonRpcClient(http).batch(url, [("conductor_leader", ())])
    assert caught.value.code == -32600 and caught.value.method is None


async def test_credentials_are_redacted_from_errors(http: HttpClient) -> None:
    async def fail(request: web.Request) -> web.StreamResponse:
        return web.Response(status=401)

    async with scripted_server(raw=fail) as (url, _):
        secret_url = url.replace("http://", "http://operator:s3cret@")
        with pytest.raises(HttpStatusError) as caught:
            await JsonRpcClient(http).call(secret_url, "conductor_leader")
    assert "s3cret" not in str(caught.value) and "operator" not in str(caught.value)
    assert "***@127.0.0.1" in str(caught.value)
    assert caught.value.status == 401


async def test_call_step_runs_one_call_with_its_own_client() -> None:
    async with scripted_server(echo) as (url, seen):
        result = await call_step(url, "conductor_removeServer", ["seq-2", 0], timeout=1.0)
    assert result == {"method": "conductor_removeServer", "params": ["seq-2", 0]}
    assert json.dumps(seen[0]["params"]) == '["seq-2", 0]'


async def test_batches_answer_each_request_on_its_own(http: HttpClient) -> None:
    async with scripted_server(echo) as (url, seen):
        dead = f"http://127.0.0.1:{closed_port()}/"
        first, failed, second = await JsonRpcClient(http).batches(
            [
                (url, [("conductor_leader", ()), ("conductor_addServerAsVoter", ["seq-3", {"v": 1}])]),
                (dead, [("conductor_leader", ())]),
                (url, [("conductor_active", ())]),
            ]
        )
    assert isinstance(first, list) and isinstance(second, list)
    assert [r["method"] for r in first] == ["conductor_leader", "conductor_addServerAsVoter"]
    assert first[1]["params"] == ["seq-3", {"v": 1}] and second[0]["method"] == "conductor_active"
    assert isinstance(failed, Unreachable)
    assert len(seen) == 2
