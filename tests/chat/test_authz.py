"""Who may do what: user IDs, user groups through the (fake) Slack Web API, and clear refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from bot.slack_app import build_web_client
from chat.authz import Permission, UserGroupDirectory, may_approve, may_request, require
from chat.context import BotContext
from chat.errors import DirectoryUnavailable, NotAuthorized, WrongChannel
from cluster.clock import ManualClock
from cluster.topology import NetworkSpec, SequencerSpec, Topology
from sim.slack_api import FakeSlackApi
from store.gateway import Store
from store.keys import Keys
from tests.fixtures.slack import BOT_TOKEN, bot_settings

SEQ = SequencerSpec(id="seq-0", raft_addr="a:1", conductor_rpc_url="http://a:1", node_rpc_url="http://a:2")


def network(**kw: object) -> NetworkSpec:
    return NetworkSpec.model_validate(
        {"name": "mainnet", "sequencers": (SEQ,), "command_channels": ("C1",), **kw}
    )


@pytest.fixture
async def ctx(fake_slack: FakeSlackApi, redis: Redis, keys: Keys) -> AsyncIterator[BotContext]:
    clock = ManualClock()
    slack = build_web_client(BOT_TOKEN, fake_slack.base_url)
    async with httpx.AsyncClient() as http:
        yield BotContext(
            settings=bot_settings(),
            topology=Topology(networks={}),
            http=http,
            clock=clock,
            slack=slack,
            directory=UserGroupDirectory(slack, clock, ttl_seconds=60),
            redis=redis,
            store=Store(redis, keys),
        )


async def test_empty_requesters_let_anyone_in_a_command_channel_request(ctx: BotContext) -> None:
    net = network()
    assert await may_request(ctx, net, "U999")
    await require(ctx, net, Permission.REQUEST, user_id="U999", channel_id="C1")
    with pytest.raises(WrongChannel, match="only accepted in <#C1>"):
        await require(ctx, net, Permission.REQUEST, user_id="U999", channel_id="C2")


async def test_empty_approvers_means_nobody_can_approve(ctx: BotContext) -> None:
    net = network(requesters=("U1",))
    assert not await may_approve(ctx, net, "U1")
    assert not await may_approve(ctx, net, "U999")


async def test_listed_user_ids_decide_without_asking_slack(ctx: BotContext, fake_slack: FakeSlackApi) -> None:
    net = network(requesters=("U1", "W2"), approvers=("U3",))
    assert await may_request(ctx, net, "W2")
    assert await may_approve(ctx, net, "U3")
    with pytest.raises(NotAuthorized, match="not a requester for `mainnet`"):
        await require(ctx, net, Permission.REQUEST, user_id="U3", channel_id="C1")
    assert fake_slack.calls("usergroups.list") == []


async def test_group_handles_resolve_through_slack_and_are_cached(
    ctx: BotContext, fake_slack: FakeSlackApi
) -> None:
    fake_slack.add_usergroup("oncall", "S100", ["U5", "U6"])
    net = network(approvers=("@oncall",))
    assert await may_approve(ctx, net, "U5")
    assert await may_approve(ctx, net, "U6")
    assert not await may_approve(ctx, net, "U7")
    assert len(fake_slack.calls("usergroups.list")) == 1
    assert len(fake_slack.calls("usergroups.users.list")) == 1
    # After the TTL, membership changes in Slack are seen.
    fake_slack.add_usergroup("oncall", "S100", ["U7"])
    assert isinstance(ctx.clock, ManualClock)
    ctx.clock.advance(61)
    assert await may_approve(ctx, net, "U7")
    assert not await may_approve(ctx, net, "U5")
    assert len(fake_slack.calls("usergroups.users.list")) == 2


async def test_unknown_handle_grants_nothing(ctx: BotContext) -> None:
    assert not await may_approve(ctx, network(approvers=("@ghosts",)), "U1")


async def test_workspace_without_user_groups_gets_a_clear_refusal(
    ctx: BotContext, fake_slack: FakeSlackApi
) -> None:
    fake_slack.fail_next("usergroups.list", status=200, retry_after=None, error="plan_upgrade_required")
    with pytest.raises(NotAuthorized, match="list user IDs in the clusters file instead"):
        await may_approve(ctx, network(approvers=("@oncall",)), "U1")


async def test_slack_outage_during_lookup_is_reported_not_guessed(
    ctx: BotContext, fake_slack: FakeSlackApi
) -> None:
    fake_slack.set_down(True)
    with pytest.raises(DirectoryUnavailable, match="Could not check user-group membership"):
        await may_request(ctx, network(requesters=("@oncall",)), "U1")
