"""`conductor-bot run` against a Slack that refuses its tokens or never answers, as a real process.

A token Slack refuses: one line with Slack's error code and what to do, exit code 2. A Slack that never
answers: the bot keeps trying, and SIGTERM or SIGINT still stops it cleanly within 5 s.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from sim.harness import simulate
from tests.fixtures.process import BotProcess

STOP_WITHIN = 5.0


@asynccontextmanager
async def fake_slack(answers: dict[str, dict[str, object]] | None) -> AsyncIterator[str]:
    """A Web API answering `answers[method]` (other methods: ok), or never answering when None."""
    released = asyncio.Event()

    async def api(request: web.Request) -> web.Response:
        if answers is None:
            await released.wait()
        return web.json_response((answers or {}).get(request.match_info["method"], {"ok": True}))

    app = web.Application()
    app.router.add_route("*", "/api/{method}", api)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/api/"
    finally:
        released.set()
        await runner.cleanup()


@asynccontextmanager
async def bot_env(tmp_path: Path, redis_url: str, slack_url: str) -> AsyncIterator[dict[str, str]]:
    async with simulate(nodes=3, realtime=True) as sim:
        sim.write_config(tmp_path)
        yield {
            "CONDUCTOR_BOT_CLUSTERS": str(tmp_path / "clusters.yml"),
            "CONDUCTOR_BOT_KEY_PREFIX": "cbconnect",
            "REDIS_URL": redis_url,
            "SLACK_BOT_TOKEN": "xoxb-1-test",
            "SLACK_APP_TOKEN": "xapp-1-test",
            "SLACK_API_URL": slack_url,
        }


@pytest.mark.parametrize(
    ("answers", "line"),
    [
        (
            {"apps.connections.open": {"ok": False, "error": "invalid_auth"}},
            "error: Slack refused a token: invalid_auth: "
            "SLACK_APP_TOKEN is not an app-level token (xapp-…) with connections:write",
        ),
        (
            {"auth.test": {"ok": False, "error": "invalid_auth"}},
            "error: Slack refused a token: invalid_auth: SLACK_BOT_TOKEN is not a valid bot token (xoxb-…) "
            "for this workspace: copy the Bot User OAuth Token from the app's OAuth & Permissions page",
        ),
    ],
    ids=["app-token", "bot-token"],
)
async def test_a_refused_token_is_one_line_and_exit_2(
    tmp_path: Path, redis_url: str, answers: dict[str, dict[str, object]], line: str
) -> None:
    async with (
        fake_slack(answers) as url,
        bot_env(tmp_path, redis_url, url) as env,
        BotProcess.start(["run", "--http-port", "0"], env) as bot,
    ):
        code = await bot.wait_exit(15)
    assert code == 2, bot.output
    assert bot.lines[-1] == line
    assert [x for x in bot.lines if "error" in x.lower()] == [line]
    assert "Traceback" not in bot.output


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_slack_that_never_answers_still_lets_a_signal_stop_the_bot(
    tmp_path: Path, redis_url: str, sig: signal.Signals
) -> None:
    async with (
        fake_slack(None) as url,
        bot_env(tmp_path, redis_url, url) as env,
        BotProcess.start(["run", "--http-port", "0"], env) as bot,
    ):
        await bot.wait_for("redis connected")  # now waiting on Slack's auth.test
        sent = time.monotonic()
        bot.signal(sig, group=sig == signal.SIGINT)  # Ctrl-C reaches the whole process group
        code = await bot.wait_exit(STOP_WITHIN + 5)
        took = time.monotonic() - sent
    print(f"{sig.name} while Slack never answers: stopped in {took:.2f}s")
    assert code == 0, bot.output
    assert took < STOP_WITHIN, f"took {took:.1f}s"
    assert "Traceback" not in bot.output
