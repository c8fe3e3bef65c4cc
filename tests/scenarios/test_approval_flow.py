"""The approval workflow as users see it: request, approve / reject / cancel, refusals, expiry."""

from __future__ import annotations

import asyncio
import json

from commands import approval_store
from commands.expiry import open_networks, sweep_expired
from commands.ids import ApprovalAction, ApprovalBlock
from store.audit import AuditKind
from tests.fixtures.blocks_valid import assert_valid_message
from tests.fixtures.redis import eventually
from tests.fixtures.slack import StartBot
from tests.scenarios.approval_support import (
    APPROVER,
    NETWORK,
    OVERRIDES,
    REQUESTER,
    STRANGER,
    approve_and_finish,
    audit_entries,
    block_text,
    buttons,
    click,
    ephemeral,
    open_request,
    request_id_of,
    stored,
    thread_texts,
    use_sim_settle,
    wait_message_state,
)


async def test_pause_is_requested_approved_executed_and_verified(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        use_sim_settle(bot)
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        assert set(buttons(message)) == {a.value for a in ApprovalAction}
        assert "conductor_pause" in block_text(message, ApprovalBlock.PLAN)
        assert f"<@{REQUESTER}>" in message.text

        final = await approve_and_finish(bot, message)

        assert final.state == "succeeded"
        assert bot.sim.node(NETWORK, "seq-2").paused is True
        assert bot.sim.node(NETWORK, "seq-1").paused is False
        await wait_message_state(bot, message, "Succeeded")
        assert "1 of 1 steps succeeded" in block_text(message, ApprovalBlock.OUTCOME)
        replies = thread_texts(message)
        assert any(f"<@{APPROVER}>" in r and "approved" in r for r in replies)
        assert any("step 1/1 `conductor_pause` on *seq-2*" in r for r in replies)
        assert any("outcome verified" in r for r in replies)
        assert replies[-1].startswith(f":large_green_circle: <@{REQUESTER}> the one step ran")
        kinds = [e.kind for e in await audit_entries(bot, final.id)]
        assert kinds == [
            AuditKind.REQUEST,
            AuditKind.APPROVE,
            AuditKind.EXECUTE,
            AuditKind.STEP,
            AuditKind.RESULT,
        ]
        assert await bot.ctx.store.members(bot.ctx.store.keys.pending(NETWORK)) == []


async def test_requester_cannot_approve_and_strangers_cannot_vote(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        own = await click(bot, message, ApprovalAction.APPROVE, REQUESTER)
        assert "you cannot approve your own request" in await ephemeral(bot, own)
        stranger = await click(bot, message, ApprovalAction.APPROVE, STRANGER)
        assert f"<@{STRANGER}> is not an approver for {NETWORK}" in await ephemeral(bot, stranger)
        request = await stored(bot, request_id_of(message))
        assert request.state == "pending" and request.approvals == ()
        assert buttons(message), "the buttons stay while the request is pending"
        assert bot.sim.node(NETWORK, "seq-2").paused is False


async def test_rejection_ends_the_request_and_nothing_runs(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        await click(bot, message, ApprovalAction.REJECT, APPROVER)
        await wait_message_state(bot, message, "Rejected")
        assert f"rejected by <@{APPROVER}>; nothing ran" in block_text(message, ApprovalBlock.OUTCOME)
        request = await stored(bot, request_id_of(message))
        assert request.state == "rejected"
        assert [e.kind for e in await audit_entries(bot, request.id)] == [AuditKind.REQUEST, AuditKind.REJECT]
        late = await click(bot, message, ApprovalAction.APPROVE, APPROVER)
        assert "already rejected" in await ephemeral(bot, late)
        assert bot.sim.node(NETWORK, "seq-2").paused is False


async def test_cancel_by_a_stranger_is_refused_and_by_the_requester_accepted(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        refused = await click(bot, message, ApprovalAction.CANCEL, STRANGER)
        assert f"only the requester <@{REQUESTER}> or an approver" in await ephemeral(bot, refused)
        assert (await stored(bot, request_id_of(message))).state == "pending"

        await click(bot, message, ApprovalAction.CANCEL, REQUESTER)
        await wait_message_state(bot, message, "Cancelled")
        request = await stored(bot, request_id_of(message))
        assert request.state == "cancelled" and request.cancelled_by == REQUESTER

        async def cancel_replied() -> bool:
            return any("cancelled by" in r for r in thread_texts(message))

        await eventually(cancel_replied, within=5.0)
        # The network is free again: a new request is accepted.
        again = await open_request(bot, f"pause {NETWORK} seq-1")
        assert request_id_of(again) != request.id


async def test_a_second_request_while_one_is_open_is_refused(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        sent = await bot.driver.command(f"pause {NETWORK} seq-1", user=REQUESTER, channel=bot.channel())
        text = await ephemeral(bot, sent.response_name)
        assert f"already has an open request `{request_id_of(message)}`" in text
        assert len(bot.fake.messages(bot.channel())) == 1


async def test_expired_request_loses_its_buttons_and_cannot_be_approved(running_bot: StartBot) -> None:
    async with running_bot(network_overrides={**OVERRIDES, "request_ttl_seconds": 60}) as bot:
        assert await open_networks(bot.ctx) == []
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        # The scheduler's sweep looks only at networks with something open, found in one round trip.
        assert await open_networks(bot.ctx) == [NETWORK]
        assert await sweep_expired(bot.ctx) == 0
        await bot.sim.advance(61)
        assert await sweep_expired(bot.ctx, await open_networks(bot.ctx)) == 1
        assert await open_networks(bot.ctx) == []
        assert await sweep_expired(bot.ctx) == 0, "a second sweep finds nothing left to expire"
        await wait_message_state(bot, message, "Expired")
        request = await stored(bot, request_id_of(message))
        assert request.state == "expired"
        assert [e.kind for e in await audit_entries(bot, request.id)] == [AuditKind.REQUEST, AuditKind.EXPIRE]
        late = await click(bot, message, ApprovalAction.APPROVE, APPROVER)
        assert "expired" in await ephemeral(bot, late)
        assert bot.sim.node(NETWORK, "seq-2").paused is False


async def test_preflight_refusal_creates_no_request_and_is_audited(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        sent = await bot.driver.command(
            f"override-leader {NETWORK} seq-1", user=REQUESTER, channel=bot.channel()
        )
        text = await ephemeral(bot, sent.response_name)
        assert "was not submitted: preflight blocks it" in text
        assert "seq-0 is a healthy leader" in text
        assert bot.fake.messages(bot.channel()) == []
        [entry] = await audit_entries(bot)
        assert entry.kind == AuditKind.REQUEST and entry.data["outcome"] == "refused_by_preflight"


async def test_a_request_that_would_change_nothing_is_answered_at_once_and_opens_nothing(
    running_bot: StartBot,
) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        sent = await bot.driver.command(
            f"override-leader {NETWORK} seq-1 --clear", user=REQUESTER, channel=bot.channel()
        )
        text = await ephemeral(bot, sent.response_name)
        assert text == (
            f":information_source: `override-leader {NETWORK} seq-1 --clear` would change nothing: "
            "seq-1 is not overridden; clearing is a no-op. No request was opened."
        )
        assert bot.fake.messages(bot.channel()) == []
        assert await approval_store.open_requests(bot.ctx.store, NETWORK) == []
        [entry] = await audit_entries(bot)
        assert entry.kind == AuditKind.REQUEST and entry.data["outcome"] == "nothing_to_do"
        # The network stays free: a real operation can be requested straight away.
        await open_request(bot, f"pause {NETWORK} seq-2")


async def test_unlisted_requester_is_refused(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        sent = await bot.driver.command(f"pause {NETWORK} seq-2", user=STRANGER, channel=bot.channel())
        assert "not a requester" in await ephemeral(bot, sent.response_name)
        assert bot.fake.messages(bot.channel()) == []


async def test_simultaneous_requests_leave_at_most_one_open(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        sent = await asyncio.gather(
            *(
                bot.driver.command(f"pause {NETWORK} seq-{i % 3}", user=REQUESTER, channel=bot.channel())
                for i in range(6)
            )
        )
        await bot.ctx.drain(within=10.0)
        open_now = await approval_store.open_requests(bot.ctx.store, NETWORK)
        posted = bot.fake.messages(bot.channel())
        assert len(open_now) <= 1 and len(posted) == len(open_now)
        refusals = [r for s in sent for r in bot.fake.responses(s.response_name)]
        assert len(refusals) == len(sent) - len(posted)
        assert all("open request" in r["text"] or "same moment" in r["text"] for r in refusals)


async def test_the_request_names_its_approvers_and_mentions_a_group_named_by_handle_in_its_thread(
    running_bot: StartBot,
) -> None:
    overrides = {**OVERRIDES, "approvers": (APPROVER, "@oncall", "@nosuchgroup")}
    async with running_bot(network_overrides=overrides) as bot:
        bot.fake.add_usergroup("oncall", "S0ONCALL", ["U_ONCALL"])
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        assert_valid_message(message.text, message.blocks)
        summary = "\n".join(
            f["text"] for f in json.loads(block_text(message, ApprovalBlock.SUMMARY))["fields"]
        )
        # The message mentions whom it can (its post notifies them); a handle stays a name there.
        assert f"0 of 1\nneeds 1 approval from <@{APPROVER}> or @oncall or @nosuchgroup" in summary
        assert "*Expires*\n<!date^" in summary and "^{ago}|in 15m> (<!date^" in summary

        async def pinged() -> bool:
            return bool(message.replies)

        await eventually(pinged, within=5.0)
        [ping] = thread_texts(message)
        assert ping.startswith(
            f":bell: <!subteam^S0ONCALL>: `pause {NETWORK} seq-2` by <@{REQUESTER}> needs 1 approval from "
            f"<@{APPROVER}> or <!subteam^S0ONCALL> or @nosuchgroup; expires <!date^"
        )


async def test_two_approvals_required_and_a_user_group_approver(running_bot: StartBot) -> None:
    overrides = {**OVERRIDES, "approvers": (APPROVER, "@oncall"), "approvals_required": 2}
    async with running_bot(network_overrides=overrides) as bot:
        use_sim_settle(bot)
        bot.fake.add_usergroup("oncall", "S0ONCALL", ["U_ONCALL"])
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        await click(bot, message, ApprovalAction.APPROVE, APPROVER)

        async def recorded() -> bool:
            return any("approval 1 of 2 recorded" in t for t in thread_texts(message))

        await eventually(recorded, within=5.0)
        assert (await stored(bot, request_id_of(message))).state == "pending"
        assert buttons(message), "still waiting for a second approver"
        again = await click(bot, message, ApprovalAction.APPROVE, APPROVER)
        assert "you have already approved this request" in await ephemeral(bot, again)

        final = await approve_and_finish(bot, message, approver="U_ONCALL")
        assert final.state == "succeeded" and final.approvals == (APPROVER, "U_ONCALL")
        assert bot.sim.node(NETWORK, "seq-2").paused is True
        kinds = [e.kind for e in await audit_entries(bot, final.id)]
        assert kinds[:3] == [AuditKind.REQUEST, AuditKind.VOTE, AuditKind.APPROVE]


async def test_the_requester_can_cancel_while_the_user_group_lookup_is_down(running_bot: StartBot) -> None:
    overrides = {**OVERRIDES, "approvers": ("@oncall",)}
    async with running_bot(network_overrides=overrides) as bot:
        message = await open_request(bot, f"pause {NETWORK} seq-2")
        bot.fake.fail_next("usergroups.list", status=500, retry_after=None, error="internal_error")
        await click(bot, message, ApprovalAction.CANCEL, REQUESTER)
        await wait_message_state(bot, message, "Cancelled")
        assert (await stored(bot, request_id_of(message))).state == "cancelled"
