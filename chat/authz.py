"""Who may do what, per network. The whole policy is this table:

    permission  where                              who
    ----------  ---------------------------------  ----------------------------------------------------
    READ        a command channel of the network   anyone there
    REQUEST     a command channel of the network   `requesters`; an empty list means anyone there
    approve     wherever the request message is    `approvers`; an empty list means nobody (refused),
                (`may_approve`)                    and never the requester (enforced by the workflow)

A network with no `command_channels` accepts commands in any channel. Requesters and approvers are
Slack user IDs (`U…`/`W…`), user-group IDs (`S…`) or user-group handles (`@oncall`); groups are resolved
through the Web API (`usergroups.list`, `usergroups.users.list`, scope `usergroups:read`) and cached
for a short TTL in a bounded in-process cache. Workspaces without user groups (`plan_upgrade_required`)
get a clear refusal naming the fix: list user IDs instead.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from chat.errors import DirectoryUnavailable, NotAuthorized, WrongChannel
from cluster.clock import Clock
from cluster.topology import NetworkSpec

if TYPE_CHECKING:
    from chat.context import BotContext

logger = logging.getLogger(__name__)


class Permission(StrEnum):
    READ = "read"
    REQUEST = "request"


def command_allowed_in_channel(network: NetworkSpec, channel_id: str) -> bool:
    """Commands for a network are accepted only in its command channels, if it lists any."""
    return not network.command_channels or channel_id in network.command_channels


async def may_request(ctx: BotContext, network: NetworkSpec, user_id: str) -> bool:
    """Whether the user may ask for an operation on the network (channel checked separately)."""
    if not network.requesters:
        return True
    return await ctx.directory.is_listed(user_id, network.requesters)


async def may_approve(ctx: BotContext, network: NetworkSpec, user_id: str) -> bool:
    """Whether the user is an approver of the network; the requester check belongs to the workflow."""
    if not network.approvers:
        return False
    return await ctx.directory.is_listed(user_id, network.approvers)


async def require(
    ctx: BotContext, network: NetworkSpec, permission: Permission, *, user_id: str, channel_id: str | None
) -> None:
    """Raise `WrongChannel` or `NotAuthorized` unless the table above allows the command.

    Approval is decided by `may_approve` inside the approval workflow, which also refuses the requester.
    """
    if channel_id is None or not command_allowed_in_channel(network, channel_id):
        channels = ", ".join(f"<#{c}>" for c in network.command_channels)
        raise WrongChannel(f"Commands for `{network.name}` are only accepted in {channels}.")
    if permission is Permission.REQUEST and not await may_request(ctx, network, user_id):
        raise NotAuthorized(f"You are not a requester for `{network.name}`; ask an operator to add you.")


class UserGroupDirectory:
    """Resolves user-group handles to members through the Slack Web API, with a bounded TTL cache."""

    def __init__(
        self, slack: AsyncWebClient, clock: Clock, *, ttl_seconds: float = 60.0, max_groups: int = 256
    ) -> None:
        self._slack = slack
        self._clock = clock
        self._ttl = ttl_seconds
        self._max = max_groups
        self._handles: tuple[float, dict[str, str]] | None = None
        self._members: OrderedDict[str, tuple[float, frozenset[str]]] = OrderedDict()

    async def is_listed(self, user_id: str, principals: Sequence[str]) -> bool:
        """Whether the user is one of the principals, directly or through a user group."""
        if user_id in principals:
            return True
        for principal in principals:
            group_id = await self._group_id(principal)
            if group_id is not None and user_id in await self.members(group_id):
                return True
        return False

    async def group_ids(self, principals: Sequence[str]) -> dict[str, str]:
        """The `@handle` principals whose user-group id can be found now; a failed lookup leaves them
        out (the caller names them by handle instead of mentioning them)."""
        found: dict[str, str] = {}
        for principal in principals:
            if not principal.startswith("@"):
                continue
            try:
                group_id = await self._group_id(principal)
            except (DirectoryUnavailable, NotAuthorized):
                return found
            if group_id is not None:
                found[principal] = group_id
        return found

    async def members(self, group_id: str) -> frozenset[str]:
        """The user IDs of a user group (`S…`)."""
        now = self._clock.now()
        cached = self._members.get(group_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        response = await self._call("usergroups.users.list", usergroup=group_id)
        users = frozenset(str(u) for u in response.get("users") or ())
        self._members[group_id] = (now + self._ttl, users)
        self._members.move_to_end(group_id)
        while len(self._members) > self._max:
            self._members.popitem(last=False)
        return users

    async def _group_id(self, principal: str) -> str | None:
        if principal.startswith("S"):
            return principal
        if not principal.startswith("@"):
            return None
        handle = principal[1:]
        now = self._clock.now()
        if self._handles is None or self._handles[0] <= now:
            response = await self._call("usergroups.list")
            groups = response.get("usergroups") or ()
            self._handles = (now + self._ttl, {str(g["handle"]): str(g["id"]) for g in groups})
        group_id = self._handles[1].get(handle)
        if group_id is None:
            logger.warning("configured user group not found handle=%s", handle)
        return group_id

    async def _call(self, method: str, usergroup: str | None = None) -> dict[str, Any]:
        try:
            if usergroup is None:
                response = await self._slack.usergroups_list()
            else:
                response = await self._slack.usergroups_users_list(usergroup=usergroup)
        except SlackApiError as e:
            error = str(e.response.get("error", "unknown")) if e.response is not None else "unknown"
            logger.warning("user group lookup failed method=%s error=%s", method, error)
            if error == "plan_upgrade_required":
                raise NotAuthorized(
                    "This Slack workspace has no user groups (plan_upgrade_required), so `@group` entries "
                    "cannot be checked. Ask an operator to list user IDs in the clusters file instead."
                ) from e
            raise DirectoryUnavailable(
                f"Could not check user-group membership (Slack said `{error}`); try again shortly."
            ) from e
        except (aiohttp.ClientError, TimeoutError) as e:
            logger.warning("user group lookup failed method=%s error=%s", method, type(e).__name__)
            raise DirectoryUnavailable("Could not reach Slack to check user-group membership.") from e
        return dict(response.data) if isinstance(response.data, dict) else {}
