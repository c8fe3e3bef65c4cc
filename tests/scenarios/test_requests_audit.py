"""`/conductor requests` and `/conductor audit` through the running bot: signed commands in, replies out.

Requests and audit entries are written with the same store functions the approval path uses, so
these tests depend only on the records' format, not on any operation running.
"""

from __future__ import annotations

from typing import Any

from commands.approval import ApprovalRequest
from commands.approval_store import create
from commands.operations import AddVoter, Pause
from store import audit
from store.audit import AuditEntry, AuditKind
from tests.app.test_slash_commands import texts
from tests.fixtures.slack import BotHandle, StartBot


async def seed_request(bot: BotHandle, request_id: str, **changes: Any) -> ApprovalRequest:
    now = bot.sim.clock.now()
    network = changes.get("network", "sim-1")
    values: dict[str, Any] = {
        "id": request_id,
        "network": network,
        "operation": Pause(network=network, sequencer="seq-1"),
        "requester": "U_REQ",
        "created_at": now,
        "expires_at": now + 900,
    }
    values.update(changes)
    request = ApprovalRequest(**values)
    entry = AuditEntry(
        at=now,
        network=network,
        kind=AuditKind.REQUEST,
        actor=request.requester,
        request_id=request_id,
        message=f"requested `{request.operation.command}`",
    )
    assert await create(bot.ctx.store, request, entry)
    return request


async def ask(bot: BotHandle, text: str, *, channel: str | None = None, user: str = "U_REQ") -> str:
    sent = await bot.driver.command(text, channel=channel or bot.channel(), user=user)
    assert sent.status == 200
    [reply] = await bot.fake.wait_for_response(sent.response_name)
    assert reply["response_type"] == "ephemeral"
    return texts(reply)


async def test_requests_lists_open_requests_with_votes_and_expiry_and_hides_finished_ones(
    running_bot: StartBot,
) -> None:
    async with running_bot() as bot:
        await seed_request(bot, "req-pause", expires_at=bot.sim.clock.now() + 600)
        await seed_request(
            bot,
            "req-voter",
            operation=AddVoter(network="sim-1", sequencer="seq-2"),
            approvals_required=2,
            approvals=("U_APPR",),
        )
        await seed_request(bot, "req-done", state="cancelled", cancelled_by="U_REQ")

        text = await ask(bot, "requests sim-1")

        assert "`req-pause` *sim-1* `pause sim-1 seq-1`" in text
        assert "requested by <@U_REQ> · approvals 0/1 · expires in 10m" in text
        assert "`add-voter sim-1 seq-2`" in text and "approvals 1/2 · expires in 15m" in text
        assert "req-done" not in text
        # Soonest to expire first.
        assert text.index("req-pause") < text.index("req-voter")


async def test_requests_without_network_covers_the_channels_networks_and_says_when_none(
    running_bot: StartBot,
) -> None:
    async with running_bot(networks=2, nodes=1) as bot:
        await seed_request(bot, "req-two", network="sim-2", operation=Pause(network="sim-2"))

        assert "No open approval requests on the networks of this channel." in await ask(
            bot, "requests", channel=bot.channel("sim-1")
        )
        text = await ask(bot, "requests", channel=bot.channel("sim-2"))
        assert "`req-two` *sim-2* `pause sim-2 all`" in text
        assert "No open approval requests on *sim-1*." in await ask(bot, "requests sim-1")


async def test_requests_for_an_unknown_network_or_from_a_foreign_channel_is_refused(
    running_bot: StartBot,
) -> None:
    async with running_bot(networks=2, nodes=1) as bot:
        await seed_request(bot, "req-one")
        assert "Unknown network `nope`" in await ask(bot, "requests nope")
        refused = await ask(bot, "requests sim-1", channel=bot.channel("sim-2"))
        assert "only accepted in" in refused and "req-one" not in refused


async def test_audit_shows_the_newest_entries_first_and_honours_n(running_bot: StartBot) -> None:
    async with running_bot(nodes=1) as bot:
        now = bot.sim.clock.now()
        for i, kind in enumerate((AuditKind.REQUEST, AuditKind.APPROVE, AuditKind.EXECUTE, AuditKind.RESULT)):
            await audit.append(
                bot.ctx.store,
                "sim-1",
                AuditEntry(
                    at=now + i,
                    network="sim-1",
                    kind=kind,
                    actor="U_APPR",
                    request_id="r1",
                    message=f"event {i}",
                ),
            )

        text = await ask(bot, "audit sim-1 2")
        assert "*result* · <@U_APPR> · `r1` · event 3" in text
        assert "event 2" in text and "event 1" not in text
        assert text.index("event 3") < text.index("event 2")
        assert "2 entries shown" in text and "/conductor audit sim-1 50" in text

        everything = await ask(bot, "audit sim-1")
        assert all(f"event {i}" in everything for i in range(4))
        assert "4 entries shown, times in UTC" in everything


async def test_audit_errors_are_explained(running_bot: StartBot) -> None:
    async with running_bot(nodes=1) as bot:
        assert "No audit entries for *sim-1* yet" in await ask(bot, "audit sim-1")
        assert "Usage: `/conductor audit NETWORK [N]`" in await ask(bot, "audit")
        assert "N must be from 1 to 50, got 99" in await ask(bot, "audit sim-1 99")
        assert "Unknown network `nope`" in await ask(bot, "audit nope")
