"""`/conductor networks`: the configured networks, their sequencers and where their commands go.

Read from the topology only (no RPC), so it answers even when every cluster is down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cluster.topology import NetworkSpec, Topology

# chat.postMessage and response_url truncate text beyond 40,000 characters.
MAX_MESSAGE_CHARS = 40_000

if TYPE_CHECKING:
    from chat.context import BotContext
    from commands.router import CommandInvocation, Reply, VerbRegistry


def network_line(spec: NetworkSpec) -> str:
    members = ", ".join(f"`{s.id}`" + ("" if s.voting else " (nonvoter)") for s in spec.sequencers)
    channels = ", ".join(f"<#{c}>" for c in spec.command_channels) or "any channel"
    return f"• *{spec.name}* — {len(spec.sequencers)} sequencers: {members}; commands in {channels}"


def networks_text(topology: Topology) -> str:
    if not topology.networks:
        return "No networks are configured."
    return "\n".join(
        ["*Configured networks*", *cap_lines([network_line(s) for s in topology.networks.values()])]
    )


def cap_lines(lines: list[str], max_chars: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Keep whole lines under Slack's message text limit, saying how many were left out."""
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > max_chars - 100:
            return [*kept, f"…and {len(lines) - len(kept)} more"]
        kept.append(line)
        used += len(line) + 1
    return kept


def register(registry: VerbRegistry) -> None:
    async def handle(ctx: BotContext, cmd: CommandInvocation, reply: Reply) -> None:
        await reply.ephemeral(networks_text(ctx.topology))

    registry.add("networks", handle)
