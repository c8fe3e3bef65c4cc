"""Slash-command ack time of the real bot: `python -m bench.bench_ack`.

The bot runs as in production (Starlette under uvicorn, Bolt, signature checks, a real Valkey) against
the simulator and the tests' fake Slack Web API, all in this process on loopback ports. Each command
is a signed form POST like Slack's, sent on one keep-alive connection:

    ack    the HTTP response time of the POST (Slack gives up after 3 s)
    reply  from sending until the answer reached Slack: a post to the response_url, or the
           approval request posted in the channel (chat.postMessage)

Commands are sent one at a time (latency without queueing), then as concurrent bursts (acks while
earlier commands are still polling the cluster). Baselines measured in the same run: `help` (the
cheapest command through the same Bolt path) and a bare Starlette route under uvicorn (the HTTP
stack alone), each with the ratio of the command's p50 to it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot import slack_app
from bot.main import serve_bot
from sim.config_files import channel_for
from sim.harness import simulate
from sim.slack_api import FakeSlackApi
from sim.slack_requests import command_body, signed_headers
from store.connection import client_for, start_valkey
from store.gateway import Store
from store.keys import Keys
from tests.fixtures.slack import SIGNING_SECRET, bot_settings

REPLY_TIMEOUT = 10.0
ACK_LIMIT = 3.0


@dataclass
class Sample:
    ack: list[float] = field(default_factory=list)
    reply: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


def percentile(values: Sequence[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


class CommandSender:
    """Signs and posts slash commands on one keep-alive connection and waits for their replies."""

    def __init__(self, events_url: str, fake: FakeSlackApi, http: httpx.AsyncClient) -> None:
        self.events_url = events_url
        self.fake = fake
        self.http = http
        self._next = 0

    async def send(self, text: str, *, user: str, channel: str, sample: Sample) -> None:
        self._next += 1
        name = f"bench-{self._next}"
        body = command_body(
            text, user=user, channel=channel, response_url=self.fake.response_url_for(name), trigger_id=name
        )
        posted_before = len(self.fake.calls("chat.postMessage"))
        started = time.perf_counter()
        response = await self.http.post(
            self.events_url, content=body.encode(), headers=signed_headers(body, SIGNING_SECRET)
        )
        sample.ack.append(time.perf_counter() - started)
        sample.statuses.append(response.status_code)
        await self._first_reply(name, posted_before)
        sample.reply.append(time.perf_counter() - started)

    async def _first_reply(self, name: str, posted_before: int) -> None:
        # A read-only verb answers on the response_url; a created request is posted to the channel.
        waiters = {
            asyncio.create_task(self.fake.wait_for_response(name, timeout=REPLY_TIMEOUT)),
            asyncio.create_task(
                self.fake.wait_for("chat.postMessage", count=posted_before + 1, timeout=REPLY_TIMEOUT)
            ),
        }
        done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()


async def sequential(sender: CommandSender, text: str, count: int, channel: str, user: str) -> Sample:
    sample = Sample()
    for _ in range(count):
        await sender.send(text, user=user, channel=channel, sample=sample)
    return sample


async def bursts(sender: CommandSender, text: str, count: int, width: int, channel: str, user: str) -> Sample:
    sample = Sample()
    for start in range(0, count, width):
        await asyncio.gather(
            *(
                sender.send(text, user=user, channel=channel, sample=sample)
                for _ in range(min(width, count - start))
            )
        )
    return sample


@contextlib.asynccontextmanager
async def bare_starlette() -> AsyncIterator[str]:
    """A Starlette app with one empty POST route under uvicorn: the floor of any ack."""

    async def echo(request: Request) -> Response:
        await request.body()
        return Response(status_code=200)

    ready = asyncio.Event()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        ready.set()
        yield

    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])], lifespan=lifespan)
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/echo"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def bare_acks(url: str, count: int) -> list[float]:
    body = command_body("help", user="U1", channel="C1", response_url="http://127.0.0.1:9/", trigger_id="t")
    times: list[float] = []
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http:
        for _ in range(count):
            started = time.perf_counter()
            await http.post(url, content=body.encode(), headers=signed_headers(body, SIGNING_SECRET))
            times.append(time.perf_counter() - started)
    return times


def report(label: str, sample: Sample, baselines: dict[str, float]) -> None:
    ack50, ack99 = percentile(sample.ack, 50), percentile(sample.ack, 99)
    rep50, rep99 = percentile(sample.reply, 50), percentile(sample.reply, 99)
    ratios = "  ".join(f"{ack50 / value:5.1f}x {name}" for name, value in baselines.items())
    bad = sum(1 for s in sample.statuses if s != 200)
    late = sum(1 for a in sample.ack if a >= ACK_LIMIT)
    print(
        f"{label:<40} n={len(sample.ack):<4} ack p50 {ms(ack50)} p99 {ms(ack99)} max {ms(max(sample.ack))}"
        f" | reply p50 {ms(rep50)} p99 {ms(rep99)} | p50 vs {ratios}"
        + (f" | NON-200: {bad}" if bad else "")
        + (f" | OVER 3 s: {late}" if late else "")
    )


class _InlineAckApp(AsyncApp):
    """Bolt with `process_before_response=True`: for the what-if comparison only (see `--what-if`)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["process_before_response"] = True
        super().__init__(**kwargs)


@contextlib.contextmanager
def inline_ack(enabled: bool) -> Iterator[None]:
    """What-if: Bolt awaits our listener (which only acks and spawns) instead of polling for its ack
    every 10 ms (`slack_bolt.listener.asyncio_runner`), which sets the floor of every ack."""
    if not enabled:
        yield
        return
    # `bot.slack_app.build_app` looks the class up in its module namespace at call time.
    namespace = vars(slack_app)
    original = namespace["AsyncApp"]
    namespace["AsyncApp"] = _InlineAckApp
    try:
        yield
    finally:
        namespace["AsyncApp"] = original


async def main(status_count: int, mutating_count: int, width: int, nodes: int, what_if: bool) -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-ack-") as tmp:
        server = await asyncio.to_thread(start_valkey, Path(tmp), {}, False)
        redis = client_for(str(server.connection_url))
        fake = await FakeSlackApi.start()
        try:
            async with simulate(networks=1, nodes=nodes) as sim, bare_starlette() as bare_url:
                await sim.advance(6)
                bare = await bare_acks(bare_url, status_count)
                print(f"bench_ack: 1 network x {nodes} nodes (simulator), real Valkey, fake Slack")
                print(
                    f"{'bare Starlette POST (baseline)':<40} n={len(bare):<4}"
                    f" ack p50 {ms(percentile(bare, 50))} p99 {ms(percentile(bare, 99))} max {ms(max(bare))}"
                )
                variants = [("as shipped", False)] + (
                    [("what-if process_before_response", True)] if what_if else []
                )
                for index, (title, inline) in enumerate(variants):
                    print(f"-- {title}")
                    settings = bot_settings(SLACK_API_URL=fake.base_url)
                    # A fresh keyspace per variant, so the second starts without the first's open request.
                    store = Store(redis, Keys(prefix=f"bench{index}"))
                    with inline_ack(inline):
                        async with (
                            serve_bot(
                                settings, sim.topology(), redis=redis, store=store, clock=sim.clock
                            ) as bot,
                            httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http,
                        ):
                            sender = CommandSender(f"{bot.url}/slack/events", fake, http)
                            await run_phases(
                                sender, percentile(bare, 50), status_count, mutating_count, width
                            )
                # Everything this run wrote lives on its own throw-away server.
                await redis.flushdb()
        finally:
            await fake.stop()
            await redis.aclose()
            await asyncio.to_thread(server.stop, 10)


async def run_phases(
    sender: CommandSender, bare_p50: float, status_count: int, mutating_count: int, width: int
) -> None:
    channel = channel_for("sim-1")
    # Warm-up: first-request costs (auth.test, imports, connection set-up) are not what we measure.
    await sequential(sender, "help", 10, channel, "U_REQ")
    await sequential(sender, "status sim-1", 5, channel, "U_REQ")

    help_sample = await sequential(sender, "help", status_count, channel, "U_REQ")
    baselines = {"help": percentile(help_sample.ack, 50), "bare": bare_p50}
    report("help (baseline)", help_sample, baselines)
    posted_before = len(sender.fake.calls("chat.postMessage"))
    phases = [
        ("status sim-1, sequential", "status sim-1", status_count, 1),
        ("pause sim-1 seq-1, sequential", "pause sim-1 seq-1", mutating_count, 1),
        (f"status sim-1, bursts of {width}", "status sim-1", status_count, width),
        (f"pause sim-1 seq-1, bursts of {width}", "pause sim-1 seq-1", mutating_count, width),
    ]
    for label, text, count, burst in phases:
        report(label, await bursts(sender, text, count, burst, channel, "U_REQ"), baselines)
    created = len(sender.fake.calls("chat.postMessage")) - posted_before
    print(
        f"approval requests posted for {2 * mutating_count} pause commands: {created}"
        " (the bot allows one open request per network)"
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--status", type=int, default=200, help="status commands per phase")
    parser.add_argument("--mutating", type=int, default=100, help="pause commands per phase")
    parser.add_argument("--burst", type=int, default=20, help="concurrent commands per burst")
    parser.add_argument("--nodes", type=int, default=3, help="sequencers in the simulated network")
    parser.add_argument(
        "--what-if",
        action="store_true",
        help="also run with Bolt's process_before_response=True, for comparison",
    )
    args = parser.parse_args()
    asyncio.run(main(args.status, args.mutating, args.burst, args.nodes, args.what_if))


if __name__ == "__main__":
    cli()
