"""`conductor-bot procedure NAME NETWORK [SEQ] --break-glass --reason "…"`: runbook procedures when
Slack is down.

The procedure is resolved on a fresh snapshot and run by the Slack procedures' own runner
(`commands.terminal_procedure`): the same per-network lock, per-step preflight and invariants,
recorded intents (resumable records), outcome checks and audit trail, with the OS user, host and
reason recorded. The steps are shown and the network's name is typed back (or `--yes`).

Human checkpoints (redeploy's "redeploy the node, then press Continue"): the terminal asks, holding
the network's lock meanwhile; typing `continue` goes on, anything else (or end of input) aborts the
run there with the cluster's state and the next manual step. Under `--yes` nobody is there to ask, so
a procedure with a checkpoint is refused before anything runs unless `--continue-checkpoints` says
to go through them unasked.

Exit codes are those of the terminal verbs (`bot.terminal_cli`): 0 succeeded, 1 failed or aborted
part-way (the output says where the cluster stands), 3 usage, 4 no `--break-glass`/`--reason`,
5 the procedure cannot start on this cluster, 6 the network's lock is held, 7 not confirmed,
8 Redis unavailable or lost, 130 interrupted (the run is recorded as failed where it stopped).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import threading
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.status import Status

from bot.break_glass_cli import (
    EXIT_BLOCKED,
    EXIT_BY_SHARED_VERDICT,
    EXIT_FAILED,
    EXIT_USAGE,
    BreakGlassOption,
    JsonOption,
    ReasonOption,
    Refused,
    YesOption,
    confirm_or_refuse,
    consoles,
    end_with_result,
    operator_or_exit,
    post_notice,
    refuse_if_busy,
    require_break_glass,
    terminal_context,
)
from bot.settings import Settings
from bot.status_cli import ClustersOption, fail_exit, settings_or_exit, topology_or_exit
from chat.text import escape as slack_escape
from cluster.topology import NetworkSpec, Topology
from commands import terminal, terminal_procedure
from commands.approval import MessageRef
from commands.procedure import procedures_help
from commands.procedures.definitions import outline, steps_of
from commands.procedures.state import ProcedureRun
from commands.procedures.steps import Checkpoint

EXIT_BY_VERDICT = {
    **EXIT_BY_SHARED_VERDICT,
    "aborted": EXIT_FAILED,
}
_EMOJI = re.compile(r":[a-z0-9_+-]+:\s*")
_BOLD = re.compile(r"\*([^*\n]+)\*")


def plain(text: str) -> str:
    """Slack mrkdwn as a terminal line: no emoji codes, bold kept as rich markup."""
    return _BOLD.sub(r"[bold]\1[/bold]", escape(_EMOJI.sub("", text)))


class TerminalChecklist:
    """The `RunReporter` for a terminal: one line per event, a spinner with a wait's live number."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._status: Status | None = None

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    async def post(self, run: ProcedureRun) -> MessageRef | None:
        return None  # the steps were shown before confirming; nothing to record on the run

    async def update(self, run: ProcedureRun) -> None:
        if run.phase == "running" and run.live:
            text = f"step {run.index + 1}: {plain(run.live)}"
            if self._status is None:
                self._status = self._console.status(text)
                self._status.start()
            else:
                self._status.update(text)

    async def reply(self, run: ProcedureRun, text: str) -> None:
        self.stop()
        self._console.print(plain(text))

    async def ended(self, run: ProcedureRun) -> None:
        self.stop()


def ask_checkpoint(err: Console, run: ProcedureRun, step: Checkpoint) -> bool:
    err.print(
        f"[bold]step {run.index + 1}[/bold]: {escape(step.prompt)}. "
        "Type [bold]continue[/bold] when done (anything else aborts here): ",
        end="",
    )
    return sys.stdin.readline().strip().lower() == "continue"


async def _in_daemon_thread(ask: Callable[[], bool]) -> bool:
    """Wait for a person off the event loop (the lock keeps renewing meanwhile); a daemon thread, so
    Ctrl-C at the question ends the command instead of waiting for a line that never comes."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bool] = loop.create_future()

    def work() -> None:
        value = ask()
        with contextlib.suppress(RuntimeError):  # the loop is gone: the command already ended
            loop.call_soon_threadsafe(lambda: None if answer.done() else answer.set_result(value))

    threading.Thread(target=work, name="checkpoint-question", daemon=True).start()
    return await answer


def show_steps(out: Console, command: str, reasons: tuple[str, ...], steps: tuple[str, ...]) -> None:
    out.print(f"[bold]{escape(command)}[/bold]: {len(steps)} steps, each act re-checked by preflight")
    for reason in reasons:
        style = "red" if "HALTS" in reason else "cyan"
        out.print(f"  [{style}]{escape(reason)}[/{style}]")
    for i, line in enumerate(steps, start=1):
        out.print(f"  {i}. {escape(line)}")


async def run_procedure(
    settings: Settings,
    topology: Topology,
    spec: NetworkSpec,
    name: str,
    args: tuple[str, ...],
    who: terminal.Operator,
    *,
    yes: bool,
    continue_checkpoints: bool,
    out: Console,
    err: Console,
) -> dict[str, Any]:
    """Resolve, confirm, run; returns the JSON result or raises `Refused`."""
    base: dict[str, Any] = {"network": spec.name, "procedure": name, "actor": who.actor}
    async with terminal_context(settings, topology) as ctx:
        await refuse_if_busy(ctx, spec, base)
        resolution = await terminal_procedure.resolve_procedure(ctx, spec, name, args)
        proc = resolution.procedure
        if proc is None:
            text = f"procedure {name} cannot start: {resolution.refusal}"
            await terminal_procedure.audit_refusal(ctx, spec, f"procedure {name}", text, who)
            raise Refused(EXIT_BLOCKED, text, {**base, "verdict": "blocked"})
        base["command"] = proc.command
        base["steps_planned"] = list(outline(proc, spec))
        show_steps(out, proc.command, resolution.reasons, outline(proc, spec))
        checkpoints = [s for s in steps_of(proc, spec) if isinstance(s, Checkpoint)]
        if checkpoints and yes and not continue_checkpoints:
            text = (
                f"{proc.command} stops for a person ({checkpoints[0].prompt}); run it without --yes to be "
                "asked there, or add --continue-checkpoints to go through it unasked. Nothing ran."
            )
            raise Refused(EXIT_USAGE, text, {**base, "verdict": "refused"})
        if not yes:
            confirm_or_refuse(err, spec.name, base)

        async def checkpoint(run: ProcedureRun, step: Checkpoint) -> bool:
            reporter.stop()
            if continue_checkpoints:
                out.print(f"step {run.index + 1}: {escape(step.prompt)}: continuing (--continue-checkpoints)")
                return True
            return await _in_daemon_thread(lambda: ask_checkpoint(err, run, step))

        reporter = TerminalChecklist(out)
        try:
            result = await terminal_procedure.execute(ctx, spec, proc, who, reporter, checkpoint)
        finally:
            reporter.stop()
    notice = (
        f":rotating_light: break-glass procedure from the terminal: `{proc.command}` by "
        f"{slack_escape(who.user)} on {slack_escape(who.host)} (reason: {slack_escape(who.reason)}).\n"
        f"{result.verdict}: {slack_escape(result.text)}"
    )
    notified = await post_notice(settings, spec, notice)
    run = result.run
    return {
        **base,
        "verdict": result.verdict,
        "run_id": run.id if run else None,
        "text": result.text,
        "steps": [o.model_dump(mode="json") for o in run.outcomes] if run else [],
        "notice_posted": notified,
    }


def procedure_command(
    args: Annotated[
        list[str] | None,
        typer.Argument(help="NAME NETWORK and the procedure's arguments, as in Slack.", show_default=False),
    ] = None,
    break_glass: BreakGlassOption = False,
    reason: ReasonOption = "",
    yes: YesOption = False,
    continue_checkpoints: Annotated[
        bool,
        typer.Option("--continue-checkpoints", help="With --yes: go through human checkpoints unasked."),
    ] = False,
    json_out: JsonOption = False,
    clusters: ClustersOption = None,
) -> None:
    """Run a runbook procedure without Slack: the Slack runner's checks, lock, records and audit."""
    require_break_glass(break_glass, reason, "a procedure")
    words = args or []
    if len(words) < 2:
        raise fail_exit(
            f"usage: conductor-bot procedure NAME NETWORK [ARGS]. Procedures:\n{procedures_help()}",
            EXIT_USAGE,
        )
    name, network, *rest = words
    settings = settings_or_exit(clusters)
    topology = topology_or_exit(settings)
    spec = topology.network(network)
    if spec is None:
        raise fail_exit(f"unknown network {network}; see `conductor-bot networks`", EXIT_USAGE)
    who = operator_or_exit(reason)
    out, err = consoles(json_out)
    end_with_result(
        run_procedure(
            settings,
            topology,
            spec,
            name,
            tuple(rest),
            who,
            yes=yes,
            continue_checkpoints=continue_checkpoints,
            out=out,
            err=err,
        ),
        EXIT_BY_VERDICT,
        interrupted=(
            f"interrupted; the run is recorded as failed where it stopped: `conductor-bot audit {network}`"
        ),
        json_out=json_out,
        out=out,
        shown=plain,
    )


procedure_command.context_settings = {"ignore_unknown_options": True}  # type: ignore[attr-defined]
