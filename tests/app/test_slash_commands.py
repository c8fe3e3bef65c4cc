"""Signed slash commands into the running bot's /slack/events, answered via the fake Slack."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from commands.router import VERB_MODULES
from tests.fixtures.slack import StartBot


def texts(reply: dict[str, Any]) -> str:
    """Everything a user can read in a reply: its text and every block's text."""
    parts = [reply.get("text") or ""]
    for block in reply.get("blocks") or []:
        if "text" in block:
            parts.append(block["text"]["text"])
        for element in block.get("elements", []):
            if isinstance(element.get("text"), str):
                parts.append(element["text"])
    return "\n".join(parts)


async def test_forged_signature_is_rejected_before_anything_runs(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        at_start = len(bot.fake.calls("auth.test"))  # the start-up token check
        sent = await bot.driver.command("status sim-1", channel=bot.channel(), forge=True)
        assert sent.status == 401
        # Verification comes before authorization: the bot did not even identify itself to Slack.
        assert len(bot.fake.calls("auth.test")) == at_start


async def test_stale_timestamp_is_rejected(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        at_start = len(bot.fake.calls("auth.test"))
        sent = await bot.driver.command("help", channel=bot.channel(), timestamp_offset=-600)
        assert sent.status == 401
        assert len(bot.fake.calls("auth.test")) == at_start


async def test_help_lists_every_verb_and_acks_fast(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        sent = await bot.driver.command("help", channel=bot.channel())
        assert sent.status == 200
        assert sent.body == ""  # the ack itself says nothing; the reply comes via response_url
        assert sent.elapsed < 3.0
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["response_type"] == "ephemeral"
        text = texts(reply)
        for verb in (
            "status [NETWORK]",
            "networks",
            "pause NETWORK",
            "resume NETWORK",
            "override-leader NETWORK",
            "add-voter",
            "add-nonvoter",
            "remove-server",
            "transfer-leader",
            "start-sequencer",
            "stop-sequencer",
            "requests",
            "audit",
            "alerts",
            "silence",
            "unsilence",
        ):
            assert verb in text, verb


async def test_empty_command_shows_help(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        sent = await bot.driver.command("", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert "/conductor status [NETWORK]" in texts(reply)


async def test_networks_lists_sequencers_and_channels(running_bot: StartBot) -> None:
    async with running_bot(networks=2, nodes=3, nonvoters=1) as bot:
        sent = await bot.driver.command("networks", channel="CANY")
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        text = texts(reply)
        assert "*sim-1* — 3 sequencers: `seq-0`, `seq-1`, `seq-2` (nonvoter)" in text
        assert "*sim-2*" in text
        assert f"<#{bot.channel('sim-2')}>" in text


async def test_status_renders_a_healthy_network(running_bot: StartBot) -> None:
    async with running_bot(nodes=3) as bot:
        sent = await bot.driver.command("status sim-1", channel=bot.channel())
        assert sent.status == 200
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        blocks = reply["blocks"]
        assert blocks[0]["text"]["text"] == "sim-1: healthy"
        leader = bot.sim.network("sim-1").leader_id()
        [nodes] = [b["text"]["text"] for b in blocks if b.get("block_id", "").startswith("status_nodes")]
        rows = nodes.split("\n")
        assert len(rows) == 3
        assert [r for r in rows if " · leader · " in r] == [
            next(r for r in rows if r.startswith(f":large_green_circle: *{leader}* · leader · sequencing"))
        ]
        assert f"`{leader}` leads and sequences" in texts(reply)
        assert ":warning:" not in texts(reply)


async def test_status_shows_a_dead_conductor_and_still_acks_at_once(running_bot: StartBot) -> None:
    async with running_bot(nodes=3) as bot:
        await bot.sim.kill("sim-1", "seq-2", "conductor")
        sent = await bot.driver.command("status sim-1", channel=bot.channel())
        assert sent.elapsed < 3.0
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        text = texts(reply)
        assert reply["blocks"][0]["text"]["text"] == "sim-1: degraded"
        assert ":warning: *seq-2*" in text and "\n      ↳ conductor unreachable: " in text


async def test_ack_does_not_wait_for_a_hanging_node(running_bot: StartBot) -> None:
    async with running_bot(nodes=3, settings_env={"CONDUCTOR_BOT_RPC_TIMEOUT": 1.5}) as bot:
        await bot.sim.hang("sim-1", "seq-1", "conductor")
        sent = await bot.driver.command("status sim-1", channel=bot.channel())
        # The reply needs the 1.5 s RPC timeout; the ack must not.
        assert sent.elapsed < 1.0
        [reply] = await bot.fake.wait_for_response(sent.response_name, timeout=10)
        assert "timeout" in texts(reply)
        await bot.sim.unhang("sim-1", "seq-1", "conductor")


async def test_status_without_network_gives_one_line_per_network_of_the_channel(
    running_bot: StartBot,
) -> None:
    async with running_bot(networks=2, network_overrides={"command_channels": ("COPS",)}) as bot:
        sent = await bot.driver.command("status", channel="COPS")
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        lines = reply["text"].splitlines()
        assert [line.split("*")[1] for line in lines] == ["sim-1", "sim-2"]
        assert all(
            line.startswith(":large_green_circle:") and " healthy: leader seq-" in line for line in lines
        )


async def test_unknown_network_is_named_with_the_known_ones(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        sent = await bot.driver.command("status nope", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["text"] == ":warning: Unknown network `nope`. Configured networks: `sim-1`."
        assert reply["response_type"] == "ephemeral"


async def test_status_from_a_channel_not_configured_is_refused(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        sent = await bot.driver.command("status sim-1", channel="CRANDOM")
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["text"] == f":warning: Commands for `sim-1` are only accepted in <#{bot.channel()}>."
        sent = await bot.driver.command("status", channel="CRANDOM")
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["text"].startswith("No network accepts commands in this channel.")


async def test_unknown_verbs_point_to_help(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        sent = await bot.driver.command("frobnicate sim-1", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert (
            reply["text"] == "Unknown command `frobnicate`. Try `/conductor help` for the list of commands."
        )


async def test_too_many_arguments_get_the_usage(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        sent = await bot.driver.command("status sim-1 extra", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["text"] == ":warning: Usage: `/conductor status [NETWORK]`"


async def test_unbalanced_quotes_are_explained(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        sent = await bot.driver.command('status "sim-1', channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["text"] == ":warning: Could not read the command: No closing quotation."


async def test_a_bug_shows_a_reference_and_never_the_traceback(
    running_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.app.boom_verb import SECRET_DETAIL

    caplog.set_level(logging.INFO, logger="chat.errors")
    async with running_bot(verb_modules=(*VERB_MODULES, "tests.app.boom_verb")) as bot:
        sent = await bot.driver.command("boom", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
    text = reply["text"]
    assert "Traceback" not in text and SECRET_DETAIL not in text
    ref = text.split("`")[1]
    assert len(ref) == 8
    [record] = [
        r for r in caplog.records if r.name == "chat.errors" and f"correlation_id={ref}" in r.getMessage()
    ]
    assert record.exc_info is not None  # the traceback is in the server log, under that id


async def test_a_slack_retry_of_a_read_only_command_is_answered(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        sent = await bot.driver.command("networks", channel=bot.channel(), retry_num=1)
        assert sent.status == 200
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert "*sim-1*" in reply["text"]
