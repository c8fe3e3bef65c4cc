"""Thin HTTP and TCP listeners in front of the model, with process-level faults.

`HttpEndpoint` answers JSON-RPC like geth's HTTP server (status codes, content types) and can be
killed (listener closed: connection refused), revived on the same port, hung (accepts, never answers),
made to answer malformed JSON, or slowed down. `RaftListener` is a loopback TCP port that only accepts,
so op-conductor's dial-before-add check is real.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from sim import jsonrpc
from sim.jsonrpc import Method
from sim.node import EndpointFaults

logger = logging.getLogger(__name__)

JSON_TYPES = frozenset({"application/json", "application/json-rpc", "application/jsonrequest"})
BODY_LIMIT = 5 * 1024 * 1024
MALFORMED_BODY = b'{"jsonrpc":"2.0","id":1,"result":{"unsafe_l2":'
_DROP_TIMEOUT = 0.2


def _ephemeral_floor() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# A killed node is revived on its old port. A port from the kernel's ephemeral range may meanwhile be
# taken by any outgoing connection on the machine (EADDRINUSE on revival), so listeners take theirs
# from below that range.
_PORT_FLOOR = 10000
_PORT_CEILING = max(_PORT_FLOOR + 1000, _ephemeral_floor())


async def listen(start: Callable[[int], Awaitable[asyncio.Server]], port: int) -> asyncio.Server:
    """`start(port)`, or on first listen (`port` 0) `start` on a free port outside the ephemeral range."""
    if port:
        return await start(port)
    for _ in range(50):
        try:
            return await start(random.randrange(_PORT_FLOOR, _PORT_CEILING))
        except OSError:
            continue  # taken by someone else: try another
    return await start(0)


class HttpEndpoint:
    """One JSON-RPC port (path `/`), serving `table` with `ctx`."""

    def __init__(
        self,
        name: str,
        host: str,
        table: Mapping[str, Method[Any]],
        ctx: Any,
        faults: EndpointFaults | None = None,
        process_up: Callable[[], bool] = lambda: True,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.host = host
        self.port = 0
        self._table = table
        self._ctx = ctx
        self.faults = faults if faults is not None else EndpointFaults()
        self._process_up = process_up
        self._on_exit = on_exit
        self._server = web.Server(self._handle, access_log=None)
        self._listener: asyncio.Server | None = None
        self._released = asyncio.Event()
        self._released.set()
        self._tasks: set[asyncio.Task[None]] = set()
        # Every method that reached the process (not a refused connection), for "sent once" checks.
        self.calls: Counter[str] = Counter()
        # HTTP requests received, answered or not: what a benchmark or a test of request sharing counts.
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def listening(self) -> bool:
        return self._listener is not None

    async def open(self) -> None:
        """Listen (on an ephemeral port the first time, on the same port after a kill)."""
        if self._listener is not None:
            return
        loop = asyncio.get_running_loop()
        self._listener = await listen(
            lambda port: loop.create_server(self._server, self.host, port, reuse_address=True), self.port
        )
        self.port = self._listener.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Like a dead process: stop listening and drop every open connection."""
        self._stop_listening()
        await self._server.shutdown(_DROP_TIMEOUT)

    def _stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _count(self, method: str) -> None:
        self.calls[method] += 1

    def hang(self, on: bool) -> None:
        self.faults.hung = on
        if on:
            self._released.clear()
        else:
            self._released.set()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests += 1
        if self.faults.hung:
            await self._released.wait()
        if self.faults.latency > 0:
            await asyncio.sleep(self.faults.latency)
        if request.method != "POST":
            if request.method in ("GET", "HEAD", "OPTIONS"):
                return web.Response(status=200)
            return web.Response(status=405, text="method not allowed\n")
        if request.content_length is not None and request.content_length > BODY_LIMIT:
            return web.Response(status=413, text="content length too large\n")
        if request.content_type not in JSON_TYPES:
            return web.Response(status=415, text="invalid content type, only application/json is supported\n")
        try:
            body = await request.read()
        except ConnectionResetError:
            # The client gave up (a hung or slow endpoint outlived its timeout): nobody to answer.
            return web.Response(status=499)
        if self.faults.malformed:
            return web.Response(body=MALFORMED_BODY, content_type="application/json")
        answer = await jsonrpc.handle(self._table, self._ctx, body, self._count)
        if self.faults.answer_delay > 0:
            await asyncio.sleep(self.faults.answer_delay)
        response = web.Response(body=answer, content_type="application/json")
        if not self._process_up():
            # The call shut the process down (conductor_stop): answer, then the port goes away.
            response.force_close()
            self._stop_listening()
            self._spawn(self._server.shutdown(_DROP_TIMEOUT))
            if self._on_exit is not None:
                self._on_exit()
            logger.info("sim endpoint closed by its process endpoint=%s", self.name)
        return response

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class RaftListener:
    """The raft transport port: accepts and closes, which is all a dial check needs."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.port = 0
        self._listener: asyncio.Server | None = None

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    async def open(self) -> None:
        if self._listener is None:
            self._listener = await listen(
                lambda port: asyncio.start_server(self._accept, self.host, port, reuse_address=True),
                self.port,
            )
            self.port = self._listener.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.close_now()

    def close_now(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    @staticmethod
    async def _accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()
