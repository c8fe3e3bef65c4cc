"""The watcher's polling transport: one keep-alive `aiohttp.ClientSession` for every endpoint.

Measured in `bench/bench_http.py` (1,800 endpoints, same run): httpx without keep-alive (a TCP
connect per request) cost 1.7 ms of CPU per request, one httpx client keeping a connection per
endpoint 11 ms (httpcore scans its whole pool on every request), a keep-alive httpx client per
network 1.2 ms, and aiohttp 0.34 ms: its connector pools per host, found by a dict lookup. Only the
last leaves room for thousands of nodes per core, so polls go through it; `cluster.rpc` maps its
errors to the same typed tree and keeps one whole-call deadline. The process's `httpx` client stays
for everything else (operation steps, the status overview).
"""

from __future__ import annotations

from types import TracebackType

import aiohttp

from cluster.tls import ssl_context
from cluster.topology import Topology

# Connections open at once, all endpoints together: the watcher's gate keeps far fewer requests in
# flight; this only stops a runaway from exhausting file descriptors.
_MAX_CONNECTIONS = 4096
# Longer than the poll interval, so a connection idle between two ticks is reused, not reopened.
_KEEPALIVE_SECONDS = 30.0


class HttpPool:
    """The session (made lazily, inside the event loop) that polls of every network share."""

    def __init__(self, topology: Topology) -> None:
        self._topology = topology
        self._session: aiohttp.ClientSession | None = None

    def client(self, network: str) -> aiohttp.ClientSession:
        """The session to poll `network` with (the same for every network)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=_MAX_CONNECTIONS,
                keepalive_timeout=_KEEPALIVE_SECONDS,
                # HTTPS endpoints verified against the system CAs plus the clusters file's cert_path.
                ssl=ssl_context(self._topology.cert_path),
            )
            # The whole-call deadline is `cluster.rpc`'s (asyncio.timeout); aiohttp's own (300 s by
            # default) would only add a timer per request.
            self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout())
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> HttpPool:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
