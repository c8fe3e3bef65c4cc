"""`requests` links each open request to its approval message; `audit` shows stored text as written,
never as markup Slack would act on (a node's error quoting `<!channel>` pings nobody)."""

from __future__ import annotations

from commands.approval import MessageRef
from store import audit
from store.audit import AuditEntry, AuditKind
from tests.fixtures.blocks_valid import assert_valid_message
from tests.fixtures.slack import BotHandle, StartBot
from tests.scenarios.approval_support import NETWORK, OVERRIDES, REQUESTER, open_request, request_id_of
from tests.scenarios.test_requests_audit import seed_request


async def reply_of(bot: BotHandle, text: str) -> tuple[str, list[str]]:
    sent = await bot.driver.command(text, channel=bot.channel(), user=REQUESTER)
    [reply] = await bot.fake.wait_for_response(sent.response_name)
    assert_valid_message(reply.get("text"), reply.get("blocks"))
    sections = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"]
    return str(reply["text"]), sections


async def test_each_open_request_links_to_its_message(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        message = await open_request(bot, f"pause {NETWORK} seq-1")
        request_id = request_id_of(message)
        # A request whose message Slack no longer has is still listed, without a link.
        await seed_request(bot, "req-lost", message=MessageRef(channel=bot.channel(), ts="1.000001"))

        _, sections = await reply_of(bot, f"requests {NETWORK}")

        [linked] = [s for s in sections if request_id in s]
        permalink = f"https://fake.slack.test/archives/{bot.channel()}/p{message.ts.replace('.', '')}"
        assert linked.endswith(f" · <{permalink}|open the request>")
        [lost] = [s for s in sections if "req-lost" in s]
        assert "open the request" not in lost
        asked = bot.fake.calls("chat.getPermalink")
        assert sorted(c["message_ts"] for c in asked) == sorted([message.ts, "1.000001"])


async def test_audit_messages_are_escaped(running_bot: StartBot) -> None:
    async with running_bot(nodes=1) as bot:
        entry = AuditEntry(
            at=bot.sim.clock.now(),
            network=NETWORK,
            kind=AuditKind.STEP,
            actor="U_APPR",
            request_id="r1",
            message="step 1 conductor_pause on seq-0: failed: <!channel> bad <http://x.test|gateway> & co",
        )
        await audit.append(bot.ctx.store, NETWORK, entry)

        _, sections = await reply_of(bot, f"audit {NETWORK}")

        assert "failed: &lt;!channel&gt; bad &lt;http://x.test|gateway&gt; &amp; co" in sections[0]
        assert "<!channel>" not in sections[0]
