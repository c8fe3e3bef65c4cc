"""`/conductor timeline`: the watcher's history drawn and uploaded into the channel with files_upload_v2."""

from __future__ import annotations

from alerts.watcher import Watcher
from commands.timeline_chart import DPI, HEIGHT_IN, WIDTH_IN
from store import history
from tests.alerts.test_watcher_helpers import NET, run
from tests.commands.test_timeline_chart import png_size
from tests.fixtures.blocks_valid import assert_valid_message
from tests.fixtures.slack import StartBot

# Drawing the chart is seconds of CPU (matplotlib's first import and a render), more on a busy machine:
# the bound only keeps a broken upload from hanging the test.
RENDERED_WITHIN = 30.0


async def test_timeline_of_a_stalled_leader_is_uploaded_into_the_channel(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        sent = await bot.driver.command("timeline sim-1", user="U1", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["text"].startswith("No history of `sim-1` in the last 30m yet")

        watcher = Watcher(bot.ctx, "replica-a")
        await run(bot, [watcher], 20)
        leader = (await history.read(bot.ctx.store, NET, since=0.0))[-1].leaders[0]
        await bot.sim.stall(NET, leader)
        await run(bot, [watcher], 40)
        points = await history.read(bot.ctx.store, NET, since=0.0)
        assert len(points) == 30
        # The history holds the incident the picture shows: heads halt, op-conductor fails over.
        assert points[-1].leaders != (leader,) and points[-1].active == points[-1].leaders
        assert [p.fired for p in points if p.fired] == [("leader_changed",)]
        assert points[11].heads == points[10].heads

        await bot.driver.command("timeline sim-1 10m", user="U1", channel=bot.channel())
        [complete] = await bot.fake.wait_for("files.completeUploadExternal", timeout=RENDERED_WITHIN)
        [asked] = bot.fake.calls("files.getUploadURLExternal")
        [uploaded] = bot.fake.files(bot.channel())
        assert uploaded.data is not None and int(asked["length"]) == len(uploaded.data)
        assert png_size(uploaded.data) == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))
        assert uploaded.filename.startswith("sim-1-timeline-") and uploaded.title == "sim-1: the last 10m"
        assert complete["channel_id"] == bot.channel()
        assert uploaded.initial_comment is not None
        assert uploaded.initial_comment.startswith(
            "<@U1> asked for the timeline of `sim-1`: the last 10m, 30 ticks"
        )


async def test_a_refused_upload_says_why_and_how_to_fix_it(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        await run(bot, [Watcher(bot.ctx, "replica-a")], 6)
        bot.fake.fail_next(
            "files.completeUploadExternal", status=200, retry_after=None, error="not_in_channel"
        )
        sent = await bot.driver.command("timeline sim-1", user="U1", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name, timeout=RENDERED_WITHIN)
        assert reply["text"] == (
            ":warning: Slack refused the timeline upload (`not_in_channel`)."
            " Invite the bot to this channel (`/invite @conductor-bot`)."
        )
        assert_valid_message(reply["text"], reply.get("blocks"))
        assert bot.fake.files() == []
