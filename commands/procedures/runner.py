"""Run a procedure's steps from its record in Redis; any replica can pick a run up where it stopped.

    start (approval approved) → claim the request (CAS) → create the run record → drive
    drive: hold the network's lock → load → post the checklist once → loop over the steps:
        Act         fresh snapshot → `preflight.prepare` (checks and invariants) → blocked: stop
                    → fix the plan → per call: record intent, send, record done → verify outcome
        Wait        poll → observe (live number on the checklist) → met / timeout / settle and repeat
        Checkpoint  park; the Continue click drives again
    Pause and Abort take effect between steps (or during a wait); a failure, abort or timeout ends
    with a message naming the cluster's state and the manual next step.

Every write is a CAS guarded by the network lock, so a replica that lost the lock cannot record over
another's work; a runner that dies (or is cancelled) writes nothing more and its lock expires or is
released, and `resume_unfinished` (scheduler and start-up) lets another replica continue. A call
whose intent is recorded without its completion is checked against the cluster first
(`commands.procedures.effects`) so it is never sent twice where the cluster can tell.

What people see goes through a `report.RunReporter`: the Slack checklist and its thread (`drive`), or
the terminal's live lines (`commands.terminal_procedure`, which holds the lock itself: `drive_held`).

Known gap: a replica that dies between posting the checklist and recording its `ts` leaves that
message stale; the next replica posts a new one (the outbox's lost-post lookup would close this).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Literal

from redis.exceptions import RedisError

from chat.text import plural
from cluster.poller import poll_network
from cluster.rpc import RpcError, call_step
from cluster.snapshot import NetworkSnapshot
from cluster.topology import NetworkSpec
from commands import executor, own_operation, verification
from commands.operations import StopSequencer
from commands.plans import QUICK_TIMEOUT, Plan, StepResult
from commands.preflight import prepare
from commands.procedures import effects, records
from commands.procedures.blocks import cluster_state
from commands.procedures.conditions import BlocksFlow, live
from commands.procedures.definitions import closing_note, steps_of
from commands.procedures.messages import SlackChecklist, call_entry, call_text, stopped_text
from commands.procedures.report import RunReporter
from commands.procedures.state import (
    FINAL_PHASES,
    ActStarted,
    CheckpointReached,
    Event,
    Failed,
    MessagePosted,
    Park,
    ProcedureRun,
    RpcDone,
    RpcIntent,
    StepFinished,
    WaitObserved,
)
from commands.procedures.steps import Act, Checkpoint, SetExecutionMode, Step, Wait
from store import audit, locks, marks
from store.gateway import LockLost

if TYPE_CHECKING:
    from chat.context import BotContext
    from store.locks import HeldLock

logger = logging.getLogger(__name__)

BOT_ACTOR = executor.BOT_ACTOR


# A Continue or Resume click can come while the runner that parked the run is still letting go of
# the network's lock (its last message update is made under it); the click's runner waits that out.
HANDOVER_SECONDS = 2.0


def task_name(network: str, run_id: str) -> str:
    return f"procedure-{network}-{run_id}"


async def drive(ctx: BotContext, network: str, run_id: str) -> None:
    """Continue the run from its record while holding the network lock; returns when it parks or ends."""
    spec = ctx.topology.network(network)
    if spec is None:
        return
    try:
        async with locks.hold(
            ctx.store,
            ctx.store.keys.lock(network),
            executor.LOCK_TTL_MS,
            executor.RENEW_EVERY,
            wait=HANDOVER_SECONDS,
        ) as held:
            await drive_held(ctx, spec, run_id, held, SlackChecklist(ctx, spec))
    except locks.LockBusy:
        logger.info("procedure not driven: network lock held network=%s run=%s", network, run_id)
    except (RedisError, LockLost) as e:
        # The record stays where it was; another replica (or this one, later) resumes from it.
        logger.error("procedure lost its store network=%s run=%s error=%s", network, run_id, type(e).__name__)


async def drive_held(
    ctx: BotContext, spec: NetworkSpec, run_id: str, held: HeldLock, out: RunReporter
) -> None:
    """Drive the run under a lock the caller holds (the terminal keeps it across its prompts)."""
    await _Driver(ctx, spec, run_id, held, out).run()


class _Driver:
    def __init__(
        self, ctx: BotContext, spec: NetworkSpec, run_id: str, held: HeldLock, out: RunReporter
    ) -> None:
        self.ctx, self.spec, self.run_id, self.held, self.out = ctx, spec, run_id, held, out
        self.settle = verification.settle_of(ctx)

    async def snapshot(self) -> NetworkSnapshot:
        return await poll_network(
            self.spec, self.ctx.http, self.ctx.clock, timeout=self.ctx.settings.rpc_timeout
        )

    async def load(self) -> ProcedureRun:
        loaded = await records.load(self.ctx.store, self.spec.name, self.run_id)
        if loaded is None:
            raise LockLost(f"procedure {self.run_id} vanished")
        return loaded[0]

    async def apply(self, event: Event) -> ProcedureRun:
        decision = await records.apply(
            self.ctx, self.spec.name, self.run_id, event, BOT_ACTOR, guard=self.held.lock.guard
        )
        if decision.run is None:
            # Only a finished run refuses the runner's events (an abort that took effect while parked).
            raise _Ended(decision.message)
        return decision.run

    async def run(self) -> None:
        run = await self.load()
        if run.message is None and run.phase not in FINAL_PHASES:
            run = await self.post_checklist(run)
        steps = steps_of(run.procedure, self.spec)
        try:
            while run.phase == "running":
                if self.held.lost.is_set():
                    return
                if run.plan is None and (run.abort_requested_by or run.pause_requested_by):
                    run = await self.park(run)
                    break
                step = steps[run.index]
                match step:
                    case Checkpoint():
                        run = await self.apply(CheckpointReached())
                        await self.out.reply(
                            run,
                            f":raising_hand: step {run.index + 1}: {step.prompt}, then press *Continue*",
                        )
                    case Wait():
                        run = await self.wait(run, step, steps)
                    case Act():
                        run = await self.act(run, step, steps)
                    case SetExecutionMode():
                        run = await self.set_mode(run, step, steps)
                await self.out.update(run)
        except _Ended:
            run = await self.load()
        await self.out.update(run)

    async def post_checklist(self, run: ProcedureRun) -> ProcedureRun:
        ref = await self.out.post(run)
        return run if ref is None else await self.apply(MessagePosted(ref=ref))

    async def park(self, run: ProcedureRun) -> ProcedureRun:
        if run.abort_requested_by is None:
            run = await self.apply(Park())
            await self.out.reply(
                run,
                f":double_vertical_bar: paused before step {run.index + 1}; press *Resume* to go on",
            )
            return run
        snap = await self.snapshot()
        why = f"Aborted by <@{run.abort_requested_by}> before step {run.index + 1}"
        run = await self.apply(Park(outcome=stopped_text(run, self.spec, why, snap)))
        await self.ended(run)
        return run

    async def ended(self, run: ProcedureRun) -> None:
        await self.out.ended(run)

    async def fail(self, run: ProcedureRun, detail: str, snap: NetworkSnapshot | None = None) -> ProcedureRun:
        if snap is None:
            snap = await self.snapshot()
        why = f"Stopped at step {run.index + 1}: {detail}"
        run = await self.apply(Failed(detail=detail, outcome=stopped_text(run, self.spec, why, snap)))
        await self.ended(run)
        return run

    async def step_done(
        self, run: ProcedureRun, steps: tuple[Step, ...], detail: str, *, skipped: bool = False
    ) -> ProcedureRun:
        last = run.index + 1 >= len(steps)
        status: Literal["done", "skipped"] = "skipped" if skipped else "done"
        outcome = ""
        if last:
            snap = await self.snapshot()
            note = closing_note(run.procedure)
            outcome = f"All {len(steps)} steps done. *Cluster now:* {cluster_state(snap)}.{note}"
        run_after = await self.apply(StepFinished(status=status, detail=detail, last=last, outcome=outcome))
        icon = ":fast_forward:" if skipped else ":white_check_mark:"
        await self.out.reply(run_after, f"{icon} step {run.index + 1}/{len(steps)} {status}: {detail}")
        if last:
            await self.ended(run_after)
        return run_after

    async def wait(self, run: ProcedureRun, step: Wait, steps: tuple[Step, ...]) -> ProcedureRun:
        shown = run.live
        while True:
            snap = await self.snapshot()
            obs = step.until.observe(snap, run.wait_baseline)
            baseline = (
                snap.best_unsafe.number if isinstance(step.until, BlocksFlow) and snap.best_unsafe else None
            )
            text = live(obs, run.wait_first if run.wait_started_at is not None else obs.value)
            run = await self.apply(WaitObserved(value=obs.value, text=text, baseline=baseline))
            if obs.met:
                return await self.step_done(run, steps, f"{step.until.description}: {run.live}")
            started = run.wait_started_at if run.wait_started_at is not None else self.ctx.clock.now()
            if self.ctx.clock.now() - started >= step.timeout:
                detail = (
                    f"timed out after {step.timeout:g} s waiting until {step.until.description} ({run.live})"
                )
                return await self.fail(run, detail, snap)
            fresh = await self.load()
            if fresh.abort_requested_by or fresh.pause_requested_by:
                return await self.park(fresh)
            if run.live != shown:
                shown = run.live
                await self.out.update(run)
            await self.settle()

    async def act(self, run: ProcedureRun, step: Act, steps: tuple[Step, ...]) -> ProcedureRun:
        before: NetworkSnapshot | None = None
        if run.plan is None:
            snap = before = await self.snapshot()
            if step.refuse_if is not None and step.refuse_if.observe(snap, None).met:
                why = f"refused: {step.refuse_if.description}"
                return await self.fail(run, f"`{step.operation.command}` {why}", snap)
            if step.skip_if is not None and step.skip_if.observe(snap, None).met:
                return await self.step_done(run, steps, f"skipped: {step.skip_if.description}", skipped=True)
            known = await marks.node_overrides(self.ctx.store, self.spec.name)
            prepared = prepare(step.operation, snap, self.spec, known)
            if prepared.blocked or prepared.plan is None:
                reasons = "; ".join(f.message for f in prepared.blocking) or "no plan is possible now"
                return await self.fail(
                    run, f"preflight on a fresh snapshot blocks `{step.operation.command}`: {reasons}", snap
                )
            warnings = [f.message for f in prepared.findings if f.level == "warn"]
            note = (" Warnings: " + "; ".join(warnings)) if warnings else ""
            await self.out.reply(
                run,
                f":mag: step {run.index + 1}: preflight passed on a fresh snapshot; running "
                f"`{step.operation.command}` ({plural(len(prepared.plan.steps), 'call')}).{note}",
            )
            run = await self.apply(ActStarted(plan=prepared.plan))
        # Under the network's lock, like the executor's: what this act causes goes to the checklist.
        acts = [s.operation for s in steps if isinstance(s, Act)]
        window = own_operation.act_window(run, acts, self.ctx.clock.now())
        if window is not None:
            await own_operation.open_window(self.ctx.store, window)
        try:
            return await self.calls(run, step, steps, before)
        finally:
            if window is not None:
                await asyncio.shield(own_operation.close_window(self.ctx.store, window, self.ctx.clock.now()))

    async def calls(
        self, run: ProcedureRun, step: Act, steps: tuple[Step, ...], before: NetworkSnapshot | None
    ) -> ProcedureRun:
        """Send the act's calls from where the record says it is, then verify the outcome."""
        plan = run.plan
        assert plan is not None
        stored = dict(run.stored)
        for j in range(run.rpc_done, len(plan.steps)):
            call = plan.steps[j]
            if run.rpc_sent == j:
                seen = effects.effect_seen(call, await self.snapshot())
                if seen is not False:
                    stored.update(effects.recovered_results(call, await self.snapshot()))
                    why = (
                        "the cluster shows it took effect"
                        if seen
                        else "the cluster cannot show whether it did"
                    )
                    await self.out.reply(
                        run,
                        f":recycle: `{call.method}` on *{call.target}* may have been sent before the bot "
                        f"restarted; {why}, so it is not sent again",
                    )
                    run = await self.apply(RpcDone(call=j, stored=stored))
                    continue
            run = await self.apply(RpcIntent(call=j))
            result = await executor.run_step(self.ctx, self.spec, call, j + 1, stored)
            await audit.append(self.ctx.store, self.spec.name, call_entry(self.ctx, run, result))
            await self.out.reply(run, f"step {run.index + 1}: " + call_text(result))
            if not result.ok:
                return await self.fail(run, f"`{call.method}` on {call.target} failed: {result.detail}")
            if call.method == "admin_overrideLeader":
                await self.remember_node_override(run, call.target)
            run = await self.apply(RpcDone(call=j, stored=dict(stored)))
        return await self.verified(run, step, steps, plan, before or await self.snapshot())

    async def remember_node_override(self, run: ProcedureRun, sequencer: str) -> None:
        """op-node cannot report its override: record it where preflight and status look (`store.marks`)."""
        mark = marks.NodeOverrideMark(
            sequencer=sequencer,
            request_id=run.id,
            requester=run.requester,
            approvers=run.approvers,
            at=self.ctx.clock.now(),
        )
        await marks.record_node_override(self.ctx.store, self.spec.name, mark)

    async def verified(
        self, run: ProcedureRun, step: Act, steps: tuple[Step, ...], plan: Plan, before: NetworkSnapshot
    ) -> ProcedureRun:
        """The executor's own outcome check: the plan's expectations, and the chain live when it must be."""
        known = await marks.node_overrides(self.ctx.store, self.spec.name)
        check = verification.ChainCheck(
            before=before,
            watch=not isinstance(step.operation, StopSequencer),
            must_live=verification.outcome_must_live(before, plan, known),
        )
        failures = await verification.verify_outcome(self.ctx, self.spec, plan, self.settle, check)
        if failures:
            return await self.fail(run, "the outcome is not as expected: " + "; ".join(failures))
        if check.problems and check.must_live:
            return await self.fail(run, "the chain is not advancing: " + "; ".join(check.problems))
        return await self.step_done(
            run, steps, f"`{step.operation.command}` ran and was verified{check.note}"
        )

    async def read_mode(self, url: str) -> str | None:
        try:
            value = await call_step(url, "debug_getExecutionMode", [], QUICK_TIMEOUT, http=self.ctx.http)
        except RpcError:
            return None
        # Older builds answered a bare string (reference §7).
        return str(value.get("execution_mode")) if isinstance(value, dict) else str(value)

    async def set_mode(
        self, run: ProcedureRun, step: SetExecutionMode, steps: tuple[Step, ...]
    ) -> ProcedureRun:
        seq = self.spec.sequencer(step.sequencer)
        url = seq.rollup_boost_rpc_url if seq is not None else None
        if url is None:
            return await self.fail(run, f"{step.sequencer} has no rollup_boost_rpc_url in the clusters file")
        before = await self.read_mode(url)
        if before == step.mode:
            if run.rpc_sent == 0:
                await self.out.reply(
                    run,
                    f":recycle: `debug_setExecutionMode` on *{step.sequencer}* may have been sent before the "
                    "bot restarted; rollup-boost reports the mode, so it is not sent again",
                )
            return await self.step_done(run, steps, f"rollup-boost on {step.sequencer} is {step.mode}")
        run = await self.apply(RpcIntent(call=0))
        try:
            await call_step(
                url,
                "debug_setExecutionMode",
                [{"execution_mode": step.mode}],
                QUICK_TIMEOUT,
                http=self.ctx.http,
            )
            result = StepResult(index=1, target=step.sequencer, method="debug_setExecutionMode", ok=True)
        except RpcError as e:
            detail = f"{e.kind}: {e.message}"
            result = StepResult(
                index=1, target=step.sequencer, method="debug_setExecutionMode", ok=False, detail=detail
            )
        await audit.append(self.ctx.store, self.spec.name, call_entry(self.ctx, run, result))
        await self.out.reply(run, f"step {run.index + 1}: " + call_text(result))
        if not result.ok:
            return await self.fail(
                run, f"`debug_setExecutionMode` on {step.sequencer} failed: {result.detail}"
            )
        run = await self.apply(RpcDone(call=0))
        after = await self.read_mode(url)
        if after != step.mode:
            return await self.fail(
                run, f"rollup-boost on {step.sequencer} reports {after or 'nothing'}, not {step.mode}"
            )
        return await self.step_done(
            run, steps, f"rollup-boost on {step.sequencer}: {before or 'unknown'} → {after}"
        )


class _Ended(Exception):
    """The run was finished by someone else (an abort while parked) while the runner held it."""
