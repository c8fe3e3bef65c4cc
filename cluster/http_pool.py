"""Keep-alive HTTP clients for polling: one small `httpx.AsyncClient` per network.

Why per network: httpcore scans its whole connection pool on every request, so one client keeping a
connection to each of thousands of endpoints spends its time scanning (measured in
`bench/bench_http.py`), while a client per request pays a TCP connect and teardown each time. A
client per network keeps one idle connection per endpoint of that network (2 per sequencer) and scans
only those. Clients share one TLS context: building one per client would load the CA bundle a thousand
times. `sniffio` must be installed: without it httpcore retries the failing import on every request.
"""

from __future__ import annotations

import ssl
from types import TracebackType

import httpx

from cluster.rpc import DEFAULT_TIMEOUT
from cluster.tls import ssl_context
from cluster.topology import Topology

# Beyond one connection per endpoint: a status command or an operation step may poll the network while
# the watcher does; both usually share one poll (cluster.singleflight), so a little headroom is enough.
_EXTRA_CONNECTIONS = 4


class HttpPool:
    """Lazily made keep-alive clients, one per network of `topology`; close with `aclose`."""

    def __init__(self, topology: Topology, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._topology = topology
        self._timeout = httpx.Timeout(timeout)
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._tls: ssl.SSLContext | None = None

    def client(self, network: str) -> httpx.AsyncClient:
        found = self._clients.get(network)
        if found is not None:
            return found
        spec = self._topology.network(network)
        endpoints = 2 * len(spec.sequencers) if spec is not None else 2
        if self._tls is None:
            self._tls = ssl.create_default_context()
        made = httpx.AsyncClient(
            verify=self._tls,
            timeout=self._timeout,
            limits=httpx.Limits(
                max_connections=endpoints + _EXTRA_CONNECTIONS,
                max_keepalive_connections=endpoints,
                keepalive_expiry=30.0,
            ),
        )
        self._clients[network] = made
        return made

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def __aenter__(self) -> HttpPool:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
