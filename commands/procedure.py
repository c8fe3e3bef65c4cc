"""`/conductor procedure NAME NETWORK [SEQ]`: a runbook procedure, approved once, run as a checklist.

    authz → resolve on a fresh snapshot (`procedures.definitions.resolve`: which sequencer, and why)
          → the same submission as every verb (`commands.request.submit`): one open request per
            network, an approval message listing every step, wait (condition, timeout) and checkpoint
    approved → `procedures.lifecycle.start` (wired in `commands.approval_actions`)

The checklist's buttons (Continue, Pause, Resume, Abort) are handled here: the requester or an
approver of the network may press them; each click is one CAS transition of the run.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from chat import authz
from chat.errors import StaleAction, UsageError
from cluster.poller import poll_network
from commands import approval_actions
from commands import request as request_verb
from commands.checks import ok, warn
from commands.plans import Plan
from commands.preflight import PreparedOperation
from commands.procedures import messages, records, runner
from commands.procedures.blocks import ProcedureAction, ProcedureButtonValue
from commands.procedures.definitions import PROCEDURE_SUMMARIES, PROCEDURE_USAGES, outline, resolve
from commands.procedures.state import AbortClick, Continue, Event, PauseClick, ResumeClick
from commands.router import Respond, add_button, button_value

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from chat.context import BotContext
    from commands.router import CommandInvocation, Reply, VerbRegistry

logger = logging.getLogger(__name__)

USAGE = "procedure NAME NETWORK [SEQUENCER]"
STALE_TEXT = "This button does not belong to a procedure this bot knows; it may be from an old message."


def procedures_help() -> str:
    return "\n".join(f"• `{PROCEDURE_USAGES[n]}` — {s}" for n, s in PROCEDURE_SUMMARIES.items())


async def handle(ctx: BotContext, cmd: CommandInvocation, reply: Reply) -> None:
    if not await request_verb.first_delivery(ctx, cmd):
        return
    if len(cmd.args) < 2:
        raise UsageError(f"Usage: `/conductor {USAGE}`. Procedures:\n{procedures_help()}")
    name, network, *rest = cmd.args
    spec = ctx.topology.network(network)
    if spec is None:
        raise UsageError(f"unknown network `{network}`; see `/conductor networks`")
    await authz.require(ctx, spec, authz.Permission.REQUEST, user_id=cmd.user_id, channel_id=cmd.channel_id)
    snapshot = await poll_network(spec, ctx.http, ctx.clock, timeout=ctx.settings.rpc_timeout)
    resolution = resolve(name, network, tuple(rest), snapshot, spec)
    if resolution.procedure is None:
        raise UsageError(f"`procedure {name}` cannot start: {resolution.refusal}")
    proc = resolution.procedure
    steps = outline(proc, spec)
    plan = Plan(summary=f"{proc.name}: {len(steps)} steps, approved once", steps=())
    # The halt is stated as a warning: approvers must see it, yet it is what was asked for.
    findings = [(warn if "HALTS" in r else ok)("procedure_choice", r) for r in resolution.reasons]
    findings.append(
        ok("checked_per_step", "every act is re-checked by preflight on a fresh snapshot before it runs")
    )
    prepared = PreparedOperation(operation=proc, plan=plan, findings=tuple(findings))
    await request_verb.submit(ctx, cmd, spec, prepared, reply)


def register(registry: VerbRegistry) -> None:
    registry.add("procedure", handle)


def register_actions(app: AsyncApp, ctx: BotContext) -> None:
    for action in ProcedureAction:
        add_button(app, ctx, action.value, partial(handle_click, ctx, action))


def _event(action: ProcedureAction, user: str, outcome: str) -> Event:
    match action:
        case ProcedureAction.CONTINUE:
            return Continue(user=user)
        case ProcedureAction.PAUSE:
            return PauseClick(user=user)
        case ProcedureAction.RESUME:
            return ResumeClick(user=user)
        case ProcedureAction.ABORT:
            return AbortClick(user=user, outcome=outcome)


async def handle_click(
    ctx: BotContext, action: ProcedureAction, body: dict[str, Any], respond: Respond
) -> None:
    value = button_value(ProcedureButtonValue, body, STALE_TEXT)
    spec = ctx.topology.network(value.network)
    if spec is None:
        raise StaleAction(STALE_TEXT)
    if not await approval_actions.first_click(ctx, body):
        return
    user = str((body.get("user") or {}).get("id", ""))
    may_approve = await authz.may_approve(ctx, spec, user)
    outcome = ""
    if action is ProcedureAction.ABORT:
        loaded = await records.load(ctx.store, spec.name, value.run_id)
        if loaded is not None and loaded[0].phase in ("checkpoint", "paused"):
            # Parked: nothing runs, so the abort ends it now and must say where the cluster stands.
            snap = await poll_network(spec, ctx.http, ctx.clock, timeout=ctx.settings.rpc_timeout)
            why = f"Aborted by <@{user}> before step {loaded[0].index + 1}"
            outcome = messages.stopped_text(loaded[0], spec, why, snap)
    decision = await records.apply(
        ctx, spec.name, value.run_id, _event(action, user, outcome), user, may_approve=may_approve
    )
    run = decision.run
    if run is None:
        await respond(text=f":warning: {decision.message}", response_type="ephemeral", replace_original=False)
        return
    await messages.post_or_update(ctx, spec, run)
    await messages.reply(ctx, run, decision.message)
    if run.phase == "aborted":
        await messages.reply(ctx, run, f":octagonal_sign: <@{run.requester}> {run.outcome}")
        await messages.finish_request(ctx, run)
    elif action in (ProcedureAction.CONTINUE, ProcedureAction.RESUME):
        ctx.spawn(runner.drive(ctx, spec.name, run.id), name=runner.task_name(spec.name, run.id))
