"""Buttons: every interactive element the builders emit reaches a handler; Refresh re-renders."""

from __future__ import annotations

import json
from typing import Any

from alerts.event_blocks import leader_chain_blocks
from alerts.ids import AlertAction
from alerts.leader_events import LeaderChain
from alerts.model import LeaderChange
from alerts.views import alerts_list_blocks
from commands.approval_blocks import approval_blocks
from commands.help import CATALOGUE
from commands.ids import ApprovalAction, RequestsAction
from commands.operations import Procedure
from commands.procedures.blocks import ProcedureAction, checklist_blocks
from commands.procedures.definitions import steps_of
from commands.procedures.state import ProcedureRun
from commands.requests import requests_blocks
from commands.router import build_registry
from commands.status_blocks import StatusAction, status_blocks
from tests.alerts.test_blocks import CASES as ALERT_CASES
from tests.app.test_status_blocks import healthy_snapshot, troubled_snapshot
from tests.commands.test_approval_blocks import handover_request
from tests.commands.test_preflight import SPEC
from tests.fixtures.blocks_valid import assert_valid_message
from tests.fixtures.slack import StartBot


# Action ids whose handlers another module registers (with its own register_actions), by module.
def action_ids(blocks: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "action_id" in node:
                found.add(node["action_id"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found


def builder_outputs() -> list[list[dict[str, Any]]]:
    """Every message with buttons the bot builds: status, an approval request, alerts, a burst summary."""
    alerts = [case() for case in ALERT_CASES.values()]
    approval = approval_blocks(handover_request(), SPEC)
    proc = Procedure(network=SPEC.name, name="redeploy", sequencer="seq-2")
    run = ProcedureRun(
        id="r1", network=SPEC.name, procedure=proc, requester="U1", channel="C1", created_at=0.0
    )
    checklists = [
        checklist_blocks(run.model_copy(update={"phase": phase}), steps_of(proc, SPEC))
        for phase in ("running", "checkpoint", "paused")
    ]
    return [
        status_blocks(*healthy_snapshot()),
        status_blocks(*troubled_snapshot()),
        approval,
        *alerts,
        *checklists,
        alerts_list_blocks(["a line"], None),
        requests_blocks([], 0.0, None),
        leader_chain_blocks(
            LeaderChain(
                network=SPEC.name, message="m", changes=(LeaderChange(at=0.0, before="a", after="b"),)
            ),
            300.0,
        ),
    ]


async def test_every_action_in_the_builders_reaches_a_handler(running_bot: StartBot) -> None:
    ids = set().union(*(action_ids(b) for b in builder_outputs()))
    assert ids == {
        a.value for a in (*StatusAction, *ApprovalAction, *AlertAction, *ProcedureAction, *RequestsAction)
    }
    async with running_bot() as bot:
        for action_id in sorted(ids):
            sent = await bot.driver.click(action_id, "sim-1", channel=bot.channel())
            assert sent.status == 200, f"{action_id} has no handler (Bolt answered {sent.status})"
        # An id nobody handles gets Bolt's 404, so the check above can fail.
        assert (await bot.driver.click("no_such_action", "x", channel=bot.channel())).status == 404


def test_every_registered_verb_is_in_the_help_catalogue() -> None:
    assert set(build_registry()) <= CATALOGUE.keys()


async def test_refresh_replaces_the_status_message_with_a_fresh_snapshot(running_bot: StartBot) -> None:
    async with running_bot(nodes=3) as bot:
        await bot.sim.kill("sim-1", "seq-2", "conductor")
        # A click shares a poll already in flight (cluster.singleflight): let one begun before the kill end.
        await bot.ctx.snapshots.snapshot(bot.ctx.topology.networks["sim-1"])
        sent = await bot.driver.click(StatusAction.REFRESH, "sim-1", channel=bot.channel())
        assert sent.status == 200
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["replace_original"] is True
        assert reply["blocks"][0]["text"]["text"] == "sim-1: degraded"
        assert "↳ conductor unreachable: " in json.dumps(reply["blocks"], ensure_ascii=False)


async def test_refresh_from_another_channel_is_refused(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        sent = await bot.driver.click(StatusAction.REFRESH, "sim-1", channel="CELSEWHERE")
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["text"].startswith(":warning: Commands for `sim-1` are only accepted in")
        assert reply.get("replace_original") is False


async def test_share_posts_the_status_for_the_whole_channel_and_says_who_shared_it(
    running_bot: StartBot,
) -> None:
    async with running_bot(nodes=3) as bot:
        await bot.sim.kill("sim-1", "seq-2", "conductor")
        await bot.ctx.snapshots.snapshot(bot.ctx.topology.networks["sim-1"])  # see the refresh test
        sent = await bot.driver.click(StatusAction.SHARE, "sim-1", user="U77", channel=bot.channel())
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["response_type"] == "in_channel"
        assert reply["replace_original"] is False  # the caller's own copy stays
        assert_valid_message(reply["text"], reply["blocks"])
        assert reply["blocks"][0]["text"]["text"] == "sim-1: degraded"
        assert reply["blocks"][-1]["elements"][0]["text"].endswith("shared by <@U77>")
        assert not [b for b in reply["blocks"] if b["type"] == "actions"]


async def test_share_from_another_channel_is_refused_and_posts_nothing(running_bot: StartBot) -> None:
    async with running_bot() as bot:
        sent = await bot.driver.click(StatusAction.SHARE, "sim-1", channel="CELSEWHERE")
        [reply] = await bot.fake.wait_for_response(sent.response_name)
        assert reply["text"].startswith(":warning: Commands for `sim-1` are only accepted in")
        assert reply.get("response_type") != "in_channel"
