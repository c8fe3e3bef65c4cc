"""A slip of the finger gets the word meant, for each kind the user types: verb, network, sequencer,
alert rule and duration — through signed slash commands into the running bot."""

from __future__ import annotations

from tests.fixtures.blocks_valid import assert_valid_message
from tests.fixtures.slack import BotHandle, StartBot
from tests.scenarios.test_alerts_buttons import RESPONDERS


async def ask(bot: BotHandle, text: str, user: str = "U1") -> str:
    sent = await bot.driver.command(text, user=user, channel=bot.channel())
    [reply] = await bot.fake.wait_for_response(sent.response_name)
    assert_valid_message(reply.get("text"), reply.get("blocks"))
    assert reply["response_type"] == "ephemeral"
    return str(reply["text"])


async def test_each_kind_of_typo_gets_the_word_meant(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=RESPONDERS) as bot:
        assert await ask(bot, "pasue sim-1") == (
            "Unknown command `pasue` — did you mean `pause`? `/conductor help` lists every command."
        )
        assert await ask(bot, "status sim1") == (
            ":warning: Unknown network `sim1` — did you mean `sim-1`? Configured networks: `sim-1`."
        )
        assert await ask(bot, "pause sim-1 seq1") == (
            ":warning: unknown sequencer `seq1` in sim-1 — did you mean `seq-1`? "
            "Its sequencers: seq-0, seq-1, seq-2"
        )
        assert (await ask(bot, "silence sim-1 multiple_activ 30m")).startswith(
            ":warning: Unknown alert rule `multiple_activ` — did you mean `multiple_active`? Rules: "
        )
        assert await ask(bot, "silence sim-1 multiple_active 30min") == (
            ":warning: `30min` is not a duration — did you mean `30m`?"
        )
        assert (await ask(bot, "timeline sim-1 1.5h")).startswith(
            ":warning: `1.5h` is not a duration — did you mean `1h30m`?"
        )


async def test_no_guess_where_there_is_no_likely_word(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        assert (
            await ask(bot, "status nope") == ":warning: Unknown network `nope`. Configured networks: `sim-1`."
        )
        # seq-9 is not a typo of seq-1: a guess could aim the operation at another machine.
        assert "did you mean" not in await ask(bot, "pause sim-1 seq-9")
        assert "did you mean" not in await ask(bot, "frobnicate")
