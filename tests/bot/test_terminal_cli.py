"""Mutating verbs from the terminal (`--break-glass`) against the simulator, next to a running Slack bot.

The terminal and the bot share one Valkey and one simulated network (real time, fast blocks), so the
lock, the audit trail and the alert-channel notice are the ones an operator would see.
"""

from __future__ import annotations

import asyncio
import getpass
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from store import audit, locks
from store.audit import AuditEntry, AuditKind
from store.keys import Keys
from tests.fixtures.redis import eventually
from tests.fixtures.slack import BotHandle, StartBot
from tests.fixtures.terminal import result_json, run_verb, terminal_bot, terminal_env
from tests.scenarios.approval_support import (
    NETWORK,
    OVERRIDES,
    approve_and_finish,
    open_request,
    request_id_of,
    thread_texts,
    wait_state,
)

REASON = "slack outage INC-42"
# Bounds every terminal run: a hung node must not hang the command (steps time out at 5 s).
RUN_BOUND = 40.0


@dataclass
class Terminal:
    bot: BotHandle
    env: dict[str, str]

    async def run(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        """`conductor-bot ARGS` in a worker thread, so the simulator keeps running meanwhile."""
        verb, *rest = args
        return await run_verb(verb, rest, {**self.env, **(env or {})}, RUN_BOUND, input=input)

    async def entries(self) -> list[AuditEntry]:
        return list(reversed(await audit.read(self.bot.ctx.store, NETWORK, 100)))


@pytest.fixture
async def terminal(
    running_bot: StartBot, redis_url: str, keys: Keys, tmp_path: Path
) -> AsyncIterator[Terminal]:
    async with terminal_bot(running_bot, OVERRIDES) as bot:
        yield Terminal(bot, terminal_env(bot, redis_url, keys, tmp_path))


def paused(t: Terminal) -> list[bool]:
    return [t.bot.sim.node(NETWORK, f"seq-{i}").paused for i in range(3)]


async def test_without_break_glass_nothing_runs_and_the_exit_code_says_why(terminal: Terminal) -> None:
    result = await terminal.run("pause", NETWORK, "all", "--yes")
    assert result.exit_code == 4, result.output
    assert "--break-glass --reason" in result.output and "Nothing ran" in result.output
    no_reason = await terminal.run("pause", NETWORK, "all", "--yes", "--break-glass", "--reason", "  ")
    assert no_reason.exit_code == 4
    leaky = await terminal.run(
        "pause", NETWORK, "all", "--yes", "--break-glass", "--reason", "xoxb-1-2 broke"
    )
    assert leaky.exit_code == 3 and "credential" in leaky.output and "xoxb" not in leaky.output
    assert paused(terminal) == [False, False, False]
    assert await terminal.entries() == []


async def test_break_glass_pause_all_runs_verifies_audits_and_notifies(terminal: Terminal) -> None:
    result = await terminal.run(
        "pause", NETWORK, "all", "--break-glass", "--reason", REASON, "--yes", "--json"
    )
    assert result.exit_code == 0, result.output
    out = result_json(result)
    assert out["verdict"] == "succeeded" and [s["ok"] for s in out["steps"]] == [True, True, True]
    assert "verified" in out["text"]
    assert paused(terminal) == [True, True, True]
    entries = [e for e in await terminal.entries() if e.request_id == out["request_id"]]
    assert [e.kind for e in entries] == [AuditKind.REQUEST, *[AuditKind.STEP] * 3, AuditKind.RESULT]
    request = entries[0]
    assert request.data["os_user"] == getpass.getuser() and request.data["host"] == socket.gethostname()
    assert request.data["reason"] == REASON and request.data["break_glass"] == "true"
    assert request.actor == f"{getpass.getuser()}@{socket.gethostname()} (terminal)"
    assert entries[-1].data["state"] == "succeeded"
    notices = [m.text for m in terminal.bot.fake.messages(terminal.bot.channel()) if "break-glass" in m.text]
    assert len(notices) == 1 and REASON in notices[0] and "succeeded" in notices[0]


async def test_the_typed_network_name_confirms_and_anything_else_declines(terminal: Terminal) -> None:
    declined = await terminal.run(
        "pause", NETWORK, "seq-2", "--break-glass", "--reason", REASON, input="sim-2\n"
    )
    assert declined.exit_code == 7, declined.output
    assert "conductor_pause on seq-2" in declined.output  # the plan was shown before the question
    assert paused(terminal) == [False, False, False]
    confirmed = await terminal.run(
        "pause", NETWORK, "seq-2", "--break-glass", "--reason", REASON, input="sim-1\n"
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert "✓ step 1/1 conductor_pause on seq-2" in confirmed.output
    assert paused(terminal) == [False, False, True]


async def test_slack_syntax_errors_are_usage_errors(terminal: Terminal) -> None:
    result = await terminal.run(
        "start-sequencer", NETWORK, "seq-1", "--hash", "0x12", "--break-glass", "--reason", "r"
    )
    assert result.exit_code == 3, result.output
    assert "--hash" in result.output and "Traceback" not in result.output
    forced = await terminal.run("pause", NETWORK, "all", "--force", "--break-glass", "--reason", "r", "--yes")
    assert forced.exit_code == 3 and "`--force` is not accepted for pause" in forced.output


async def test_a_blocking_invariant_refuses_and_the_refusal_is_audited(terminal: Terminal) -> None:
    # Stopping the only active sequencer while its conductors run would halt the chain.
    result = await terminal.run(
        "stop-sequencer", NETWORK, "seq-0", "--break-glass", "--reason", REASON, "--yes", "--json"
    )
    assert result.exit_code == 5, result.output
    out = result_json(result)
    assert out["verdict"] == "blocked" and any(f["shown"] == "blocks" for f in out["findings"])
    assert terminal.bot.sim.network(NETWORK).active_sequencers() == ["seq-0"]
    [entry] = await terminal.entries()
    assert entry.data["outcome"] == "refused_by_preflight" and entry.data["reason"] == REASON


async def test_a_hung_node_is_bounded_by_the_rpc_timeout(terminal: Terminal) -> None:
    await terminal.bot.sim.hang(NETWORK, "seq-2", "conductor")
    result = await terminal.run(
        "pause", NETWORK, "all", "--break-glass", "--reason", REASON, "--yes", "--json"
    )
    await terminal.bot.sim.unhang(NETWORK, "seq-2", "conductor")
    # As in Slack: the black-holed conductor is skipped after the 1 s RPC timeout, and said so.
    assert result.exit_code == 0, result.output
    out = result_json(result)
    assert "seq-2 conductor timeout: no answer within 1s; skipped" in [f["message"] for f in out["findings"]]
    assert [s["target"] for s in out["steps"]] == ["seq-0", "seq-1"]
    assert paused(terminal) == [True, True, False]


async def test_a_slack_approved_execution_holding_the_lock_refuses_the_terminal(terminal: Terminal) -> None:
    bot = terminal.bot
    message = await open_request(bot, f"pause {NETWORK} all")
    await bot.sim.latency(NETWORK, "seq-0", "conductor", 0.4)
    approving = asyncio.create_task(approve_and_finish(bot, message))

    async def rechecked() -> bool:
        return any(t.startswith(":mag: preflight passed again") for t in thread_texts(message))

    await eventually(rechecked, within=10.0)
    await bot.sim.hang(NETWORK, "seq-2", "conductor")  # Slack's step 3 now waits, holding the lock
    result = await terminal.run("resume", NETWORK, "all", "--break-glass", "--reason", REASON, "--yes")
    await bot.sim.unhang(NETWORK, "seq-2", "conductor")
    assert result.exit_code == 6, result.output
    assert "its lock is held" in result.output
    final = await approving
    assert final.state == "succeeded", final.outcome
    assert paused(terminal) == [True, True, True]  # the terminal's resume never ran


async def test_the_terminal_holding_the_lock_stops_a_slack_approved_execution(terminal: Terminal) -> None:
    bot = terminal.bot
    message = await open_request(bot, f"pause {NETWORK} seq-1")
    await bot.sim.latency(NETWORK, "seq-0", "conductor", 0.4)
    running = asyncio.create_task(
        terminal.run("pause", NETWORK, "all", "--break-glass", "--reason", REASON, "--yes", "--json")
    )

    async def terminal_holds_lock() -> bool:
        return await locks.holder_token(bot.ctx.store, bot.ctx.store.keys.lock(NETWORK)) is not None

    await eventually(terminal_holds_lock, within=10.0)
    await bot.sim.hang(NETWORK, "seq-2", "conductor")  # the terminal's step 3 now waits, holding the lock
    final = await approve_and_finish(bot, message)
    await bot.sim.unhang(NETWORK, "seq-2", "conductor")
    assert final.state == "failed" and final.outcome is not None
    assert "holds this network's lock, so nothing ran" in final.outcome
    result = await running
    assert result.exit_code == 0, result.output
    out = result_json(result)
    assert out["verdict"] == "succeeded" and paused(terminal) == [True, True, True]
    assert request_id_of(message) != out["request_id"]
    await wait_state(bot, request_id_of(message), "failed")


async def test_every_verb_runs_from_the_terminal_in_runbook_order(terminal: Terminal) -> None:
    net = terminal.bot.sim.network(NETWORK)

    async def ok(*words: str) -> dict[str, Any]:
        result = await terminal.run(*words, "--break-glass", "--reason", REASON, "--yes", "--json")
        assert result.exit_code == 0, result.output
        return result_json(result)

    await ok("transfer-leader", NETWORK, "seq-1")
    assert net.leader_id() == "seq-1"
    await ok("remove-server", NETWORK, "seq-2")
    await ok("add-nonvoter", NETWORK, "seq-2")
    await ok("add-voter", NETWORK, "seq-2")
    await ok("pause", NETWORK, "all")
    await ok("stop-sequencer", NETWORK, "seq-1")
    assert net.active_sequencers() == []
    await ok("start-sequencer", NETWORK, "seq-1")
    assert net.active_sequencers() == ["seq-1"]

    # Disaster recovery only: with a healthy leader, preflight refuses the override as in Slack.
    # (Once the restarted sequencer's conductor reports healthy again: on a loaded machine its
    # health check can still fail for a moment, and then the override is allowed, rightly.)
    async def healthy_leader() -> bool:
        return net.leader_id() == "seq-1" and terminal.bot.sim.node(NETWORK, "seq-1").healthy

    await eventually(healthy_leader, within=10.0)
    override = await terminal.run(
        "override-leader", NETWORK, "seq-0", "--break-glass", "--reason", REASON, "--yes"
    )
    assert override.exit_code == 5 and "override only when no healthy leader exists" in override.output, (
        override.output
    )
    await ok("resume", NETWORK, "all")
    assert paused(terminal) == [False, False, False] and net.active_sequencers() == ["seq-1"]
    kinds = [e.kind for e in await terminal.entries()]
    assert kinds.count(AuditKind.RESULT) == 8


async def test_slack_being_down_never_fails_the_operation(terminal: Terminal) -> None:
    gone = {"SLACK_API_URL": "http://127.0.0.1:9/api/"}  # the discard port: connection refused
    args = ("pause", NETWORK, "seq-1", "--break-glass", "--reason", REASON, "--yes", "--json")
    result = await terminal.run(*args, env=gone)
    assert result.exit_code == 0, result.output
    assert result_json(result)["notice_posted"] is False and paused(terminal) == [False, True, False]
