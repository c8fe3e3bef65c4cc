"""Slash-command ack time of the real bot, every part in its own process: `python -m bench.bench_ack`.

The bot runs as `conductor-bot run` (its own process: Starlette under uvicorn, Bolt, signature checks,
the watcher's scheduler) against the simulator (its own process, real time) and a Valkey server;
this process only signs and sends the commands and plays Slack's Web API (the fake, on loopback).
Each command is a signed form POST like Slack's, on one keep-alive connection per concurrent sender:

    ack    the HTTP response time of the POST (Slack gives up after 3 s)
    reply  from sending until the answer reached Slack: a post to the response_url, or the
           approval request posted in the channel (chat.postMessage)

Commands are sent one at a time (latency without queueing), then as concurrent bursts (acks while
earlier commands are still polling the cluster). Baselines measured in the same run: a bare Bolt app
(one `/conductor` listener that only acks, same Starlette + uvicorn stack, its own process: the floor
of any Bolt ack) and `help` (the cheapest command through the bot's own path), each with the ratio
of the command's p50 to it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.simproc import machine_load, sim_process
from sim.config_files import channel_for
from sim.slack_api import FakeSlackApi
from sim.slack_requests import command_body, signed_headers
from store.connection import start_valkey
from tests.fixtures.slack import BOT_TOKEN, SIGNING_SECRET

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

    async def ack_only(self, sample: Sample) -> None:
        """A signed `help` whose ack is all we wait for (the bare Bolt baseline replies nothing)."""
        self._next += 1
        body = command_body(
            "help", user="U1", channel="C1", response_url="http://127.0.0.1:9/", trigger_id=str(self._next)
        )
        started = time.perf_counter()
        response = await self.http.post(
            self.events_url, content=body.encode(), headers=signed_headers(body, SIGNING_SECRET)
        )
        sample.ack.append(time.perf_counter() - started)
        sample.statuses.append(response.status_code)

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def _process(args: list[str], env: dict[str, str], port: int) -> AsyncIterator[str]:
    """A server process; yields its base URL once it answers HTTP."""
    log = Path(tempfile.gettempdir()) / f"bench-ack-{port}.log"
    with log.open("wb") as sink:  # the process's logs, to read if it fails
        proc = await asyncio.create_subprocess_exec(
            *args, env={**os.environ, **env}, stdout=sink, stderr=sink
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=1.0) as probe, asyncio.timeout(60):
            while True:
                if proc.returncode is not None:
                    raise RuntimeError(f"{args[2:4]} exited with {proc.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    await probe.get(url + "/healthz")
                    break
                await asyncio.sleep(0.1)
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
            async with asyncio.timeout(30):
                await proc.wait()


def serve_bare_bolt(port: int, slack_url: str) -> None:
    """The baseline process: a Bolt app whose `/conductor` listener only acks."""
    import uvicorn
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    # The same fake Web API as the bot's, for Bolt's one auth.test.
    app = AsyncApp(client=AsyncWebClient(token=BOT_TOKEN, base_url=slack_url), signing_secret=SIGNING_SECRET)

    @app.command("/conductor")
    async def conductor(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_request: Request) -> Response:
        return Response("ok")

    routes = [Route("/slack/events", events, methods=["POST"]), Route("/healthz", healthz)]
    uvicorn.run(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning")


async def bare_acks(sender: CommandSender, count: int, width: int) -> Sample:
    sample = Sample()
    for start in range(0, count, width):
        await asyncio.gather(*(sender.ack_only(sample) for _ in range(min(width, count - start))))
    return sample


def report(label: str, sample: Sample, baselines: dict[str, float]) -> None:
    ack50, ack99 = percentile(sample.ack, 50), percentile(sample.ack, 99)
    replies = (
        f" | reply p50 {ms(percentile(sample.reply, 50))} p99 {ms(percentile(sample.reply, 99))}"
        if sample.reply
        else ""
    )
    ratios = "  ".join(f"{ack50 / value:5.1f}x {name}" for name, value in baselines.items())
    bad = sum(1 for s in sample.statuses if s != 200)
    late = sum(1 for a in sample.ack if a >= ACK_LIMIT)
    print(
        f"{label:<40} n={len(sample.ack):<4} ack p50 {ms(ack50)} p99 {ms(ack99)} max {ms(max(sample.ack))}"
        + replies
        + (f" | p50 vs {ratios}" if ratios else "")
        + (f" | NON-200: {bad}" if bad else "")
        + (f" | OVER 3 s: {late}" if late else "")
    )


async def main(status_count: int, mutating_count: int, width: int, nodes: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    print(f"bench_ack: 1 network x {nodes} nodes; bot, simulator and Valkey each in their own process")
    with tempfile.TemporaryDirectory(prefix="bench-ack-") as tmp:
        server = await asyncio.to_thread(start_valkey, Path(tmp), {}, False)
        fake = await FakeSlackApi.start()
        bare_port, bot_port = _free_port(), _free_port()
        bare_cmd = [
            sys.executable,
            "-m",
            "bench.bench_ack",
            "--serve-bare-bolt",
            str(bare_port),
            fake.base_url,
        ]
        bot_cmd = [
            sys.executable,
            "-c",
            "from bot.cli import main; main()",
            "run",
            "--http-port",
            str(bot_port),
        ]
        try:
            async with (
                sim_process(1, nodes) as sim,
                _process(bare_cmd, {}, bare_port) as bare_url,
                httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http,
            ):
                env = {
                    "SLACK_BOT_TOKEN": BOT_TOKEN,
                    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "SLACK_API_URL": fake.base_url,
                    "REDIS_URL": str(server.connection_url),
                    "CONDUCTOR_BOT_CLUSTERS": str(sim.clusters_path),
                    "CONDUCTOR_BOT_STATE_DIR": tmp,
                }
                env.pop("SLACK_APP_TOKEN", None)
                bare = CommandSender(f"{bare_url}/slack/events", fake, http)
                await bare_acks(bare, 20, 1)  # warm-up
                floor = {
                    "sequential": await bare_acks(bare, status_count, 1),
                    "burst": await bare_acks(bare, status_count, width),
                }
                async with _process(bot_cmd, env, bot_port) as bot_url:
                    sender = CommandSender(f"{bot_url}/slack/events", fake, http)
                    print(machine_load())
                    report("bare Bolt ack, sequential (baseline)", floor["sequential"], {})
                    report(f"bare Bolt ack, bursts of {width} (baseline)", floor["burst"], {})
                    await run_phases(sender, floor, status_count, mutating_count, width)
        finally:
            await fake.stop()
            await asyncio.to_thread(server.stop, 10)


async def run_phases(
    sender: CommandSender, floor: dict[str, Sample], status_count: int, mutating_count: int, width: int
) -> None:
    channel = channel_for("sim-1")
    # Warm-up: first-request costs (auth.test, imports, connection set-up) are not what we measure.
    await sequential(sender, "help", 10, channel, "U_REQ")
    await sequential(sender, "status sim-1", 5, channel, "U_REQ")

    bare = {k: percentile(v.ack, 50) for k, v in floor.items()}
    help_sample = await sequential(sender, "help", status_count, channel, "U_REQ")
    help_p50 = percentile(help_sample.ack, 50)
    report("help", help_sample, {"bare Bolt": bare["sequential"]})
    posted_before = len(sender.fake.calls("chat.postMessage"))
    phases = [
        ("status sim-1, sequential", "status sim-1", status_count, 1),
        ("pause sim-1 seq-1, sequential", "pause sim-1 seq-1", mutating_count, 1),
        (f"status sim-1, bursts of {width}", "status sim-1", status_count, width),
        (f"pause sim-1 seq-1, bursts of {width}", "pause sim-1 seq-1", mutating_count, width),
    ]
    for label, text, count, burst in phases:
        if count == 0:
            continue
        floor_p50 = bare["sequential" if burst == 1 else "burst"]
        sample = await bursts(sender, text, count, burst, channel, "U_REQ")
        report(label, sample, {"bare Bolt": floor_p50, "help": help_p50})
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
    parser.add_argument("--serve-bare-bolt", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare_bolt:
        serve_bare_bolt(int(args.serve_bare_bolt[0]), args.serve_bare_bolt[1])
        return
    asyncio.run(main(args.status, args.mutating, args.burst, args.nodes))


if __name__ == "__main__":
    cli()
