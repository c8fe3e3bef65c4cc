"""After a plan's steps: give the cluster a bounded time to settle and judge the outcome.

Follow-up snapshots verify the plan's expectations and that the chain lives (`commands.outcome`: one
leader with quorum, one active sequencer, the head advancing); the cluster gets a few bounded chances
to settle, separated by `settle()` (a sleep of one poll interval in the bot; tests pass one that
advances the simulator's virtual time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cluster.poller import poll_network
from cluster.snapshot import NetworkSnapshot
from cluster.topology import NetworkSpec
from commands import outcome
from commands.plans import Plan, verify
from store import marks

if TYPE_CHECKING:
    from chat.context import BotContext

Settle = Callable[[], Awaitable[None]]

# Re-polls before the outcome counts as not as expected (about this many poll intervals). Whether the
# chain advances is watched longer when needed: until the network's `stall_seconds` have passed since
# the first poll (a slow block time must not read as a halt), never beyond `MAX_VERIFY_POLLS`.
VERIFY_ATTEMPTS = 5
MAX_VERIFY_POLLS = 20


def settle_of(ctx: BotContext) -> Settle:
    """The pause between verification polls: `ctx.settle` when set, else one poll interval."""
    if ctx.settle is not None:
        return ctx.settle

    async def sleep() -> None:
        await asyncio.sleep(ctx.settings.poll_interval)

    return sleep


@dataclass
class ChainCheck:
    """Whether (`watch`) and how (`must_live`) the chain is judged after the steps; filled with findings."""

    before: NetworkSnapshot
    watch: bool
    must_live: bool
    problems: list[str] = field(default_factory=list)
    note: str = ""


async def verify_outcome(
    ctx: BotContext, spec: NetworkSpec, plan: Plan, settle: Settle, check: ChainCheck
) -> list[str]:
    """The plan's failed expectations after giving the cluster a bounded time to settle; fills in
    `check` with what keeps the chain from advancing (the head must move past the first poll's)."""
    failures: list[str] = []
    first: NetworkSnapshot | None = None
    for attempt in range(MAX_VERIFY_POLLS):
        if attempt:
            await settle()
        snapshot = await poll_network(spec, ctx.http, ctx.clock, timeout=ctx.settings.rpc_timeout)
        failures = verify(plan, snapshot)
        if not check.watch:
            if not failures or attempt + 1 >= VERIFY_ATTEMPTS:
                return failures
            continue
        first = first or snapshot
        waited = snapshot.taken_at - first.taken_at
        known = await marks.node_overrides(ctx.store, spec.name)
        check.problems = outcome.chain_problems(first, snapshot, known) if attempt else ["not yet judged"]
        if not failures and not check.problems:
            check.note = outcome.override_note(snapshot, known)
            return []
        if not failures and attempt and not check.must_live:
            # A halt this plan neither caused nor meant to end: say so without waiting it out.
            return []
        if attempt + 1 >= VERIFY_ATTEMPTS and (failures or waited >= spec.thresholds.stall_seconds):
            break
    if check.problems == ["not yet judged"]:
        check.problems = []
    return failures


def outcome_must_live(
    before: NetworkSnapshot, plan: Plan, known: Mapping[str, marks.NodeOverrideMark]
) -> bool:
    """Whether a halted chain afterwards is this plan's failure: it was live, or the plan starts one."""
    return outcome.was_live(before, known) or outcome.starts_sequencing(plan)


def all_steps(total: int) -> str:
    return "the one step" if total == 1 else f"all {total} steps"


def verified_text(network: str, total: int, failures: list[str], check: ChainCheck) -> str:
    if failures:
        text = f"{all_steps(total)} ran, but the outcome is not as expected: " + "; ".join(failures)
        if check.problems:
            text += f". The chain is not advancing either: {'; '.join(check.problems)}"
        return text + f". Next: {outcome.next_step(network, check.problems or failures)}."
    if check.problems and check.must_live:
        return (
            f"{all_steps(total)} ran, but the chain is not advancing: {'; '.join(check.problems)}. "
            f"Next manual step: {outcome.next_step(network, check.problems)}."
        )
    if check.problems:
        return (
            f"{all_steps(total)} ran and their outcome was verified; the chain was not advancing before "
            f"this request and still is not ({'; '.join(check.problems)}). "
            f"Next manual step: {outcome.next_step(network, check.problems)}."
        )
    alive = " and the chain advances" if check.watch else ""
    return f"{all_steps(total)} ran and the outcome was verified on a fresh snapshot{alive}.{check.note}"
