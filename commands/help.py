"""`/conductor help`: every verb with its usage, grouped by what it does.

`CATALOGUE` is the user-facing list of verbs; the router uses it to tell "not available yet" from
"unknown", and a test checks every registered verb appears here. Operation usages come from
`commands.args`, which parses them, so the help can never disagree with the parser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from commands.args import OPERATION_VERBS, usage
from commands.procedures.definitions import PROCEDURE_SUMMARIES, PROCEDURE_USAGES

if TYPE_CHECKING:
    from chat.context import BotContext
    from commands.router import CommandInvocation, Reply, VerbRegistry


class VerbHelp(NamedTuple):
    group: str
    usage: str
    summary: str


_OPERATION_SUMMARIES: dict[str, str] = {
    "pause": "pause the conductor(s): stop leadership handling (needs approval)",
    "resume": "resume paused conductor(s) (needs approval)",
    "override-leader": "force a leader when raft cannot elect one (needs approval)",
    "add-voter": "add a synced sequencer as a raft voter (needs approval)",
    "add-nonvoter": "add a sequencer as a raft nonvoter (needs approval)",
    "remove-server": "remove a sequencer from the raft cluster (needs approval)",
    "transfer-leader": "hand leadership to another (or any) voter (needs approval)",
    "start-sequencer": "start block production on a sequencer (needs approval)",
    "stop-sequencer": "stop block production on a sequencer (needs approval)",
}

READ = "Read"
OPERATIONS = "Operations (posted for approval)"
PROCEDURES = "Procedures (approved once, run step by step as a checklist)"
WORKFLOW = "Requests and audit"
ALERTS = "Alerts"

CATALOGUE: dict[str, VerbHelp] = {
    "help": VerbHelp(READ, "help", "this list"),
    "networks": VerbHelp(READ, "networks", "configured networks and their sequencers"),
    "status": VerbHelp(READ, "status [NETWORK]", "one-line verdict per network, or one network in full"),
    "timeline": VerbHelp(
        READ, "timeline NETWORK [30m]", "a picture of the last minutes: heads, leader, alerts, operations"
    ),
    **{v: VerbHelp(OPERATIONS, usage(v), _OPERATION_SUMMARIES.get(v, "operation")) for v in OPERATION_VERBS},
    "procedure": VerbHelp(
        PROCEDURES, "procedure NAME NETWORK [SEQUENCER]", "one of the runbook procedures below"
    ),
    **{
        f"procedure {name}": VerbHelp(PROCEDURES, f"procedure {PROCEDURE_USAGES[name]}", summary)
        for name, summary in PROCEDURE_SUMMARIES.items()
    },
    "requests": VerbHelp(WORKFLOW, "requests [NETWORK]", "open approval requests"),
    "audit": VerbHelp(WORKFLOW, "audit NETWORK [N]", "the last N audit entries of a network"),
    "alerts": VerbHelp(ALERTS, "alerts [NETWORK]", "firing, pending and silenced alerts"),
    "silence": VerbHelp(
        ALERTS,
        "silence NETWORK [RULE [SUBJECT]|all] DURATION",
        "mute one alert or a network (30m, 2h, until-resolved)",
    ),
    "unsilence": VerbHelp(ALERTS, "unsilence NETWORK [RULE [SUBJECT]|all]", "lift a silence"),
}


def help_text(available: set[str] | None = None) -> str:
    """The help message; verbs not in `available` (when given) are marked as not enabled."""
    lines: list[str] = ["*`/conductor` commands*"]
    for group in (READ, OPERATIONS, PROCEDURES, WORKFLOW, ALERTS):
        lines.append(f"\n*{group}*")
        for verb, entry in CATALOGUE.items():
            if entry.group != group:
                continue
            # `procedure NAME` entries belong to the `procedure` verb.
            note = "" if available is None or verb.split()[0] in available else " _(not enabled yet)_"
            lines.append(f"• `/conductor {entry.usage}` — {entry.summary}{note}")
    return "\n".join(lines)


def help_blocks(text: str) -> list[dict[str, Any]]:
    # One section per group keeps every section far below the 3,000-character limit.
    return [{"type": "section", "text": {"type": "mrkdwn", "text": part}} for part in text.split("\n\n")]


def register(registry: VerbRegistry) -> None:
    async def handle(ctx: BotContext, cmd: CommandInvocation, reply: Reply) -> None:
        text = help_text(set(registry))
        await reply.ephemeral(text, help_blocks(text))

    registry.add("help", handle)
