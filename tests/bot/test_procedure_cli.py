"""`conductor-bot procedure … --break-glass` against the simulator, next to a running Slack bot.

The terminal and the bot share one Valkey and one simulated network (real time, fast blocks): the
procedure runs through the Slack runner's records, lock and audit trail, which is what is checked.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from commands.operations import Procedure
from commands.procedures import lifecycle, records
from commands.procedures.state import ProcedureRun
from store import audit, locks
from store.audit import AuditEntry, AuditKind
from store.keys import Keys
from tests.fixtures.slack import BotHandle, StartBot
from tests.fixtures.terminal import result_json, run_verb, terminal_bot, terminal_env
from tests.scenarios.runbook_support import ROLES

NETWORK = "sim-1"
REASON = "slack outage INC-77"
RUN_BOUND = 60.0
BREAK_GLASS = ("--break-glass", "--reason", REASON)


class Terminal:
    def __init__(self, bot: BotHandle, env: dict[str, str]) -> None:
        self.bot, self.env = bot, env

    async def procedure(self, *args: str, input: str | None = None) -> Result:
        """`conductor-bot procedure ARGS` in a worker thread, so the simulator keeps running meanwhile."""
        return await run_verb("procedure", list(args), self.env, RUN_BOUND, input=input)

    async def entries(self) -> list[AuditEntry]:
        return list(reversed(await audit.read(self.bot.ctx.store, NETWORK, 200)))


OpenTerminal = Callable[..., AbstractAsyncContextManager[Terminal]]


@pytest.fixture
def terminal(running_bot: StartBot, redis_url: str, keys: Keys, tmp_path: Path) -> OpenTerminal:
    @asynccontextmanager
    async def open_terminal(**sim: Any) -> AsyncIterator[Terminal]:
        async with terminal_bot(running_bot, ROLES, **sim) as bot:
            yield Terminal(bot, terminal_env(bot, redis_url, keys, tmp_path))

    return open_terminal


async def test_without_break_glass_nothing_runs(terminal: OpenTerminal) -> None:
    async with terminal() as t:
        result = await t.procedure("halt", NETWORK, "--yes")
        assert result.exit_code == 4, result.output
        assert "--break-glass --reason" in result.output and "Nothing ran" in result.output
        assert t.bot.sim.network(NETWORK).active_sequencers() == ["seq-0"]
        assert await t.entries() == []


async def test_halt_runs_the_procedure_records_and_audits_it(terminal: OpenTerminal) -> None:
    async with terminal() as t:
        result = await t.procedure("halt", NETWORK, *BREAK_GLASS, "--yes", "--json")
        assert result.exit_code == 0, result.output
        out = result_json(result)
        assert out["verdict"] == "succeeded", out["text"]
        assert "All" in out["text"] and "steps done" in out["text"]
        assert all(s["status"] in ("done", "skipped") for s in out["steps"]) and out["steps"]
        # The chain is halted: nothing sequences and every conductor is paused.
        assert t.bot.sim.network(NETWORK).active_sequencers() == []
        assert [t.bot.sim.node(NETWORK, f"seq-{i}").paused for i in range(3)] == [True, True, True]

        # The same record the Slack runner writes, marked as the terminal's and finished.
        loaded = await records.load(t.bot.ctx.store, NETWORK, out["run_id"])
        assert loaded is not None
        run = loaded[0]
        assert run.origin == "terminal" and run.phase == "succeeded"
        assert run.requester == f"{getpass.getuser()}@{socket.gethostname()} (terminal)"
        assert await records.unfinished(t.bot.ctx.store, NETWORK) == []

        trail = [e for e in await t.entries() if e.request_id == out["run_id"]]
        request, result_entry = trail[0], trail[-1]
        assert (
            request.kind == AuditKind.REQUEST and request.message == "break-glass procedure halt sim-1 seq-0"
        )
        assert request.data["os_user"] == getpass.getuser() and request.data["host"] == socket.gethostname()
        assert request.data["reason"] == REASON and request.data["break_glass"] == "true"
        assert any("conductor_pause" in e.message for e in trail if e.kind == AuditKind.STEP)
        assert result_entry.kind == AuditKind.RESULT and result_entry.data["state"] == "succeeded"
        notices = [m.text for m in t.bot.fake.messages(t.bot.channel()) if "break-glass procedure" in m.text]
        assert len(notices) == 1 and REASON in notices[0] and "succeeded" in notices[0]


async def test_add_sequencer_adds_the_spare_as_a_voter_and_resumes_it(terminal: OpenTerminal) -> None:
    async with terminal(nodes=1, spare=1) as t:
        assert t.bot.sim.node(NETWORK, "seq-1").paused is True
        result = await t.procedure("add-sequencer", NETWORK, "seq-1", *BREAK_GLASS, input=f"{NETWORK}\n")
        assert result.exit_code == 0, result.output
        # The steps were shown before the question, progress line by line after it.
        assert "1. wait until seq-1 within" in result.output
        assert "step 2: `conductor_addServerAsVoter` on seq-0" in result.output
        assert "succeeded: All 5 steps done" in result.output
        assert {e.id: e.voter for e in t.bot.sim.network(NETWORK).config} == {"seq-0": True, "seq-1": True}
        assert t.bot.sim.node(NETWORK, "seq-1").paused is False
        assert sum(t.bot.sim.calls(NETWORK, "conductor_addServerAsVoter").values()) == 1


async def test_refused_while_the_networks_lock_is_held(terminal: OpenTerminal) -> None:
    async with terminal() as t:
        store = t.bot.ctx.store
        # What a Slack-approved execution holds while it runs.
        async with locks.hold(store, store.keys.lock(NETWORK), 30_000, 10.0):
            result = await t.procedure("halt", NETWORK, *BREAK_GLASS, "--yes")
        assert result.exit_code == 6, result.output
        assert "its lock is held" in result.output
        assert t.bot.sim.network(NETWORK).active_sequencers() == ["seq-0"]
        assert await records.unfinished(store, NETWORK) == []


async def test_a_checkpoint_under_yes_is_refused_before_anything_runs(terminal: OpenTerminal) -> None:
    async with terminal() as t:
        result = await t.procedure("redeploy", NETWORK, "seq-2", *BREAK_GLASS, "--yes")
        assert result.exit_code == 3, result.output
        assert "--continue-checkpoints" in result.output and "Nothing ran" in result.output
        assert [t.bot.sim.node(NETWORK, f"seq-{i}").paused for i in range(3)] == [False, False, False]


async def test_a_bot_replica_never_drives_a_terminal_run(terminal: OpenTerminal) -> None:
    async with terminal() as t:
        ctx = t.bot.ctx
        # A terminal run whose process died mid-step: no checklist or approval a replica could use.
        orphan = ProcedureRun(
            id="T1",
            network=NETWORK,
            procedure=Procedure(network=NETWORK, name="halt", sequencer="seq-0"),
            requester="op@host (terminal)",
            channel="",
            origin="terminal",
            created_at=ctx.clock.now(),
        )
        assert await records.create(ctx.store, orphan, None)
        assert await lifecycle.resume_unfinished(ctx) == 0
        assert t.bot.sim.network(NETWORK).active_sequencers() == ["seq-0"]


async def test_a_checkpoint_asks_in_the_terminal_continue_goes_on_anything_else_aborts(
    terminal: OpenTerminal,
) -> None:
    async with terminal() as t:
        declined = await t.procedure(
            "redeploy", NETWORK, "seq-2", *BREAK_GLASS, input=f"{NETWORK}\nnot yet\n"
        )
        assert declined.exit_code == 1, declined.output
        assert "Type continue when done" in declined.output
        assert "aborted: Declined at the checkpoint" in declined.output
        # Stopped where it was asked: seq-2's conductor paused, the next manual step named.
        assert t.bot.sim.node(NETWORK, "seq-2").paused is True
        assert "Next manual step" in declined.output
        assert await records.unfinished(t.bot.ctx.store, NETWORK) == []

        went_on = await t.procedure(
            "redeploy", NETWORK, "seq-2", *BREAK_GLASS, input=f"{NETWORK}\ncontinue\n"
        )
        assert went_on.exit_code == 0, went_on.output
        assert t.bot.sim.node(NETWORK, "seq-2").paused is False
