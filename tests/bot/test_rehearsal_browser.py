"""The rehearsal room in a real browser: a team's first drill, end to end through the real bot.

`conductor-bot demo` runs as a user starts it; chromium opens the printed URL; every step is what a
person would do on the page (type a command, press a fault button, switch user, click Approve and
confirm) and every check is what they would see. Screenshots of each stage go to tests/output/rehearsal/.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.fixtures.browser import SCREENSHOTS, DemoProcess

# Generous: the simulator runs in scaled real time and the machine may be busy; every wait is bounded.
STEP = 60_000  # ms
REQUESTER, APPROVER = "U0ONCALL", "U0LEAD"


async def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


async def _command(page: Page, text: str) -> None:
    await page.locator("#composer-input").fill(text)
    await page.locator("#composer-input").press("Enter")


@pytest.mark.timeout(240)
async def test_a_drill_kill_the_leader_then_pause_with_a_second_person(
    browser: Browser, demo_room: DemoProcess
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 860})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(demo_room.url)
    await expect(page.locator("body")).to_have_attribute("data-live", "yes", timeout=STEP)
    await expect(page.locator(".node")).to_have_count(4, timeout=STEP)
    await _shot(page, "01-opened")

    # 1. status, answered only to the person who asked
    await _command(page, "/conductor status sim-1")
    status = page.locator(".msg.ephemeral").filter(has=page.locator(".bk-header", has_text="sim-1: healthy"))
    await expect(status).to_be_visible(timeout=STEP)
    await expect(status).to_contain_text("Only visible to you")
    await _shot(page, "02-status")

    # 2. kill the leader's conductor from the panel; the watcher's alert arrives in the channel
    cluster = page.locator("#cluster")
    leader = await cluster.get_attribute("data-leader")
    assert leader, "the panel shows no leader"
    await page.locator(f'.node[data-node="{leader}"] button[data-fault="kill-conductor"]').click()
    await expect(page.locator(f'.node[data-node="{leader}"]')).to_contain_text("conductor down", timeout=STEP)
    alert = (
        page.locator(".msg:not(.ephemeral)").filter(has_text="Leader changed").filter(has_text=f"{leader} →")
    )
    await expect(alert).to_be_visible(timeout=STEP)
    await expect(cluster).not_to_have_attribute("data-leader", leader, timeout=STEP)
    await expect(cluster).not_to_have_attribute("data-leader", "", timeout=STEP)
    new_leader = await cluster.get_attribute("data-leader")
    await _shot(page, "03-leader-killed-alert")

    # 3. the requester asks for a pause of a healthy follower; it needs a second person
    target = next(n for n in ("seq-0", "seq-1", "seq-2") if n not in (leader, new_leader))
    await _command(page, f"/conductor pause sim-1 {target}")
    request = (
        page.locator(".msg:not(.ephemeral)")
        .filter(has_text=f"pause sim-1 {target}")
        .filter(has=page.locator("button", has_text="Approve"))
    )
    await expect(request).to_be_visible(timeout=STEP)
    request_id = await request.get_attribute("data-id")
    request = page.locator(f'.msg[data-id="{request_id}"]')
    await _shot(page, "04-pause-requested")

    # 4. the requester cannot approve their own request (after the confirm dialog)
    await request.locator("button", has_text="Approve").click()
    dialog = page.locator("#confirm")
    await expect(dialog).to_be_visible(timeout=STEP)
    await expect(dialog).to_contain_text(f"pause sim-1 {target}")
    await dialog.locator("#confirm-yes").click()
    refusal = page.locator(".msg.ephemeral").filter(has_text="you cannot approve your own request")
    await expect(refusal).to_be_visible(timeout=STEP)
    await _shot(page, "05-self-approval-refused")

    # 5. an approver approves; the bot runs the pause and the same message turns to "Succeeded"
    await page.locator("#user").select_option(APPROVER)
    await expect(refusal).to_have_count(0)  # ephemeral: the approver never sees the requester's reply
    await request.locator("button", has_text="Approve").click()
    await dialog.locator("#confirm-yes").click()
    await expect(request.locator(".bk-header")).to_contain_text("Succeeded", timeout=STEP)
    await expect(request.locator("button", has_text="Approve")).to_have_count(0)
    await expect(page.locator(f'.node[data-node="{target}"]')).to_contain_text("paused", timeout=STEP)
    await _shot(page, "06-approved-succeeded")
    await request.locator(".thread-toggle").click()  # the step results are in the thread
    await expect(request.locator(".thread .msg").filter(has_text="outcome verified")).to_be_visible()
    await _shot(page, "07-thread")

    # 6. the next drill from the menu: the cluster is healed, then the new leader's conductor dies
    await page.locator("#scenario").select_option(label="Leader's conductor dies")
    # Healing revives every conductor, and raft may elect any of them: the goal names who leads now.
    goal = page.locator("#goal")
    await expect(goal).to_contain_text(re.compile(r"The leader's op-conductor \(seq-\d+\)"), timeout=STEP)
    match = re.search(r"op-conductor \((seq-\d+)\)", await goal.inner_text())
    assert match is not None
    victim = match.group(1)
    await expect(page.locator(f'.node[data-node="{victim}"]')).to_contain_text("conductor down", timeout=STEP)
    for other in {leader, new_leader} - {victim}:
        node = page.locator(f'.node[data-node="{other}"]')
        await expect(node).to_contain_text("conductor up", timeout=STEP)
    await _shot(page, "08-scenario-leader-dies")
    assert not errors, errors
