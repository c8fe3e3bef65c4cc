"""Async JSON-RPC 2.0 over HTTP with typed errors, for op-conductor and op-node endpoints.

Every dependency exception is translated here, once, into this tree::

    RpcError                  base; `kind` matches cluster.snapshot.ErrorKind
     ├── Unreachable          "unreachable": connection refused, DNS failure, connection reset
     ├── RpcTimeout           "timeout":     no complete answer within the call's deadline
     ├── HttpStatusError      "http":        the server answered a status other than 200
     ├── JsonRpcError         "rpc":         a JSON-RPC error object (code, message)
     └── MalformedResponse    "malformed":   not JSON, wrong shape, or an id we did not send

Messages never carry credentials: every URL goes through `cluster.redact` first.

The deadline is for the whole call: httpx's per-phase timeouts alone would let a server that
trickles bytes hold a call for much longer, so each request also runs under `asyncio.timeout`.

Transports, one tree: the process's shared `httpx.AsyncClient` (operation steps, the status
overview), and for the watcher's polling `cluster.keepalive.KeepAlivePool`, a connection kept per
endpoint at a fraction of httpx's CPU per request (`bench/bench_http.py`); an `aiohttp.ClientSession`
is accepted too (the benchmark's baseline for the keep-alive pool).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

import httpx

from cluster.keepalive import AnswerBroken, ConnectFailed, KeepAlivePool, TransportError
from cluster.metrics import count_call, observe_seconds
from cluster.redact import redact_text, redact_url
from cluster.snapshot import ErrorKind

if TYPE_CHECKING:
    # Imported where used: `conductor-bot status` never polls through aiohttp and should not load it.
    import aiohttp
    import yarl

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2.0
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601


class RpcError(Exception):
    """Raised when a JSON-RPC call gives no usable result."""

    kind: ClassVar[ErrorKind]

    def __init__(self, url: str, message: str, method: str | None = None) -> None:
        self.url = redact_url(url)
        self.method = method
        self.message = redact_text(message)
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f"{self.method} at {self.url}" if self.method else self.url
        return f"{where}: {self.message}"


class Unreachable(RpcError):
    """Raised when the endpoint cannot be connected to (refused, DNS, reset)."""

    kind = "unreachable"


class RpcTimeout(RpcError):
    """Raised when the endpoint does not answer within the call's deadline."""

    kind = "timeout"


class HttpStatusError(RpcError):
    """Raised when the endpoint answers an HTTP status other than 200."""

    kind = "http"

    def __init__(self, url: str, status: int, method: str | None = None) -> None:
        self.status = status
        super().__init__(url, f"HTTP {status}", method)


class JsonRpcError(RpcError):
    """Raised (or returned in a batch) when the server answers a JSON-RPC error object."""

    kind = "rpc"

    def __init__(self, url: str, code: int, message: str, method: str | None = None) -> None:
        self.code = code
        super().__init__(url, f"{message} (code {code})", method)
        self.rpc_message = redact_text(message)


class MalformedResponse(RpcError):
    """Raised when the answer is not valid JSON-RPC: bad JSON, wrong shape, unknown id."""

    kind = "malformed"


Call = tuple[str, Sequence[Any]]
# What JSON-RPC can go over; both are pooled and owned by the caller.
HttpClient: TypeAlias = "httpx.AsyncClient | KeepAlivePool | aiohttp.ClientSession"
_JSON = {"Content-Type": "application/json"}


class JsonRpcClient:
    """JSON-RPC over one shared, pooled HTTP client (owned by the caller)."""

    def __init__(self, http: HttpClient, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._http = http
        self.timeout = timeout
        self._ids = itertools.count(1)

    async def call(
        self, url: str, method: str, params: Sequence[Any] = (), deadline: float | None = None
    ) -> Any:
        """One call; returns its `result` or raises an `RpcError`."""
        started = time.perf_counter()
        try:
            result = await self._call(url, method, params, deadline)
        except RpcError as err:
            count_call(method, err.kind)
            raise
        finally:
            observe_seconds(method, time.perf_counter() - started)
        count_call(method, "ok")
        return result

    async def _call(self, url: str, method: str, params: Sequence[Any], deadline: float | None) -> Any:
        request_id = next(self._ids)
        body = await self._post(
            url,
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)},
            deadline,
            method,
        )
        if not isinstance(body, dict):
            raise MalformedResponse(url, "expected a JSON object", method)
        if body.get("id") != request_id:
            raise MalformedResponse(url, f"answer id {body.get('id')!r} is not {request_id}", method)
        return _result_or_raise(url, method, body)

    async def batch(
        self, url: str, calls: Sequence[Call], deadline: float | None = None
    ) -> list[Any | RpcError]:
        """Several calls in ONE HTTP request; results in call order, a failed call as its error.

        Raises an `RpcError` only when the request as a whole fails (then no call has a result);
        a server that does not do batches answers one error object, raised as `JsonRpcError`.
        """
        if not calls:
            return []
        started = time.perf_counter()
        try:
            ids = [next(self._ids) for _ in calls]
            body = await self._post(url, _batch_payload(ids, calls), deadline, None)
            out = _batch_results(url, ids, calls, body)
        except RpcError as err:
            _count(calls, err)
            raise
        finally:
            observe_seconds("batch", time.perf_counter() - started)
        _count(calls, out)
        return out

    async def batches(
        self, requests: Sequence[tuple[str, Sequence[Call]]], deadline: float | None = None
    ) -> list[list[Any | RpcError] | RpcError]:
        """`batch` to several endpoints at once, each its own HTTP request; per request its results
        or the `RpcError` that failed it as a whole. A poll's hot path: through a `KeepAlivePool`
        every request goes out on its kept-alive connection with no task of its own."""
        if not isinstance(self._http, KeepAlivePool):
            return list(
                await asyncio.gather(
                    *(_or_error(self.batch(url, calls, deadline)) for url, calls in requests)
                )
            )
        deadline = self.timeout if deadline is None else deadline
        started = time.perf_counter()
        # Ids need only be unique within a request here: each connection carries one request at a
        # time and is closed if an answer comes late, so a poll's bodies are encoded once, ever.
        answers = await self._http.post_all(
            [(url, _numbered(tuple(calls))) for url, calls in requests], deadline
        )
        seconds = time.perf_counter() - started
        out: list[list[Any | RpcError] | RpcError] = []
        for (url, calls), answer in zip(requests, answers, strict=True):
            request_ids = range(1, len(calls) + 1)
            observe_seconds("batch", seconds)
            if not isinstance(answer, BaseException):
                _log_request(url, answer[0])
            try:
                if isinstance(answer, BaseException):
                    raise _keepalive_error(url, answer, deadline, None) from answer
                results = _batch_results(url, request_ids, calls, _decode(url, *answer, None))
            except RpcError as err:
                _count(calls, err)
                out.append(err)
                continue
            _count(calls, results)
            out.append(results)
        return out

    async def _post(self, url: str, payload: Any, deadline: float | None, method: str | None) -> Any:
        deadline = self.timeout if deadline is None else deadline
        if isinstance(self._http, KeepAlivePool):
            status, content = await _post_keepalive(self._http, url, payload, deadline, method)
        elif isinstance(self._http, httpx.AsyncClient):
            status, content = await _post_httpx(self._http, url, payload, deadline, method)
        else:
            status, content = await _post_aiohttp(self._http, url, payload, deadline, method)
        return _decode(url, status, content, method)


def _batch_payload(ids: Sequence[int], calls: Sequence[Call]) -> list[dict[str, Any]]:
    return [
        {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
        for i, (m, p) in zip(ids, calls, strict=True)
    ]


def _numbered(calls: tuple[Call, ...]) -> bytes:
    """The body of a batch of `calls` with ids 1..n; encoded once when the params are hashable."""
    try:
        return _numbered_once(calls)
    except TypeError:  # params holding lists or dicts
        return _encode_numbered(calls)


def _encode_numbered(calls: tuple[Call, ...]) -> bytes:
    return json.dumps(_batch_payload(range(1, len(calls) + 1), calls)).encode()


_numbered_once = functools.lru_cache(maxsize=256)(_encode_numbered)


def _decode(url: str, status: int, content: bytes, method: str | None) -> Any:
    if status != 200:
        raise HttpStatusError(url, status, method)
    try:
        return json.loads(content)
    except ValueError as exc:
        raise MalformedResponse(url, "answer is not valid JSON", method) from exc


def _batch_results(url: str, ids: Sequence[int], calls: Sequence[Call], body: Any) -> list[Any | RpcError]:
    """A batch answer's results in call order; raises when the answer as a whole is an error."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        _result_or_raise(url, None, body)
    if not isinstance(body, list):
        raise MalformedResponse(url, "expected a JSON array for a batch request")
    by_id: dict[object, Any] = {
        item.get("id"): item for item in body if isinstance(item, dict) and "id" in item
    }
    out: list[Any | RpcError] = []
    for request_id, (method, _) in zip(ids, calls, strict=True):
        item = by_id.get(request_id)
        if item is None:
            out.append(MalformedResponse(url, "no answer for this call in the batch", method))
            continue
        try:
            out.append(_result_or_raise(url, method, item))
        except RpcError as err:
            out.append(err)
    return out


def _count(calls: Sequence[Call], outcome: RpcError | list[Any | RpcError]) -> None:
    if isinstance(outcome, RpcError):
        for method, _ in calls:
            count_call(method, outcome.kind)
        return
    for (method, _), item in zip(calls, outcome, strict=True):
        count_call(method, item.kind if isinstance(item, RpcError) else "ok")


async def _or_error(batch: Awaitable[list[Any | RpcError]]) -> list[Any | RpcError] | RpcError:
    try:
        return await batch
    except RpcError as err:
        return err


async def _post_httpx(
    http: httpx.AsyncClient, url: str, payload: Any, deadline: float, method: str | None
) -> tuple[int, bytes]:
    try:
        async with asyncio.timeout(deadline):
            response = await http.post(url, json=payload, timeout=httpx.Timeout(deadline))
            return response.status_code, await response.aread()
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise RpcTimeout(url, f"no answer within {deadline:g}s", method) from exc
    except (httpx.NetworkError, httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise Unreachable(url, _describe(exc), method) from exc
    except httpx.HTTPError as exc:
        # Protocol violations (e.g. the server closed without answering) are not JSON-RPC.
        raise MalformedResponse(url, _describe(exc), method) from exc


async def _post_keepalive(
    pool: KeepAlivePool, url: str, payload: Any, deadline: float, method: str | None
) -> tuple[int, bytes]:
    try:
        status, content = await pool.post(url, json.dumps(payload).encode(), deadline)
    except (TimeoutError, TransportError) as exc:
        raise _keepalive_error(url, exc, deadline, method) from exc
    _log_request(url, status)
    return status, content


def _log_request(url: str, status: int) -> None:
    if log.isEnabledFor(logging.DEBUG):
        # The line httpx writes for each request at DEBUG, so every transport shows the same.
        log.debug('HTTP Request: POST %s "HTTP/1.1 %d"', redact_url(url), status)


def _keepalive_error(url: str, exc: BaseException, deadline: float, method: str | None) -> RpcError:
    if isinstance(exc, TimeoutError):
        return RpcTimeout(url, f"no answer within {deadline:g}s", method)
    if isinstance(exc, ConnectFailed):
        return Unreachable(url, _describe(exc), method)
    if isinstance(exc, AnswerBroken):
        return MalformedResponse(url, _describe(exc), method)
    raise exc  # not the transport's: a bug, not an answer


async def _post_aiohttp(
    http: aiohttp.ClientSession, url: str, payload: Any, deadline: float, method: str | None
) -> tuple[int, bytes]:
    import aiohttp

    try:
        async with (
            asyncio.timeout(deadline),
            http.post(
                _yarl(url), data=json.dumps(payload).encode(), headers=_JSON, allow_redirects=False
            ) as r,
        ):
            content = await r.read()
            _log_request(url, r.status)
            return r.status, content
    except TimeoutError as exc:
        raise RpcTimeout(url, f"no answer within {deadline:g}s", method) from exc
    except (aiohttp.ClientConnectorError, aiohttp.ClientOSError, aiohttp.InvalidURL) as exc:
        # Refused, DNS, reset, or a URL that cannot be connected to (e.g. not http).
        raise Unreachable(url, _describe(exc), method) from exc
    except aiohttp.ClientError as exc:
        # The server closed without answering, or a broken response: not JSON-RPC either.
        raise MalformedResponse(url, _describe(exc), method) from exc


@functools.lru_cache(maxsize=16384)
def _yarl(url: str) -> yarl.URL | str:
    """The parsed URL, once per endpoint: aiohttp would parse the string again on every request."""
    import yarl

    try:
        return yarl.URL(url)
    except ValueError:
        return url  # aiohttp raises its InvalidURL for it, as for any string it cannot parse


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return redact_text(text)


def _result_or_raise(url: str, method: str | None, body: dict[str, Any]) -> Any:
    error = body.get("error")
    if error is not None:
        if (
            not isinstance(error, dict)
            or not isinstance(error.get("code"), int)
            or not isinstance(error.get("message"), str)
        ):
            raise MalformedResponse(url, "error object without an integer code and a message", method)
        raise JsonRpcError(url, error["code"], error["message"], method)
    if "result" not in body:
        raise MalformedResponse(url, "answer has neither result nor error", method)
    return body["result"]


async def call_step(
    endpoint_url: str,
    method: str,
    params: Sequence[Any] = (),
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - passed to httpx and enforced with asyncio.timeout
    *,
    http: httpx.AsyncClient | None = None,
) -> Any:
    """One call for an operation step (e.g. by the executor); raises an `RpcError` on failure.

    Pass the process's shared `http` client; without one a short-lived client is made.
    """
    log.info("rpc step method=%s url=%s", method, redact_url(endpoint_url))
    if http is not None:
        return await JsonRpcClient(http, timeout).call(endpoint_url, method, params)
    async with httpx.AsyncClient() as own:
        return await JsonRpcClient(own, timeout).call(endpoint_url, method, params)
