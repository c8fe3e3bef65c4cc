"""Who sees a procedure run: the seam between the runner and its front end.

The runner (`commands.procedures.runner`) is the one implementation of a procedure's steps, checks,
waits and checkpoints. In Slack it posts a checklist message, replies in its thread and closes the
approval request (`messages.SlackChecklist`); from the terminal (`bot.procedure_cli`) it prints live
progress. Reporters only tell people: the run's record and audit entries are written by the runner.
"""

from __future__ import annotations

from typing import Protocol

from commands.approval import MessageRef
from commands.procedures.state import ProcedureRun


class RunReporter(Protocol):
    async def post(self, run: ProcedureRun) -> MessageRef | None:
        """Show the checklist for the first time; a message to record on the run, if there is one."""

    async def update(self, run: ProcedureRun) -> None:
        """The run moved (a step finished, a wait's live number changed)."""

    async def reply(self, run: ProcedureRun, text: str) -> None:
        """One line of progress (Slack mrkdwn)."""

    async def ended(self, run: ProcedureRun) -> None:
        """The run reached a final phase; `run.outcome` says how and where the cluster stands."""
