"""The rehearsal page's Block Kit renderer (bot/rehearsal/static/blockkit.js), run in chromium.

What a reader of the page would notice: the bot's real messages (every golden file) render without
gaps, mrkdwn looks as in Slack, and no message text can become markup or script.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

import bot.rehearsal
from tests.fixtures.browser import SCREENSHOTS

RENDERER = Path(bot.rehearsal.__file__).parent / "static" / "blockkit.js"
# One browser for all of them: every golden file, by name (e.g. "alerts/alert_firing").
GOLDENS = {
    f"{p.parent.parent.name}/{p.stem}": json.loads(p.read_text())
    for p in sorted(Path(__file__).resolve().parent.parent.glob("*/golden/*.json"))
}
USERS = {"U0LEAD": "Lee"}


@pytest.fixture
async def page(browser: Browser) -> Page:
    page = await browser.new_page()
    await page.set_content("<!doctype html><body><div id=out></div></body>")
    await page.add_script_tag(path=str(RENDERER))
    return page


async def _render(page: Page, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """Render blocks into #out; return its HTML, text and what was created."""
    result: dict[str, Any] = await page.evaluate(
        """([blocks, users]) => {
            const out = document.getElementById("out");
            out.replaceChildren(BlockKit.renderBlocks(blocks, {users}));
            return {
                html: out.innerHTML,
                text: out.innerText,
                tags: [...new Set([...out.querySelectorAll("*")].map((n) => n.tagName.toLowerCase()))],
                unsupported: out.querySelectorAll(".bk-unsupported").length,
                links: [...out.querySelectorAll("a")].map((a) => a.getAttribute("href")),
                handlers: [...out.querySelectorAll("*")].flatMap(
                    (n) => [...n.attributes].map((a) => a.name).filter((a) => a.startsWith("on"))),
            };
        }""",
        [blocks, USERS],
    )
    return result


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_the_golden_messages_are_found() -> None:
    assert {"alerts/alert_firing", "app/status_healthy", "commands/pending_start_sequencer"} <= set(GOLDENS)


async def test_every_golden_message_renders_completely(page: Page) -> None:
    gaps: dict[str, list[str]] = {}
    for name, blocks in GOLDENS.items():
        shown = await _render(page, blocks)
        header = next(b for b in blocks if b["type"] == "header")["text"]["text"]
        buttons = [e["text"]["text"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
        # The header's words (its :emoji: shortcode is drawn as the emoji itself) and every button.
        expected = [header.split(":")[-1].strip(), *buttons]
        missing = [t for t in expected if t not in shown["text"]]
        missing += ["[unsupported]"] * shown["unsupported"]
        if missing:
            gaps[name] = missing
    assert gaps == {}


async def test_mrkdwn_is_drawn_as_slack_draws_it(page: Page) -> None:
    shown = await _render(
        page,
        [
            _section(
                "*bold* and _italic_ and ~gone~, `code *not bold*`,"
                " <https://example.com/x?a=1&amp;b=2|the docs>, <@U0LEAD>, <@U0NOBODY>,"
                " <!date^1760000010^{date_num}|2025-10-09> and a :warning:"
            )
        ],
    )
    html = shown["html"]
    assert "<b>bold</b>" in html
    assert "<i>italic</i>" in html
    assert "<s>gone</s>" in html
    assert '<code class="bk-code">code *not bold*</code>' in html
    assert shown["links"] == ["https://example.com/x?a=1&b=2"]
    assert "the docs" in shown["text"]
    assert "@Lee" in shown["text"]  # a known user by name
    assert "@U0NOBODY" in shown["text"]  # an unknown one by id
    assert "2025-10-0" in shown["text"]  # date_num in the viewer's zone (the 9th or its neighbour)
    assert "⚠️" in shown["text"]


async def test_message_text_never_becomes_markup_or_script(page: Page) -> None:
    hostile = [
        '<img src=x onerror="window.pwned=1">',
        "*<script>window.pwned=1</script>*",
        "&lt;b onmouseover=alert(1)&gt;hi&lt;/b&gt;",
        "<javascript:window.pwned=1|click me> <data:text/html,x|data>",
        '<@U1|"><img src=x onerror=window.pwned=1>>',
        "```</pre><iframe src=javascript:alert(1)></iframe>```",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "<svg onload=window.pwned=1>"}},
        *(_section(h) for h in hostile),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": h} for h in hostile]},
        {"type": "context", "elements": [{"type": "plain_text", "text": "<b>x</b>"}]},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "<i>go</i>"}, "value": "1"}
            ],
        },
    ]
    shown = await _render(page, blocks)
    assert not {"img", "script", "svg", "iframe"} & set(shown["tags"]), shown["tags"]
    assert shown["handlers"] == []
    assert shown["links"] == []  # javascript: and data: URLs stay plain text
    assert "click me" in shown["text"]
    assert "<svg onload=window.pwned=1>" in shown["text"]  # shown literally
    assert await page.evaluate("window.pwned") is None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "renderer-hostile-text.png"), full_page=True)
