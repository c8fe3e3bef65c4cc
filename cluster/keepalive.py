"""The watcher's polling transport: HTTP/1.1 POSTs over one kept-alive connection per endpoint.

Polling is the bot's hot loop: two JSON-RPC batches per node every interval, thousands of nodes.
aiohttp spent ~0.4-0.6 ms of CPU per request on what polling never needs (cookie jars, redirects,
tracing, a response object, a task and a timer per request); this speaks just enough HTTP/1.1 on an
`asyncio.Protocol` and costs a fraction of that (`bench/bench_http.py`, same run). What it speaks:

- a POST with `Content-Length`, credentials in the URL sent as Basic auth (as aiohttp and httpx do);
- answers framed by `Content-Length`, `chunked`, or the connection's close; `1xx` skipped;
- no redirects (a 3xx is an HTTP status error, as before), no compression (never asked for),
  no proxies (the old session ignored the environment too), `http` and `https` only.

Errors are the transport's own exceptions below; `cluster.rpc` maps them into its typed tree, with
one whole-call deadline that covers connecting, sending and reading.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ssl
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlsplit

# An answer bigger than this is not a JSON-RPC read we sent (syncStatus is a few KiB).
_MAX_ANSWER = 16 * 2**20
_MAX_HEAD = 64 * 2**10
# Longer than the poll interval, so a connection idle between two ticks is reused, not reopened;
# shorter than Go's http.Server IdleTimeout default (none) and geth's (120 s).
_IDLE_SECONDS = 30.0
# Idle connections kept per endpoint: polls send one request per endpoint at a time; a burst of
# status polls may open a few more, which are closed once over this.
_IDLE_PER_ENDPOINT = 2


class TransportError(Exception):
    """Base of this transport's failures; `cluster.rpc` maps each subclass to an `RpcError`."""


class ConnectFailed(TransportError):
    """The connection could not be opened (refused, DNS, TLS handshake, not http/https)."""


class AnswerBroken(TransportError):
    """The server closed without a whole answer, or sent something that is not HTTP/1.x."""


@dataclass(frozen=True, slots=True)
class _Target:
    key: tuple[str, int, bool]
    host: str
    port: int
    tls: bool
    head: bytes  # request line and headers, up to the Content-Length value


@functools.lru_cache(maxsize=16384)
def _target(url: str) -> _Target:
    """The parts of `url` a request needs, worked out once per endpoint."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConnectFailed(f"invalid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConnectFailed(f"not an http or https URL: {scheme or 'no scheme'}")
    tls = scheme == "https"
    default = 443 if tls else 80
    port = port or default
    host = parts.hostname
    host_header = f"[{host}]" if ":" in host else host
    if port != default:
        host_header += f":{port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host_header}", "Content-Type: application/json"]
    if parts.username is not None:
        secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        lines.append(f"Authorization: Basic {base64.b64encode(secret).decode()}")
    head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
    return _Target(key=(host, port, tls), host=host, port=port, tls=tls, head=head)


def _parse(buf: bytearray, eof: bool) -> tuple[int, bytes, bool] | None:
    """(status, body, keep-alive) once `buf` holds a whole answer; None while it does not yet.

    Raises `AnswerBroken` for what no HTTP/1.x server sends."""
    start = 0
    while True:
        end = buf.find(b"\r\n\r\n", start)
        if end < 0:
            if len(buf) - start > _MAX_HEAD:
                raise AnswerBroken("answer headers too long")
            return None
        lines = bytes(buf[start:end]).decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise AnswerBroken("answer is not HTTP/1.x")
        status = int(code)
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            start = end + 4
            continue
        break
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    keep_alive = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    body_at = end + 4
    if status in (204, 304):
        return status, b"", keep_alive and len(buf) == body_at
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _chunked(buf, body_at, status, keep_alive)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit() or int(length) > _MAX_ANSWER:
            raise AnswerBroken(f"bad Content-Length {length[:20]!r}")
        stop = body_at + int(length)
        if len(buf) < stop:
            return None
        # Bytes after the answer were never asked for: the connection is out of step; close it.
        return status, bytes(buf[body_at:stop]), keep_alive and len(buf) == stop
    if len(buf) - body_at > _MAX_ANSWER:
        raise AnswerBroken("answer too long")
    return (status, bytes(buf[body_at:]), False) if eof else None


def _chunked(buf: bytearray, at: int, status: int, keep_alive: bool) -> tuple[int, bytes, bool] | None:
    body = bytearray()
    while True:
        line_end = buf.find(b"\r\n", at)
        if line_end < 0:
            return None
        size_text = bytes(buf[at:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise AnswerBroken("bad chunk size") from None
        at = line_end + 2
        if size == 0:
            if buf[at : at + 2] == b"\r\n":
                stop = at + 2
            else:  # trailers, ended by an empty line
                trailer_end = buf.find(b"\r\n\r\n", at)
                if trailer_end < 0:
                    return None
                stop = trailer_end + 4
            return status, bytes(body), keep_alive and len(buf) == stop
        if len(body) + size > _MAX_ANSWER:
            raise AnswerBroken("answer too long")
        if len(buf) < at + size + 2:
            return None
        if buf[at + size : at + size + 2] != b"\r\n":
            raise AnswerBroken("bad chunk framing")
        body += buf[at : at + size]
        at += size + 2


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; one request at a time."""

    def __init__(self, pool: KeepAlivePool, key: tuple[str, int, bool]) -> None:
        self._pool = pool
        self.key = key
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[_Answer] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's are not subclasses of asyncio.Transport, so no isinstance).
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            self.close()  # bytes nobody asked for: the connection is out of step
            return
        self._buffer += data
        self._settle(waiter, eof=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool._forget(self)
        waiter = self._waiter
        if waiter is None or waiter.done() or self._settle(waiter, eof=True):
            return
        why = f": {exc}" if exc else ""
        message = f"server closed the connection without answering{why}"
        waiter.set_exception(_Stale(message, received=bool(self._buffer)))

    def _settle(self, waiter: asyncio.Future[_Answer], eof: bool) -> bool:
        """Settle `waiter` if the bytes so far are a whole (or a broken) answer; whether they were."""
        try:
            answer = _parse(self._buffer, eof)
        except AnswerBroken as exc:
            waiter.set_exception(exc)
            return True
        if answer is None:
            return False
        # Not kept while the connection idles: thousands of idle connections would each hold their
        # last answer.
        self._buffer = bytearray()
        waiter.set_result(answer)
        return True

    def send(self, data: bytes, deadline: float) -> asyncio.Future[_Answer]:
        """Send `data`; the future of its answer fails with TimeoutError at `deadline` (loop time).
        `finish` must follow, whatever the outcome."""
        assert self._transport is not None and self._waiter is None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[_Answer] = loop.create_future()
        self._waiter = waiter
        self._timer = loop.call_at(deadline, _expire, waiter)
        self._transport.write(data)
        return waiter

    def finish(self) -> _Answer | BaseException:
        """The outcome of the request `send` started, now that it is over; the connection goes back
        to the pool only after an answer that keeps it alive."""
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        assert waiter is not None
        if not waiter.done() or waiter.cancelled():
            # Abandoned (the caller was cancelled): an answer is still owed, so this connection
            # can never carry another request.
            self.close()
            return asyncio.CancelledError()
        outcome = waiter.exception()
        if outcome is not None:
            self.close()
            return outcome
        answer = waiter.result()
        if answer[2] and not self.closed:
            self._pool._put_idle(self)
        else:
            self.close()
        return answer

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


_Answer = tuple[int, bytes, bool]  # status, body, whether the connection stays open


def _expire(waiter: asyncio.Future[_Answer]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Stale(AnswerBroken):
    def __init__(self, message: str, received: bool) -> None:
        super().__init__(message)
        self.received = received


Outcome = tuple[int, bytes] | TransportError | TimeoutError


class KeepAlivePool:
    """Kept-alive connections to every endpoint, for POSTing JSON-RPC bodies; owned by the caller."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self._tls = tls
        self._idle: dict[tuple[str, int, bool], list[_Connection]] = {}
        self._open: set[_Connection] = set()

    async def post(self, url: str, body: bytes, timeout: float) -> tuple[int, bytes]:  # noqa: ASYNC109 - the whole call's deadline
        """POST `body` to `url`; (status, answer body). Raises `TransportError` or `TimeoutError`."""
        (outcome,) = await self.post_all([(url, body)], timeout)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def post_all(self, requests: list[tuple[str, bytes]], timeout: float) -> list[Outcome]:  # noqa: ASYNC109 - the whole call's deadline
        """POST every (url, body) at once, within one deadline; per request (status, answer body)
        or the `TransportError` / `TimeoutError` that failed it.

        A request with an idle connection to its endpoint is written at once and awaited as a bare
        future (no task: this is the watcher's hot path); the others connect first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        out: list[Outcome | None] = [None] * len(requests)
        sent: list[tuple[int, _Connection]] = []
        waits: list[asyncio.Future[Any]] = []
        fresh: list[int] = []
        now = loop.time()
        for i, (url, body) in enumerate(requests):
            try:
                target = _target(url)
            except ConnectFailed as exc:
                out[i] = exc
                continue
            conn = self._take_idle(target.key, now)
            if conn is None:
                fresh.append(i)
                continue
            sent.append((i, conn))
            waits.append(conn.send(_request(target, body), deadline))
        news = [asyncio.ensure_future(self._fresh(*requests[i], deadline)) for i in fresh]
        try:
            await asyncio.gather(*waits, *news, return_exceptions=True)
        finally:
            # Cancelled or not, every request we started is settled (its connection kept or closed).
            finished = [conn.finish() for _, conn in sent]
        retry = []
        for (i, _), outcome in zip(sent, finished, strict=True):
            if isinstance(outcome, _Stale) and not outcome.received:
                # A kept-alive connection the server closed while idle: the request never reached
                # it, so asking again on a new connection is safe (polls only read).
                retry.append(i)
            out[i] = _outcome(outcome)
        for i, task in zip(fresh, news, strict=True):
            out[i] = _outcome(task.exception() or task.result())
        if retry:
            again = await asyncio.gather(
                *(self._fresh(*requests[i], deadline) for i in retry), return_exceptions=True
            )
            for i, retried in zip(retry, again, strict=True):
                out[i] = _outcome(retried)
        return [o for o in out if o is not None]

    async def _fresh(self, url: str, body: bytes, deadline: float) -> tuple[int, bytes]:
        target = _target(url)
        conn = await self._connect(target, deadline)
        waiter = conn.send(_request(target, body), deadline)
        try:
            await waiter
        finally:
            outcome = conn.finish()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome[0], outcome[1]

    def _take_idle(self, key: tuple[str, int, bool], now: float) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < _IDLE_SECONDS:
                return conn
            conn.close()
        return None

    def _put_idle(self, conn: _Connection) -> None:
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= _IDLE_PER_ENDPOINT:
            conn.close()
            return
        conn.idle_since = asyncio.get_running_loop().time()
        idle.append(conn)

    def _forget(self, conn: _Connection) -> None:
        self._open.discard(conn)
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    async def _connect(self, target: _Target, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        conn = _Connection(self, target.key)
        tls = self._tls if target.tls else None
        try:
            async with asyncio.timeout_at(deadline):
                await loop.create_connection(
                    lambda: conn,
                    target.host,
                    target.port,
                    ssl=tls,
                    server_hostname=target.host if tls else None,
                )
        except OSError as exc:  # refused, DNS, unreachable, TLS (ssl.SSLError is an OSError)
            raise ConnectFailed(str(exc) or type(exc).__name__) from exc
        self._open.add(conn)
        return conn

    async def aclose(self) -> None:
        """Close every connection, idle or not."""
        for conn in list(self._open):
            conn.close()
        self._idle.clear()
        self._open.clear()


def _request(target: _Target, body: bytes) -> bytes:
    return b"%s%d\r\n\r\n%s" % (target.head, len(body), body)


def _outcome(outcome: object) -> Outcome:
    """What a request ended with, as `post_all` reports it; anything else (a bug) is raised."""
    if isinstance(outcome, tuple):
        return outcome[0], outcome[1]
    if isinstance(outcome, TransportError | TimeoutError):
        return outcome
    assert isinstance(outcome, BaseException)
    raise outcome
