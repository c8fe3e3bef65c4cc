"""Start-up refusals of `conductor-bot run`: clear messages, before anything is started."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.main import ConfigurationError, missing_settings, run
from sim.slack_api import FakeSlackApi
from tests.fixtures.slack import bot_settings


def test_missing_settings_are_each_named() -> None:
    problems = missing_settings(bot_settings(SLACK_BOT_TOKEN=None, SLACK_SIGNING_SECRET=None))
    assert problems == [
        "SLACK_BOT_TOKEN is not set (the bot token, xoxb-…)",
        "SLACK_SIGNING_SECRET is not set (needed in HTTP mode; or set SLACK_APP_TOKEN for Socket Mode)",
        "no clusters file: pass --clusters or set CONDUCTOR_BOT_CLUSTERS",
    ]


def test_socket_mode_needs_no_signing_secret(tmp_path: Path) -> None:
    settings = bot_settings(
        SLACK_SIGNING_SECRET=None, SLACK_APP_TOKEN="xapp-1", CONDUCTOR_BOT_CLUSTERS=tmp_path / "c.yml"
    )
    assert missing_settings(settings) == []


async def test_run_refuses_an_invalid_clusters_file(tmp_path: Path) -> None:
    clusters = tmp_path / "clusters.yml"
    clusters.write_text("networks: [this is not a mapping\n")
    with pytest.raises(ConfigurationError, match="invalid clusters file"):
        await run(bot_settings(CONDUCTOR_BOT_CLUSTERS=clusters))


@pytest.mark.usefixtures("process_logging")
def test_cli_exits_2_with_the_problems_on_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    from bot.main import run_command

    for var in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "CONDUCTOR_BOT_CLUSTERS"):
        monkeypatch.delenv(var, raising=False)
    app = typer.Typer()
    app.command()(run_command)
    result = CliRunner().invoke(app, ["--http-port", "0"])
    assert result.exit_code == 2
    assert "SLACK_BOT_TOKEN is not set" in result.output
    assert "Traceback" not in result.output


async def test_run_serves_until_sigterm_then_closes_cleanly(
    tmp_path: Path, redis_url: str, fake_slack: FakeSlackApi
) -> None:
    import asyncio
    import os
    import signal

    import httpx

    from bot.main import RunningBot
    from sim.harness import simulate

    started: asyncio.Queue[RunningBot] = asyncio.Queue()

    async def on_started(bot: RunningBot) -> None:
        await started.put(bot)

    async with simulate(nodes=3) as sim:
        sim.write_config(tmp_path)
        settings = bot_settings(
            CONDUCTOR_BOT_CLUSTERS=tmp_path / "clusters.yml",
            REDIS_URL=redis_url,
            SLACK_API_URL=fake_slack.base_url,
            CONDUCTOR_BOT_KEY_PREFIX="cbmaintest",
        )
        runner = asyncio.create_task(run(settings, http_port=0, on_started=on_started))
        bot = await asyncio.wait_for(started.get(), 15)
        async with httpx.AsyncClient(timeout=5) as client:
            health = await client.get(f"{bot.url}/healthz")
        assert health.status_code == 200 and health.json()["networks"] == 1
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(runner, 25)  # returns normally: the signal stopped it, it did not kill us
        async with httpx.AsyncClient(timeout=2) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{bot.url}/healthz")
