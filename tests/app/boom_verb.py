"""Test-only verb and action modules, wired through the same `verb_modules` hook as real verbs.

`boom` fails like a bug would; `echo` posts its words to the channel; the `boom_*` buttons fail
before and after their ack, to see what Bolt's global error handler makes of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from commands.router import spawn_after_ack

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from chat.context import BotContext
    from commands.router import CommandInvocation, Reply, VerbRegistry

SECRET_DETAIL = "redis://:hunter2@db.internal:6379"


def register(registry: VerbRegistry) -> None:
    async def boom(ctx: BotContext, cmd: CommandInvocation, reply: Reply) -> None:
        raise RuntimeError(f"could not connect to {SECRET_DETAIL}")

    async def echo(ctx: BotContext, cmd: CommandInvocation, reply: Reply) -> None:
        ts = await reply.in_channel(" ".join(cmd.args))
        await reply.ephemeral(f"posted {ts}")

    registry.add("boom", boom)
    registry.add("echo", echo)


def register_actions(app: AsyncApp, ctx: BotContext) -> None:
    @app.action("boom_before_ack")
    async def before_ack(ack: Any) -> None:
        raise RuntimeError(f"before ack: {SECRET_DETAIL}")

    async def fail() -> None:
        raise RuntimeError(f"after ack: {SECRET_DETAIL}")

    @app.action("boom_after_ack")
    async def after_ack(ack: Any, respond: Any) -> None:
        await ack()
        spawn_after_ack(ctx, fail(), respond, where="action:boom_after_ack")
