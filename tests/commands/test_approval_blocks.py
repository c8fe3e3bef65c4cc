"""Approval Block Kit: exact output against golden JSON files, plus Slack's limits.

Regenerate the golden files after an intended change with `UPDATE_GOLDEN=1 pytest tests/commands`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cluster.clock import ManualClock
from commands.approval import (
    ApprovalRequest,
    Approve,
    Finish,
    Reject,
    StartExecution,
    open_request,
    transition,
)
from commands.approval_blocks import (
    ApprovalButtonValue,
    approval_blocks,
    approval_text,
    approvers_ping_text,
    mention,
    step_result_text,
    verification_text,
)
from commands.checks import PreflightFinding
from commands.ids import ApprovalAction
from commands.operations import Operation, Pause, Resume, StartSequencer
from commands.plans import StepResult
from commands.preflight import prepare
from tests.commands.test_preflight import NET, SPEC, cluster, lagging
from tests.fixtures.blocks_valid import assert_valid_message
from tests.fixtures.golden import assert_golden

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, blocks: list[dict[str, Any]]) -> None:
    assert_valid_message(name, blocks)
    assert_golden(GOLDEN, name, blocks, sort_keys=True)


def request(op: Operation, **changes: Any) -> ApprovalRequest:
    clock = ManualClock()
    prepared = prepare(op, cluster(**changes), SPEC)
    return open_request("req-42", prepared, "UREQUESTER", SPEC, clock.now())


def handover_request() -> ApprovalRequest:
    # The runbook's manual handover: every conductor paused, the target's leadership overridden.
    paused = {"paused": True}
    target = {"paused": True, "leader_overridden": True}
    return request(StartSequencer(network=NET, sequencer="seq-2"), seq_1=paused, seq_2=target, seq_3=paused)


def forced_resume_request() -> ApprovalRequest:
    return request(Resume(network=NET, sequencer="seq-2", force=True), seq_2={**lagging(25), "paused": True})


def test_pending_handover_golden() -> None:
    check_golden("pending_start_sequencer", approval_blocks(handover_request(), SPEC))


def test_pending_forced_resume_golden_shows_force_banner() -> None:
    blocks = approval_blocks(forced_resume_request(), SPEC)
    check_golden("pending_forced_resume", blocks)
    assert blocks[1]["block_id"] == "approval_force"
    assert "REQUESTED WITH --force" in blocks[1]["text"]["text"]
    assert "seq-2 is 25 blocks / 49s behind" in blocks[1]["text"]["text"]


def test_succeeded_golden_has_no_buttons_and_shows_outcome() -> None:
    req = handover_request()
    t = req.created_at + 60
    for event in (Approve(user="UAPPROVER1"), StartExecution()):
        req = transition(req, event, t, authz=True).request or req
    results = (
        StepResult(
            index=1, target="seq-1", method="admin_stopSequencer", ok=True, detail="0xabc", seconds=0.4
        ),
        StepResult(index=2, target="seq-2", method="admin_startSequencer", ok=True, seconds=0.1),
    )
    done = transition(
        req, Finish(success=True, outcome="seq-2 is the only active sequencer", step_results=results), t, True
    )
    assert done.request is not None
    blocks = approval_blocks(done.request, SPEC)
    check_golden("succeeded_start_sequencer", blocks)
    assert all(b["type"] != "actions" for b in blocks)


def test_a_failed_outcome_quoting_a_node_reads_as_written_and_pings_nobody() -> None:
    req = handover_request()
    t = req.created_at + 60
    for event in (Approve(user="UAPPROVER1"), StartExecution()):
        req = transition(req, event, t, authz=True).request or req
    said = "step 1 failed: seq-1 said <!channel> & <http://x|docs>"
    done = transition(req, Finish(success=False, outcome=said, step_results=()), t, True)
    assert done.request is not None
    blocks = approval_blocks(done.request, SPEC)
    assert_valid_message("failed", blocks)
    assert "seq-1 said &lt;!channel&gt; &amp; &lt;http://x|docs&gt;" in str(blocks)


def test_rejected_golden() -> None:
    req = request(Pause(network=NET))
    d = transition(req, Reject(user="UAPPROVER2"), req.created_at + 5, authz=True)
    assert d.request is not None
    check_golden("rejected_pause_all", approval_blocks(d.request, SPEC))


def test_buttons_carry_only_request_id_and_network() -> None:
    blocks = approval_blocks(handover_request(), SPEC)
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [a.value for a in ApprovalAction]
    for element in actions["elements"]:
        value = ApprovalButtonValue.model_validate_json(element["value"])
        assert value == ApprovalButtonValue(request_id="req-42", network=NET)


def test_credentials_never_reach_the_message() -> None:
    # The topology's conductor URLs carry admin:hunter2.
    text = json.dumps(approval_blocks(request(Pause(network=NET)), SPEC))
    assert "hunter2" not in text and "http://***@seq-1:8547" in text


def test_big_network_stays_within_slack_limits() -> None:
    many = SPEC.model_copy(
        update={
            "sequencers": tuple(
                SPEC.sequencers[0].model_copy(update={"id": f"sequencer-{i:03d}"}) for i in range(200)
            )
        }
    )
    req = open_request("req-big", prepare(Pause(network=NET), cluster(spec=many), many), "UREQ", many, 0.0)
    blocks = approval_blocks(req, many)
    assert len(blocks) <= 50
    for b in blocks:
        if "text" in b:
            assert len(b["text"]["text"]) <= (150 if b["type"] == "header" else 3000)
    plan = next(b for b in blocks if b["block_id"] == "approval_plan")
    assert plan["text"]["text"].endswith("…")


def test_thread_texts_per_step_result() -> None:
    req = handover_request()
    ok = StepResult(
        index=1, target="seq-1", method="admin_stopSequencer", ok=True, detail="0xabc", seconds=0.4
    )
    assert (
        step_result_text(req, ok)
        == ":white_check_mark: step 1/2 `admin_stopSequencer` on *seq-1* in 0.4s: `0xabc`"
    )
    same = StepResult(
        index=2,
        target="seq-2",
        method="admin_startSequencer",
        ok=True,
        tolerated=True,
        detail="sequencer already running",
    )
    assert step_result_text(req, same).startswith(":ballot_box_with_check: step 2/2")
    bad = StepResult(
        index=1, target="seq-1", method="admin_stopSequencer", ok=False, detail="timeout after 30s"
    )
    assert (
        step_result_text(req, bad)
        == ":x: step 1/2 `admin_stopSequencer` on *seq-1* failed: `timeout after 30s`"
    )
    assert verification_text([]) == ":white_check_mark: outcome verified on a fresh snapshot"
    assert verification_text(["seq-2 is still sequencing"]).endswith("• seq-2 is still sequencing")


def test_fallback_text_flags_force() -> None:
    assert approval_text(forced_resume_request()) == (
        "pending: `resume op-test seq-2 --force` [--force] requested by <@UREQUESTER>"
    )


def test_approvers_are_mentioned_as_slack_shows_them() -> None:
    assert mention("U123") == "<@U123>" and mention("W9") == "<@W9>"
    assert mention("S0LEADS") == "<!subteam^S0LEADS>"
    assert mention("@leads", {"@leads": "S0LEADS"}) == "<!subteam^S0LEADS>"
    assert mention("@leads") == "@leads"  # not resolved: named, never a broken mention


def test_no_thread_ping_when_the_message_itself_mentions_every_approver() -> None:
    req = handover_request()
    assert approvers_ping_text(req, SPEC, {}) is None
    with_group = SPEC.model_copy(update={"approvers": ("UAPPROVER1", "@leads")})
    ping = approvers_ping_text(req, with_group, {"@leads": "S0LEADS"})
    assert ping is not None and ping.startswith(":bell: <!subteam^S0LEADS>: `start-sequencer ")


def test_an_expired_request_says_when_in_the_readers_time_not_raw_utc() -> None:
    req = handover_request()
    req = transition(req, Approve(user="UAPPROVER1"), req.expires_at + 1, authz=True).request or req
    assert req.state == "expired"
    [outcome] = [b for b in approval_blocks(req, SPEC) if b.get("block_id") == "approval_outcome"]
    assert outcome["text"]["text"].startswith("*Outcome*: expired <!date^")
    assert outcome["text"]["text"].endswith(" without enough approvals; nothing ran")


def test_what_a_node_said_is_escaped_in_preflight_step_results_and_verification() -> None:
    evil = "seq-2 conductor unreachable: <!channel> <http://x|y> & co"
    req = handover_request()
    req = req.model_copy(update={"findings": (*req.findings, PreflightFinding(level="warn", message=evil))})
    shown = json.dumps(approval_blocks(req, SPEC))
    result = StepResult(index=1, target="seq-1", method="admin_stopSequencer", ok=False, detail=evil)
    shown += step_result_text(req, result) + verification_text([evil])
    assert "<!channel>" not in shown and "<http" not in shown
    assert shown.count("&lt;!channel&gt; &lt;http://x|y&gt; &amp; co") == 3
