"""The message checks every test relies on (`sim.slack_checks`) catch each kind of message Slack refuses
or shows wrongly, so a suite that passes cannot be one whose checker passes everything."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sim import slack_checks
from sim.slack_api import FakeSlackApi
from sim.slack_checks import blocks_problems, call_problems, message_problems


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(action_id: str, value: str = "v") -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": "Go"},
        "action_id": action_id,
        "value": value,
    }


GOOD = [
    {"type": "header", "text": {"type": "plain_text", "text": "mainnet: healthy & calm <3"}},
    section(
        "*Firing* since <!date^1760000010^{date_short_pretty} {time}|2025-10-09 08:53 UTC> by <@U0ABC> "
        "for <!subteam^S123> in <#C42> · <https://example.com/a?b=1&c=2|the runbook &amp; more> · "
        "`&lt;stop_hash&gt;` R&amp;D"
    ),
    {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Leader*\nseq-0"}]},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "request `r-1` · <@U_REQ>"}]},
    {"type": "actions", "elements": [button("approve"), button("reject")]},
]


def test_a_well_formed_message_passes() -> None:
    assert message_problems("mainnet: healthy &amp; calm", GOOD) == []


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ([section("x")] * 51, "51 blocks; Slack accepts at most 50"),
        ([section("x" * 3001)], "3000"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "150"),
        ([{"type": "actions", "elements": [button("a", "v" * 2001)]}], "2000"),
        ([{"type": "actions", "elements": [button("a"), button("a")]}], "duplicate action_id ['a']"),
        (
            [{"type": "actions", "elements": [button("a")]}, section("x", accessory=button("a"))],
            "duplicate action_id ['a']",
        ),
        ([section("x", block_id="b"), section("y", block_id="b")], "duplicate block_id ['b']"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}], "at most 2000"),
        ([section("")], "empty mrkdwn text"),
        ([{"type": "no_such_block"}], "unknown block type"),
        ([section("the node said <script>")], "unescaped '<'"),
        ([section("head > safe")], "unescaped '>'"),
        ([section("R&D")], "unescaped '&'"),
        ([section("error: <!channel> wake up")], "unescaped '<'"),
        ([section("see <https://x.test|a <b> label>")], "unescaped '<'"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "a & b"}]}], "unescaped '&'"),
        ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "x > y"}]}], "unescaped '>'"),
    ],
)
def test_each_kind_of_bad_block_is_caught(blocks: list[dict[str, Any]], expected: str) -> None:
    problems = message_problems("fallback", blocks)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    "method", ["chat.postMessage", "chat.update", "chat.postEphemeral", "response:cmd-1"]
)
def test_a_message_without_a_text_fallback_is_caught(method: str) -> None:
    problems = call_problems(method, {"channel": "C1", "blocks": [section("x")]})
    assert problems == ["no `text` fallback (notifications and screen readers show it)"]


def test_the_fallback_text_is_mrkdwn_too_and_blocks_may_arrive_as_json_text() -> None:
    problems = call_problems("chat.postMessage", {"text": "a <b>", "blocks": '[{"type": "divider"}] '})
    assert [p.split(":")[0] for p in problems] == ["text", "text"]
    assert call_problems("chat.postMessage", {"text": "a <b>", "mrkdwn": "false"}) == []
    assert call_problems("response:x", {"delete_original": True}) == []


def test_views_and_acks_are_checked() -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": [section("x")] * 101}
    assert any("101 blocks" in p for p in call_problems("views.open", {"view": view}))
    assert call_problems("ack", {"response_type": "ephemeral", "text": ""}) != []
    assert call_problems("ack", {"response_action": "clear"}) == []


def test_clip_never_leaves_a_torn_entity_or_token() -> None:
    from chat.text import clip, escape

    for n in range(1, 40):
        assert (
            blocks_problems([section(clip(escape("a<b>&c " * 5) + " <@U0ABC> <!date^1^{ago}|now>", n))]) == []
        )


async def test_the_fake_records_what_slack_would_refuse_and_the_suite_fails_on_it() -> None:
    """Through the real client and HTTP: what the autouse `slack_accepts_every_message` fixture sees."""
    fake = await FakeSlackApi.start()
    try:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.base_url)
        await client.chat_postMessage(channel="C1", text="ok", blocks=[section("x" * 3001)])
        async with httpx.AsyncClient() as http:
            # Raw, as slack_sdk itself warns before sending a message without text.
            update = {"channel": "C1", "ts": "1.1", "blocks": [section("fine")]}
            await http.post(
                fake.base_url + "chat.update", json=update, headers={"Authorization": "Bearer xoxb-t"}
            )
            await http.post(fake.response_url_for("cmd-1"), json={"text": "node said <!channel>"})
        await client.chat_postMessage(channel="C1", text="all good", blocks=GOOD)
    finally:
        await fake.stop()
    problems = slack_checks.take_recorded()  # taken, so this test itself does not fail at teardown
    assert [p.split(":")[0] for p in problems] == ["chat.postMessage", "chat.update", "response", "response"]
    assert "3000" in problems[0]
    assert "no `text` fallback" in problems[1]
    assert ["unescaped '<'" in problems[2], "unescaped '>'" in problems[3]] == [True, True]


def test_a_test_that_sent_a_bad_message_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner="""
        from sim import slack_checks
        from tests.conftest import slack_accepts_every_message  # noqa: F401

        def test_posts_a_mass_ping():
            slack_checks.record("chat.postMessage", {"channel": "C1", "text": "node said <!channel>"})

        def test_posts_nothing_wrong():
            slack_checks.record("chat.postMessage", {"channel": "C1", "text": "node said &lt;!channel&gt;"})
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:asyncio", "-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_posts_a_mass_ping*", "*unescaped '<'*"])
