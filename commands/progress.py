"""Who hears how an execution goes: the `Reporter` the executor's step-running core talks to.

The core (`commands.executor.run_plan`) is one implementation of re-check, steps, rollback and
verification for every front end. Slack approvals report into the request's thread (`SlackThread`);
the terminal's break-glass path (`bot.terminal_cli`) shows live progress with rich. Reporters only
tell people: the record (request state, audit) is written by the core and its callers, never here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from chat.text import escape, plural
from commands.approval import ApprovalRequest
from commands.approval_blocks import step_result_text, verification_text
from commands.approval_messages import thread_reply
from commands.plans import RpcStep, StepResult

if TYPE_CHECKING:
    from chat.context import BotContext


class Reporter(Protocol):
    """Progress of one execution, in the order it happens."""

    async def rechecked(self, request: ApprovalRequest, total: int) -> None:
        """Preflight passed again on a fresh snapshot; `total` steps are about to run."""

    async def step_started(self, request: ApprovalRequest, index: int, step: RpcStep) -> None:
        """Step `index` is being sent (its own timeout bounds it)."""

    async def step_done(self, request: ApprovalRequest, result: StepResult) -> None:
        """Step `result.index` finished, well or not."""

    async def rolled_back(self, request: ApprovalRequest, line: str) -> None:
        """One rollback step ran after a partial run."""

    async def verified(self, request: ApprovalRequest, failures: list[str], problems: list[str]) -> None:
        """The outcome checks ran: unmet expectations, and why the chain is not advancing (if it is not)."""


class SlackThread:
    """Replies in the approval message's thread (best effort, like every thread reply)."""

    def __init__(self, ctx: BotContext) -> None:
        self._ctx = ctx

    async def rechecked(self, request: ApprovalRequest, total: int) -> None:
        await thread_reply(
            self._ctx,
            request,
            f":mag: preflight passed again on a fresh snapshot; running {plural(total, 'step')}",
        )

    async def step_started(self, request: ApprovalRequest, index: int, step: RpcStep) -> None:
        # A reply per started step would double the thread's noise; the finished one says it all.
        return None

    async def step_done(self, request: ApprovalRequest, result: StepResult) -> None:
        await thread_reply(self._ctx, request, step_result_text(request, result))

    async def rolled_back(self, request: ApprovalRequest, line: str) -> None:
        await thread_reply(self._ctx, request, f":leftwards_arrow_with_hook: rollback: {escape(line)}")

    async def verified(self, request: ApprovalRequest, failures: list[str], problems: list[str]) -> None:
        chain = f"\n:warning: the chain is not advancing: {escape('; '.join(problems))}" if problems else ""
        await thread_reply(self._ctx, request, verification_text(failures) + chain)
