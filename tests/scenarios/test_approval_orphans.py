"""A bot that dies between approval and the end of execution must not leave the network blocked."""

from __future__ import annotations

from commands import approval_store
from commands.approval import Approve, StartExecution
from commands.expiry import ORPHAN_GRACE_SECONDS, sweep_orphaned
from store.locks import acquire, release
from tests.fixtures.slack import StartBot
from tests.scenarios.approval_support import (
    APPROVER,
    NETWORK,
    OVERRIDES,
    open_request,
    request_id_of,
    stored,
    thread_texts,
    wait_message_state,
)


async def test_an_execution_orphaned_by_a_crash_is_failed_and_says_so(running_bot: StartBot) -> None:
    async with running_bot(network_overrides=OVERRIDES) as bot:
        message = await open_request(bot, "pause sim-1 seq-1")
        request_id = request_id_of(message)
        # What a replica that crashed right after claiming the execution leaves behind.
        await approval_store.apply(
            bot.ctx, NETWORK, request_id, Approve(user=APPROVER), APPROVER, may_approve=True
        )
        await approval_store.apply(bot.ctx, NETWORK, request_id, StartExecution(), None)

        assert await sweep_orphaned(bot.ctx) == 0, (
            "within the grace period the executor may still be starting"
        )
        bot.sim.clock.advance(ORPHAN_GRACE_SECONDS + 1)
        lock = await acquire(bot.ctx.store, bot.ctx.store.keys.lock(NETWORK), 10_000)
        assert lock is not None
        assert await sweep_orphaned(bot.ctx) == 0, "a held lock means an executor is alive"
        assert await release(bot.ctx.store, lock)

        assert await sweep_orphaned(bot.ctx) == 1
        request = await stored(bot, request_id)
        assert request.state == "failed"
        assert "interrupted" in (request.outcome or "")
        await wait_message_state(bot, message, "Failed")
        assert any("interrupted: the bot stopped" in t for t in thread_texts(message))
        assert bot.sim.node(NETWORK, "seq-1").paused is False, "nothing ran"
        # The network accepts a new request again.
        assert await approval_store.open_requests(bot.ctx.store, NETWORK) == []
