"""The polling transport against a raw TCP peer that answers scripted bytes: framing, reuse, failures."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from cluster.keepalive import AnswerBroken, ConnectFailed, KeepAlivePool
from cluster.rpc import JsonRpcClient, MalformedResponse, RpcTimeout, Unreachable

BODY = b'{"jsonrpc":"2.0","id":1,"result":true}'
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)

# (request number on this connection, request head) -> bytes to send back, or None to close at once;
# bytes ending in THEN_CLOSE are sent, then the connection is closed.
Script = Callable[[int, bytes], bytes | None]
THEN_CLOSE = b"<then close>"


class Peer:
    """A TCP server; each connection reads requests and answers what `script` says."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.heads: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                self.heads.append(head)
                answer = self.script(n, head)
                n += 1
                if answer is None:
                    break
                writer.write(answer.removesuffix(THEN_CLOSE))
                await writer.drain()
                if answer.endswith(THEN_CLOSE):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def peer(script: Script) -> AsyncIterator[tuple[str, Peer]]:
    p = Peer(script)
    server = await asyncio.start_server(p.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/rpc", p
    finally:
        server.close()
        for w in p.writers:
            w.close()


@pytest.fixture
async def pool() -> AsyncIterator[KeepAlivePool]:
    p = KeepAlivePool(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    yield p
    await p.aclose()


async def test_one_connection_carries_every_request_to_an_endpoint(pool: KeepAlivePool) -> None:
    async with peer(lambda _n, _h: OK) as (url, p):
        for _ in range(5):
            assert await pool.post(url, b"{}", 2.0) == (200, BODY)
    assert p.connections == 1 and len(p.heads) == 5
    assert p.heads[0].startswith(b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1:")


async def test_chunked_and_close_framed_answers_are_read_whole(pool: KeepAlivePool) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\n" + BODY[:5] + b"\r\n" + b"%x\r\n" % (len(BODY) - 5) + BODY[5:] + b"\r\n0\r\n\r\n"
    )
    async with peer(lambda _n, _h: chunked) as (url, p):
        assert await pool.post(url, b"{}", 2.0) == (200, BODY)
        assert await pool.post(url, b"{}", 2.0) == (200, BODY)
    assert p.connections == 1

    close_framed = b"HTTP/1.0 200 OK\r\n\r\n" + BODY + THEN_CLOSE
    async with peer(lambda _n, _h: close_framed) as (url, p):
        # No length: the answer ends when the server closes, so the connection is not kept.
        assert await pool.post(url, b"{}", 2.0) == (200, BODY)
        assert await pool.post(url, b"{}", 2.0) == (200, BODY)
    assert p.connections == 2


async def test_interim_answer_is_skipped(pool: KeepAlivePool) -> None:
    async with peer(lambda _n, _h: b"HTTP/1.1 100 Continue\r\n\r\n" + OK) as (url, _):
        assert await pool.post(url, b"{}", 2.0) == (200, BODY)


async def test_a_connection_the_server_closed_while_idle_is_replaced_without_an_error(
    pool: KeepAlivePool,
) -> None:
    async with peer(lambda _n, _h: OK) as (url, p):
        assert await pool.post(url, b"{}", 2.0) == (200, BODY)
        # The server ends the kept-alive connection between two polls (an idle timeout, a restart).
        p.writers[0].close()
        await p.writers[0].wait_closed()
        assert await pool.post(url, b"{}", 2.0) == (200, BODY)
    assert p.connections == 2


async def test_a_server_that_closes_mid_request_is_a_broken_answer(pool: KeepAlivePool) -> None:
    async with peer(lambda _n, _h: None) as (url, _):
        with pytest.raises(AnswerBroken, match="closed the connection without answering"):
            await pool.post(url, b"{}", 2.0)
    async with peer(lambda _n, _h: OK[: len(OK) - 5]) as (url, p):
        # Truncated body, then the server hangs up: never taken for an answer.
        request = asyncio.create_task(pool.post(url, b"{}", 2.0))
        done, _ = await asyncio.wait([request], timeout=0.2)
        assert not done  # waiting for the rest of the body
        p.writers[0].close()
        with pytest.raises(AnswerBroken):
            await request


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
async def test_what_no_http_server_sends_is_malformed_through_the_rpc_client(
    pool: KeepAlivePool, answer: bytes
) -> None:
    async with peer(lambda _n, _h: answer) as (url, _):
        with pytest.raises(MalformedResponse):
            await JsonRpcClient(pool, timeout=2.0).call(url, "conductor_leader")


async def test_extra_bytes_after_an_answer_retire_the_connection(pool: KeepAlivePool) -> None:
    async with peer(lambda _n, _h: OK + b"HTTP/1.1 200 OK\r\n") as (url, p):
        assert await pool.post(url, b"{}", 2.0) == (200, BODY)
        assert await pool.post(url, b"{}", 2.0) == (200, BODY)
    assert p.connections == 2


async def test_credentials_in_the_url_go_as_basic_auth(pool: KeepAlivePool) -> None:
    async with peer(lambda _n, _h: OK) as (url, p):
        await pool.post(url.replace("http://", "http://op%40erator:s3cret@") + "?key=1", b"{}", 2.0)
    head = p.heads[0].decode()
    assert head.startswith("POST /rpc?key=1 HTTP/1.1")
    assert f"Authorization: Basic {base64.b64encode(b'op@erator:s3cret').decode()}" in head


async def test_a_timed_out_or_cancelled_request_never_reuses_its_connection(pool: KeepAlivePool) -> None:
    asked = []

    def slow_first(_n: int, _h: bytes) -> bytes | None:
        asked.append(1)
        return b"" if len(asked) == 1 else OK  # the very first request is never answered

    async with peer(slow_first) as (url, p):
        with pytest.raises(RpcTimeout):
            await JsonRpcClient(pool, timeout=0.2).call(url, "conductor_leader")
        assert await pool.post(url, b"{}", 2.0) == (200, BODY)
        assert p.connections == 2  # the answer still owed on the first one would be read as the second's
        task = asyncio.create_task(pool.post(url, b"{}", 2.0))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await pool.post(url, b"{}", 2.0) == (200, BODY)
        assert p.connections == 3  # the cancelled request's connection was closed, not kept


async def test_unreachable_and_unsupported_urls(pool: KeepAlivePool) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(Unreachable):
        await JsonRpcClient(pool, timeout=1.0).call(f"http://127.0.0.1:{port}/", "conductor_leader")
    with pytest.raises(ConnectFailed, match="not an http or https URL"):
        await pool.post("ftp://127.0.0.1/", b"{}", 1.0)


async def test_post_all_answers_each_request_on_its_own(pool: KeepAlivePool) -> None:
    async with peer(lambda _n, _h: OK) as (good, _), peer(lambda _n, _h: None) as (bad, _):
        await pool.post(good, b"{}", 2.0)  # one kept-alive connection, one to open
        outcomes = await pool.post_all([(good, b"{}"), (bad, b"{}"), ("nope://x", b"{}"), (good, b"{}")], 2.0)
    assert outcomes[0] == (200, BODY) and outcomes[3] == (200, BODY)
    assert isinstance(outcomes[1], AnswerBroken) and isinstance(outcomes[2], ConnectFailed)
