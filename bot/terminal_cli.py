"""`conductor-bot pause NET all --break-glass --reason "…"`: the mutating verbs when Slack is down.

Same verbs and arguments as `/conductor` (`commands.args`), same preflight and `--force` rules, the
same per-network lock, audit trail and outcome verification (`commands.terminal`, which runs the
executor's own core). The terminal has no second approver, so it demands `--break-glass` and a
`--reason`, records the OS user and host, shows the plan and findings, and asks for the network's
name typed back (or `--yes`). Afterwards it posts a notice to the network's alert channel if Slack
answers within a few seconds; that notice never changes the result.

Redis: `REDIS_URL`, or the embedded Valkey under the state directory like `conductor-bot audit`
(while a bot runs with embedded Valkey, point this at that server with `REDIS_URL`).

Exit codes:
    0  all steps ran and the outcome was verified
    1  it ran, but a step failed or the outcome is not as expected (the output says what ran)
    2  command-line syntax error (from typer)
    3  usage or configuration error: bad verb arguments, unknown network, no clusters file
    4  refused: `--break-glass` and a non-empty `--reason` are required
    5  refused: preflight blocks it, or the cluster changed before it ran; nothing ran
    6  refused: another operation (Slack-approved or another terminal) holds the network's lock
    7  not confirmed: the typed network name did not match; nothing ran
    8  Redis unavailable or lost (no lock, no audit: nothing runs without them)
  130  interrupted (Ctrl-C); the audit trail records the steps that ran
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.status import Status

from bot.break_glass_cli import (
    EXIT_BLOCKED,
    EXIT_BY_SHARED_VERDICT,
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
from chat.context import BotContext
from chat.errors import UsageError
from chat.text import escape as slack_escape
from chat.text import plural
from cluster.topology import NetworkSpec, Topology
from commands import terminal
from commands.approval import ApprovalRequest
from commands.args import parse_operation
from commands.operations import Operation
from commands.plans import RpcStep, StepResult
from commands.preflight import PreparedOperation
from commands.verification import Settle

EXIT_BY_VERDICT = {
    **EXIT_BY_SHARED_VERDICT,
    "blocked": EXIT_BLOCKED,
    "changed": EXIT_BLOCKED,
}


class LiveProgress:
    """The `Reporter` for a terminal: a spinner on the running step, one line per finished one."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._status: Status | None = None

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    async def rechecked(self, request: ApprovalRequest, total: int) -> None:
        self._console.print(f"preflight passed again on a fresh snapshot; running {plural(total, 'step')}")

    async def step_started(self, request: ApprovalRequest, index: int, step: RpcStep) -> None:
        total = len(request.plan.steps) if request.plan else index
        text = f"step {index}/{total} {step.method} on {step.target} (timeout {step.timeout:g}s)…"
        self._stop()
        self._status = self._console.status(escape(text))
        self._status.start()

    async def step_done(self, request: ApprovalRequest, result: StepResult) -> None:
        self._stop()
        total = len(request.plan.steps) if request.plan else result.index
        head = f"step {result.index}/{total} {result.method} on {result.target} ({result.seconds or 0:.1f}s)"
        if result.ok:
            mark = "already in the wanted state" if result.tolerated else "ok"
            self._console.print(f"[green]✓[/green] {escape(head)}: {mark}")
        else:
            self._console.print(f"[red]✗[/red] {escape(head)} failed: {escape(result.detail)}")

    async def rolled_back(self, request: ApprovalRequest, line: str) -> None:
        self._console.print(f"↩ rollback: {escape(line)}")

    async def verified(self, request: ApprovalRequest, failures: list[str], problems: list[str]) -> None:
        for failure in failures:
            self._console.print(f"[yellow]outcome not as expected:[/yellow] {escape(failure)}")
        if problems:
            self._console.print(f"[yellow]the chain is not advancing:[/yellow] {escape('; '.join(problems))}")
        if not failures and not problems:
            self._console.print("[green]✓[/green] outcome verified on a fresh snapshot")


def show_plan(out: Console, prepared: PreparedOperation) -> None:
    op = prepared.operation
    out.print(f"[bold]{escape(op.command)}[/bold]" + (" [red](--force)[/red]" if op.force else ""))
    if prepared.plan is not None:
        out.print(f"plan: {escape(prepared.plan.summary)}")
        for i, step in enumerate(prepared.plan.steps, start=1):
            out.print(f"  {i}. {escape(step.method)} on {escape(step.target)}: {escape(step.description)}")
    for word, finding in terminal.shown_findings(prepared):
        style = {"blocks": "red", "warning": "yellow"}.get(word, "magenta")
        out.print(f"  [{style}]{word}[/{style}]: {escape(finding.message)}")


def notice_text(result: terminal.TerminalResult, op: Operation, who: terminal.Operator) -> str:
    icon = ":large_green_circle:" if result.verdict == "succeeded" else ":red_circle:"
    return (
        f":rotating_light: break-glass from the terminal: `{op.command}` by {slack_escape(who.user)} on "
        f"{slack_escape(who.host)} (reason: {slack_escape(who.reason)}), request `{result.request_id}`.\n"
        f"{icon} {result.verdict}: {slack_escape(result.text)}"
    )


async def run_operation(
    settings: Settings,
    topology: Topology,
    op: Operation,
    who: terminal.Operator,
    *,
    yes: bool,
    out: Console,
    err: Console,
    settle: Settle | None = None,
) -> dict[str, Any]:
    """Preflight, confirm, execute; returns the JSON result or raises `Refused`."""
    spec = topology.networks[op.network]
    async with terminal_context(settings, topology) as ctx:
        return await _run(ctx, settings, spec, op, who, yes=yes, out=out, err=err, settle=settle)


async def _run(
    ctx: BotContext,
    settings: Settings,
    spec: NetworkSpec,
    op: Operation,
    who: terminal.Operator,
    *,
    yes: bool,
    out: Console,
    err: Console,
    settle: Settle | None,
) -> dict[str, Any]:
    base: dict[str, Any] = {"network": spec.name, "command": op.command, "actor": who.actor}
    # Checked first so a busy network is refused at once; `execute` takes the lock for real.
    await refuse_if_busy(ctx, spec, base)
    prepared = await terminal.preflight(ctx, spec, op)
    base["plan"] = [s.model_dump(mode="json") for s in prepared.plan.steps] if prepared.plan else []
    base["findings"] = [
        {"shown": w, **f.model_dump(mode="json")} for w, f in terminal.shown_findings(prepared)
    ]
    show_plan(out, prepared)
    if prepared.blocked:
        text = await terminal.audit_refusal(ctx, spec, prepared, who)
        raise Refused(EXIT_BLOCKED, text, {**base, "verdict": "blocked"})
    for other in await terminal.open_slack_requests(ctx, spec):
        out.print(
            f"[yellow]note[/yellow]: Slack request {other.id} ({other.state}) "
            f"`{escape(other.operation.command)}` "
            "is open on this network; whichever runs second re-checks the cluster first"
        )
    if not yes:
        confirm_or_refuse(err, spec.name, base)
    result = await terminal.execute(ctx, spec, prepared, who, LiveProgress(out), settle=settle)
    notified = await post_notice(settings, spec, notice_text(result, op, who))
    return {
        **base,
        "verdict": result.verdict,
        "request_id": result.request_id,
        "text": result.text,
        "steps": [r.model_dump(mode="json") for r in result.outcome.results],
        "notice_posted": notified,
    }


def operation_command(
    ctx: typer.Context,
    args: Annotated[
        list[str] | None,
        typer.Argument(help="NETWORK and the verb's words and flags, as in Slack.", show_default=False),
    ] = None,
    break_glass: BreakGlassOption = False,
    reason: ReasonOption = "",
    yes: YesOption = False,
    json_out: JsonOption = False,
    clusters: ClustersOption = None,
) -> None:
    """Run a mutating verb without Slack: preflight, lock, audit and verification as in Slack."""
    verb = ctx.info_name or ""
    require_break_glass(break_glass, reason, verb)
    settings = settings_or_exit(clusters)
    topology = topology_or_exit(settings)
    try:
        op = parse_operation(verb, args or [], topology)
    except UsageError as exc:
        raise fail_exit(str(exc), EXIT_USAGE) from None
    who = operator_or_exit(reason)
    out, err = consoles(json_out)
    end_with_result(
        run_operation(settings, topology, op, who, yes=yes, out=out, err=err),
        EXIT_BY_VERDICT,
        # The executor recorded what ran before the interrupt reached it.
        interrupted=f"interrupted; see `conductor-bot audit {op.network}` for what ran",
        json_out=json_out,
        out=out,
        shown=escape,
    )


operation_command.context_settings = {"ignore_unknown_options": True}  # type: ignore[attr-defined]
