"""`/conductor status [NETWORK]` and its Refresh and "Share in channel" buttons.

Without a network: one verdict line per network this channel may query, polled concurrently. With
one: a fresh snapshot rendered by `commands.status_blocks`. Read-only, so any member of a command
channel may ask (`chat.authz` READ).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from chat import authz
from chat.errors import UnknownNetwork, UsageError
from chat.suggest import unknown
from cluster.poller import poll_all
from cluster.topology import NetworkSpec, Topology
from commands.networks import cap_lines
from commands.preflight import describe_mark
from commands.router import add_button
from commands.status_blocks import StatusAction, status_blocks, verdict_line
from store import marks

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from chat.context import BotContext
    from cluster.snapshot import NetworkSnapshot
    from commands.router import CommandInvocation, Reply, VerbRegistry

logger = logging.getLogger(__name__)


def find_network(ctx: BotContext, name: str) -> NetworkSpec:
    spec = ctx.topology.network(name)
    if spec is None:
        known = ", ".join(f"`{n}`" for n in ctx.topology.networks) or "none"
        raise UnknownNetwork(
            f"{unknown('network', name, ctx.topology.networks)} Configured networks: {known}."
        )
    return spec


async def snapshot_of(ctx: BotContext, spec: NetworkSpec) -> NetworkSnapshot:
    return await ctx.snapshots.snapshot(spec, ctx.settings.snapshot_max_age)


async def remembered(ctx: BotContext, spec: NetworkSpec) -> dict[str, str]:
    """What the bot did to nodes that they cannot report (op-node overrides), per node."""
    return {n: describe_mark(m) for n, m in (await marks.node_overrides(ctx.store, spec.name)).items()}


async def handle(ctx: BotContext, cmd: CommandInvocation, reply: Reply) -> None:
    if len(cmd.args) > 1:
        raise UsageError("Usage: `/conductor status [NETWORK]`")
    if not cmd.args:
        await reply.ephemeral(await overview_text(ctx, cmd.channel_id))
        return
    spec = find_network(ctx, cmd.args[0])
    await authz.require(ctx, spec, authz.Permission.READ, user_id=cmd.user_id, channel_id=cmd.channel_id)
    snapshot = await snapshot_of(ctx, spec)
    await reply.ephemeral(
        verdict_line(snapshot, spec), status_blocks(snapshot, spec, await remembered(ctx, spec))
    )


async def overview_text(ctx: BotContext, channel_id: str) -> str:
    visible = {
        name: spec
        for name, spec in ctx.topology.networks.items()
        if authz.command_allowed_in_channel(spec, channel_id)
    }
    if not visible:
        return "No network accepts commands in this channel. `/conductor networks` lists where each does."
    snapshots = await poll_all(Topology(networks=visible), ctx.http, ctx.clock, ctx.settings.rpc_timeout)
    return "\n".join(cap_lines([verdict_line(snapshots[name], spec) for name, spec in visible.items()]))


def register(registry: VerbRegistry) -> None:
    registry.add("status", handle)


def register_actions(app: AsyncApp, ctx: BotContext) -> None:
    add_button(app, ctx, StatusAction.REFRESH, lambda body, respond: refresh(ctx, body, respond))
    add_button(app, ctx, StatusAction.SHARE, lambda body, respond: share(ctx, body, respond))


async def _clicked(ctx: BotContext, body: dict[str, Any]) -> tuple[NetworkSpec, str, NetworkSnapshot]:
    """The network of a clicked status button, its clicker (allowed to read it here) and a fresh look."""
    action = body["actions"][0]
    spec = find_network(ctx, str(action.get("value", "")))
    channel_id = (body.get("channel") or {}).get("id")
    user_id = str((body.get("user") or {}).get("id", ""))
    await authz.require(ctx, spec, authz.Permission.READ, user_id=user_id, channel_id=channel_id)
    return spec, user_id, await snapshot_of(ctx, spec)


async def refresh(ctx: BotContext, body: dict[str, Any], respond: Any) -> None:
    """Re-poll the network of a status message and replace the message with the new rendering."""
    spec, _, snapshot = await _clicked(ctx, body)
    blocks = status_blocks(snapshot, spec, await remembered(ctx, spec))
    await respond(text=verdict_line(snapshot, spec), blocks=blocks, replace_original=True)


async def share(ctx: BotContext, body: dict[str, Any], respond: Any) -> None:
    """Post the network's status for everyone in the channel, saying who shared it.

    A fresh look rather than the caller's copy: what the channel reads should be true when it is
    posted. Through `response_url`, so it works where the bot was not invited; the caller's own
    message stays as it was."""
    spec, user_id, snapshot = await _clicked(ctx, body)
    logger.info("status shared network=%s", spec.name)
    blocks = status_blocks(snapshot, spec, await remembered(ctx, spec), shared_by=user_id or None)
    await respond(
        text=verdict_line(snapshot, spec), blocks=blocks, response_type="in_channel", replace_original=False
    )
