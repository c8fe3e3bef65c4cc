"""What a user types comes back as written: `<`, `>` and `&` in any word of any command are escaped in
the reply, so a typo cannot ping the channel or fake a link (`sim.slack_checks` fails the test
otherwise, through the autouse fixture in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.fixtures.slack import StartBot
from tests.scenarios.test_alerts_buttons import RESPONDERS

EVIL = "<!channel>&x"
COMMANDS = [
    f"{EVIL}",
    f"help {EVIL}",
    f"status {EVIL}",
    f"status sim-1 {EVIL}",
    f"networks {EVIL}",
    f"pause {EVIL}",
    f"pause sim-1 {EVIL}",
    f"resume sim-1 {EVIL}",
    f"override-leader sim-1 {EVIL}",
    f"transfer-leader sim-1 {EVIL}",
    f"add-voter sim-1 {EVIL} 10.0.0.9:50050",
    f"remove-server sim-1 {EVIL}",
    f"start-sequencer sim-1 {EVIL}",
    f"stop-sequencer sim-1 {EVIL}",
    f"procedure {EVIL}",
    f"procedure sim-1 {EVIL}",
    f"requests {EVIL}",
    f"audit {EVIL}",
    f"timeline {EVIL}",
    f"timeline sim-1 {EVIL}",
    f"alerts {EVIL}",
    f"silence sim-1 {EVIL} 30m",
    f"silence sim-1 lagging {EVIL}",
    f"unsilence sim-1 {EVIL}",
    f'pause sim-1 "unclosed {EVIL}',
]


@pytest.mark.parametrize("command", COMMANDS)
async def test_a_typed_word_comes_back_as_written(running_bot: StartBot, command: str) -> None:
    async with running_bot(network_overrides=RESPONDERS) as bot:
        sent = await bot.driver.command(command, user="U1", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert "<!channel>" not in str(reply)
