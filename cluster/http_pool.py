"""The watcher's polling transport: one `cluster.keepalive.KeepAlivePool` for every endpoint.

Measured in `bench/bench_http.py` (same run, one simulator process): httpx without keep-alive (a TCP
connect per request), one httpx client keeping a connection per endpoint (httpcore scans its whole
pool on every request), a keep-alive httpx client per network, aiohttp (what polls went through
before), and the keep-alive pool, the cheapest by far: polls go through it; `cluster.rpc` maps its
errors to the same typed tree and keeps one whole-call deadline. The process's `httpx` client stays
for everything else (operation steps, the status overview).
"""

from __future__ import annotations

from types import TracebackType

from cluster.keepalive import KeepAlivePool
from cluster.tls import ssl_context
from cluster.topology import Topology


class HttpPool:
    """The connections (made lazily) that polls of every network share."""

    def __init__(self, topology: Topology) -> None:
        self._topology = topology
        self._pool: KeepAlivePool | None = None

    def client(self, network: str) -> KeepAlivePool:
        """The transport to poll `network` with (the same for every network)."""
        if self._pool is None:
            # HTTPS endpoints verified against the system CAs plus the clusters file's cert_path.
            self._pool = KeepAlivePool(ssl_context(self._topology.cert_path))
        return self._pool

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()

    async def __aenter__(self) -> HttpPool:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
