"""Helpers for the procedure scenarios: request and approve a procedure, find and read its checklist,
click its buttons, and run a second bot replica on the same Valkey.

A replica "dies" by having its runner task cancelled (its lock is released like a crashed process's
would expire); a fresh bot instance started on the same Valkey then resumes the run at start-up.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.main import serve_bot
from chat.context import BotContext
from commands import approval_store
from commands.ids import ApprovalAction
from commands.procedures import lifecycle, records, runner
from commands.procedures.blocks import ProcedureAction, ProcedureBlock
from commands.procedures.state import FINAL_PHASES, ProcedureRun
from sim.slack_api import FakeMessage
from store.gateway import Store
from tests.fixtures.redis import eventually
from tests.fixtures.slack import BotHandle, bot_settings
from tests.scenarios.approval_support import NETWORK, click, open_request, request_id_of
from tests.scenarios.runbook_support import APPR, REQ

WAIT = 20.0


async def approved_procedure(bot: BotHandle, text: str) -> tuple[FakeMessage, str]:
    """Request the procedure as REQ and approve it as APPR; returns the approval message and run id."""
    message = await open_request(bot, text, user=REQ)
    await click(bot, message, ApprovalAction.APPROVE, APPR)
    return message, request_id_of(message)


async def load_run(bot: BotHandle, run_id: str) -> ProcedureRun | None:
    loaded = await records.load(bot.ctx.store, NETWORK, run_id)
    return None if loaded is None else loaded[0]


async def wait_run(bot: BotHandle, run_id: str, *phases: str, within: float = WAIT) -> ProcedureRun:
    """Until the run is in one of `phases` (default: finished); a finished run also has its checklist
    re-rendered and the approval request closed, the last things the runner does."""
    wanted = set(phases) or set(FINAL_PHASES)

    async def reached() -> bool:
        run = await load_run(bot, run_id)
        if run is None or run.phase not in wanted:
            return False
        if run.phase not in FINAL_PHASES:
            return True
        request = await approval_store.load(bot.ctx.store, NETWORK, run_id)
        return request is not None and request[0].state in ("succeeded", "failed") and _closed(bot)

    await eventually(reached, within=within)
    run = await load_run(bot, run_id)
    assert run is not None
    return run


def _closed(bot: BotHandle) -> bool:
    sheets = [m for m in bot.fake.messages(bot.channel()) if _has_block(m, ProcedureBlock.HEADER)]
    return bool(sheets) and not buttons(sheets[0])


def checklist(bot: BotHandle) -> FakeMessage:
    """The (one) checklist message in the network's channel."""
    found = [m for m in bot.fake.messages(bot.channel()) if _has_block(m, ProcedureBlock.HEADER)]
    assert len(found) == 1, [m.text for m in bot.fake.messages(bot.channel())]
    return found[0]


def _has_block(message: FakeMessage, block_id: str) -> bool:
    return any(b.get("block_id") == block_id for b in message.blocks or [])


def block_of(message: FakeMessage, block_id: str) -> str:
    for block in message.blocks or []:
        if block.get("block_id") == block_id:
            return json.dumps(block, ensure_ascii=False)
    return ""


def buttons(message: FakeMessage) -> set[str]:
    found: set[str] = set()
    for block in message.blocks or []:
        if block.get("block_id") == ProcedureBlock.ACTIONS:
            found |= {e["action_id"] for e in block["elements"]}
    return found


async def press(bot: BotHandle, message: FakeMessage, action: ProcedureAction, user: str, run_id: str) -> str:
    value = json.dumps({"run_id": run_id, "network": NETWORK})
    sent = await bot.driver.click(action, value, user=user, channel=message.channel, message_ts=message.ts)
    assert sent.status == 200
    return sent.response_name


def replies(message: FakeMessage) -> list[str]:
    return [r.text for r in message.replies]


async def kill_runner(bot: BotHandle, run_id: str) -> None:
    """The executing replica dies: its runner task is cancelled (nothing more is written)."""
    name = runner.task_name(NETWORK, run_id)
    tasks = [t for t in bot.ctx.tasks if t.get_name() == name]
    assert tasks, "no runner task to kill"
    async with asyncio.timeout(5):
        # Cancel until it is gone: a cancel landing inside httpcore's shielded connection cleanup
        # (an anyio shield) is absorbed there, while a dead process would simply be gone.
        while not all(t.done() for t in tasks):
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=0.05)
    # A cancel may also cut the lock's release short; a dead process's lock expires with its TTL
    # (30 s), which is what we do here at once instead of waiting.
    await bot.ctx.redis.delete(bot.ctx.store.keys.lock(NETWORK))


@asynccontextmanager
async def second_replica(bot: BotHandle) -> AsyncIterator[BotContext]:
    """A fresh bot instance on the same Valkey, keys, simulator and fake Slack; resumes at start-up."""

    async def start(ctx: BotContext) -> None:
        async def settle() -> None:
            await bot.sim.advance(2.0)

        ctx.settle = settle
        await lifecycle.resume_unfinished(ctx)

    settings = bot_settings(SLACK_API_URL=bot.fake.base_url)
    store = Store(bot.ctx.redis, bot.ctx.store.keys)
    async with serve_bot(
        settings, bot.ctx.topology, redis=bot.ctx.redis, store=store, clock=bot.sim.clock, startup=[start]
    ) as running:
        yield running.ctx
