"""Approval under abuse: forged and stale signatures, foreign buttons, Slack retries, click storms."""

from __future__ import annotations

import asyncio
import json
from contextlib import AbstractAsyncContextManager

import httpx

from bot.main import RunningBot, serve_bot
from commands.ids import ApprovalAction
from sim.slack_requests import SlackDriver, block_actions_body, command_body, signed_headers
from store.audit import AuditKind
from tests.fixtures.slack import SIGNING_SECRET, BotHandle, StartBot, bot_settings
from tests.scenarios.approval_support import (
    APPROVER,
    NETWORK,
    OTHER_APPROVERS,
    OVERRIDES,
    REQUESTER,
    audit_entries,
    click,
    ephemeral,
    open_request,
    request_id_of,
    stored,
    use_sim_settle,
    wait_message_state,
    wait_state,
)


async def post_twice(bot: BotHandle, body: str) -> list[int]:
    """The same delivery twice: the original, then Slack's retry of it (X-Slack-Retry-Num: 1)."""
    statuses = []
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as client:
        for retry in (None, 1):
            headers = signed_headers(body, SIGNING_SECRET, retry_num=retry)
            response = await client.post(f"{bot.url}/slack/events", content=body.encode(), headers=headers)
            statuses.append(response.status_code)
    return statuses


async def test_forged_and_stale_signatures_are_rejected_and_nothing_is_requested(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        forged = await bot.driver.command(
            f"pause {NETWORK} seq-2", user=REQUESTER, channel=bot.channel(), forge=True
        )
        stale = await bot.driver.command(
            f"pause {NETWORK} seq-2", user=REQUESTER, channel=bot.channel(), timestamp_offset=-600
        )
        assert (forged.status, stale.status) == (401, 401)
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        forged_click = await bot.driver.click(
            ApprovalAction.APPROVE,
            json.dumps({"request_id": request_id_of(message), "network": NETWORK}),
            user=APPROVER,
            channel=message.channel,
            message_ts=message.ts,
            forge=True,
        )
        assert forged_click.status == 401
        assert (await stored(bot, request_id_of(message))).state == "pending"
        assert len(bot.fake.messages(bot.channel())) == 1, "only the genuine command opened a request"


async def test_foreign_or_malformed_button_values_get_a_clear_answer(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        for value in (
            "not json",
            json.dumps({"request_id": "feedbeef0000", "network": NETWORK}),
            json.dumps({"request_id": "x", "network": "other-net"}),
        ):
            name = await click(bot, message, ApprovalAction.APPROVE, APPROVER, value=value)
            text = await ephemeral(bot, name)
            assert text.startswith(":warning:"), text
            assert "no longer exists" in text or "does not belong to a request" in text
            assert "Traceback" not in text
        assert (await stored(bot, request_id_of(message))).state == "pending"


async def test_a_retried_slash_command_opens_one_request(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        body = command_body(
            f"pause {NETWORK} seq-2",
            user=REQUESTER,
            channel=bot.channel(),
            response_url=bot.fake.response_url_for("retried"),
            trigger_id="trig.retried",
        )
        assert await post_twice(bot, body) == [200, 200]
        await bot.ctx.drain(within=5.0)  # both deliveries handled
        assert len(bot.fake.messages(bot.channel())) == 1
        requests = await bot.ctx.store.members(bot.ctx.store.keys.pending(NETWORK))
        assert len(requests) == 1
        assert [e.kind for e in await audit_entries(bot)] == [AuditKind.REQUEST]
        assert bot.fake.responses("retried") == [], "the retry neither refused nor re-requested"


async def test_a_retried_approve_click_counts_once(running_bot: StartBot) -> None:
    async with running_bot(network_overrides={**OVERRIDES, "approvals_required": 2}) as bot:
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        value = json.dumps({"request_id": request_id_of(message), "network": NETWORK})
        body = block_actions_body(
            ApprovalAction.APPROVE,
            value,
            user=APPROVER,
            channel=message.channel,
            message_ts=message.ts,
            response_url=bot.fake.response_url_for("click"),
            trigger_id="trig.click",
        )
        assert await post_twice(bot, body) == [200, 200]
        request = await wait_state(bot, request_id_of(message), "pending")
        await bot.ctx.drain(within=5.0)
        request = await stored(bot, request.id)
        assert request.approvals == (APPROVER,)
        assert bot.fake.responses("click") == [], "no 'already approved' answer for Slack's own retry"
        assert [e.kind for e in await audit_entries(bot, request.id)] == [AuditKind.REQUEST, AuditKind.VOTE]


async def test_twenty_concurrent_approvals_execute_exactly_once(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        names = await asyncio.gather(
            *(click(bot, message, ApprovalAction.APPROVE, user) for user in OTHER_APPROVERS)
        )
        final = await wait_state(bot, request_id_of(message), "succeeded", "failed")
        assert final.state == "succeeded"
        await wait_message_state(bot, message, "Succeeded")
        [winner] = final.approvals
        losers = [n for n, u in zip(names, OTHER_APPROVERS, strict=True) if u != winner]
        for name in losers:
            assert "already approved by" in await ephemeral(bot, name)
        await bot.ctx.drain(within=5.0)
        kinds = [e.kind for e in await audit_entries(bot, final.id)]
        assert kinds.count(AuditKind.APPROVE) == 1
        assert kinds.count(AuditKind.EXECUTE) == 1
        assert kinds.count(AuditKind.STEP) == 1
        assert kinds.count(AuditKind.RESULT) == 1


async def test_two_replicas_sharing_redis_execute_an_approval_once(running_bot: StartBot) -> None:
    # Slack hands each click to any replica: half the approvals go to a second bot process (its own
    # HTTP server, Bolt app and executor) on the same Redis. Still exactly one execution.
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        async with second_replica(bot) as replica:
            replica.ctx.settle = bot.ctx.settle
            other = SlackDriver(f"{replica.url}/slack/events", SIGNING_SECRET, bot.fake.response_url_for)
            message = await open_request(bot, f"pause {NETWORK} seq-2")
            value = json.dumps({"request_id": request_id_of(message), "network": NETWORK})
            drivers = [bot.driver, other] * (len(OTHER_APPROVERS) // 2)
            sent = await asyncio.gather(
                *(
                    d.click(
                        ApprovalAction.APPROVE, value, user=u, channel=message.channel, message_ts=message.ts
                    )
                    for d, u in zip(drivers, OTHER_APPROVERS, strict=False)
                )
            )
            assert all(s.status == 200 for s in sent)
            final = await wait_state(bot, request_id_of(message), "succeeded", "failed")
            assert final.state == "succeeded"
            await bot.ctx.drain(within=5.0)
            await replica.ctx.drain(within=5.0)
        kinds = [e.kind for e in await audit_entries(bot, final.id)]
        assert kinds.count(AuditKind.APPROVE) == 1
        assert kinds.count(AuditKind.EXECUTE) == 1
        assert kinds.count(AuditKind.STEP) == 1


def second_replica(bot: BotHandle) -> AbstractAsyncContextManager[RunningBot]:
    """Another bot process on the same Redis, topology, simulator and fake Slack."""
    ctx = bot.ctx
    settings = bot_settings(SLACK_API_URL=bot.fake.base_url)
    return serve_bot(settings, ctx.topology, redis=ctx.redis, store=ctx.store, clock=ctx.clock)
