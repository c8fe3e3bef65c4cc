"""Procedure definitions: what a request resolves to, the steps each procedure has, what a resumed
runner concludes about a call that may have been sent, and the checklist's Block Kit."""

from __future__ import annotations

from pathlib import Path

from commands.help import help_text
from commands.operations import Procedure
from commands.plans import STOP_HASH, RpcStep
from commands.procedures.blocks import checklist_blocks
from commands.procedures.conditions import Observation, Synced, live
from commands.procedures.definitions import outline, resolve, steps_of
from commands.procedures.effects import effect_seen, recovered_results
from commands.procedures.state import ProcedureRun, StepOutcome
from commands.procedures.steps import Act, Checkpoint, Wait
from tests.commands.test_preflight import HEAD, NET, NOW, SPEC, cluster, down, lagging
from tests.fixtures.blocks_valid import assert_valid_blocks
from tests.fixtures.golden import assert_golden

GOLDEN = Path(__file__).parent / "golden"


def test_recover_proposes_the_highest_head_and_says_why() -> None:
    snap = cluster(seq_1=down("conductor"), seq_2=down("conductor"), seq_3=lagging(3))
    resolution = resolve("recover", NET, (), snap, SPEC)
    assert resolution.procedure is not None
    assert resolution.procedure.sequencer == "seq-1" and resolution.procedure.conductor_alive is False
    assert resolution.reasons == (
        f"proposed seq-1: highest head #{HEAD} among op-nodes that answer; its conductor is dead",
    )
    kinds = [type(s).__name__ for s in steps_of(resolution.procedure, SPEC)]
    # A dead conductor gets no conductor override: pause (skipped if none answers), node override,
    # start, wait.
    assert kinds == ["Act", "Act", "Act", "Wait"]


def test_recover_refuses_a_named_sequencer_whose_op_node_is_down() -> None:
    resolution = resolve("recover", NET, ("seq-2",), cluster(seq_2=down("node")), SPEC)
    assert resolution.procedure is None and "seq-2's op-node does not answer" in (resolution.refusal or "")


def test_redeploy_of_the_leader_hands_over_to_the_healthiest_voter_first() -> None:
    snap = cluster(seq_2=lagging(8), seq_3=lagging(1))
    resolution = resolve("redeploy", NET, ("seq-1",), snap, SPEC)
    assert resolution.procedure is not None and resolution.procedure.transfer_to == "seq-3"
    steps = steps_of(resolution.procedure, SPEC)
    assert isinstance(steps[0], Act) and steps[0].operation.command == f"transfer-leader {NET} seq-3"
    assert any(isinstance(s, Checkpoint) for s in steps)
    follower = resolve("redeploy", NET, ("seq-2",), snap, SPEC).procedure
    assert follower is not None and follower.transfer_to is None


def test_bad_requests_are_refused_with_the_usage() -> None:
    snap = cluster()
    assert "unknown procedure `nope`" in (resolve("nope", NET, (), snap, SPEC).refusal or "")
    assert "usage: `/conductor procedure add-sequencer NETWORK SEQUENCER`" in (
        resolve("add-sequencer", NET, (), snap, SPEC).refusal or ""
    )
    assert "unknown sequencer `seq-9`" in (
        resolve("add-sequencer", NET, ("seq-9",), snap, SPEC).refusal or ""
    )


def test_add_sequencer_outline_lists_every_wait_with_its_timeout() -> None:
    proc = Procedure(network=NET, name="add-sequencer", sequencer="seq-3")
    lines = outline(proc, SPEC)
    assert lines[0] == "wait until seq-3 within 10 blocks of the best head (timeout 30 min)"
    assert lines[1].startswith("add seq-3 as voter — `add-voter op-test seq-3`")
    assert lines[2] == "wait until seq-3 in the leader's membership as a voter (timeout 2 min)"


def test_synced_observation_and_its_live_text() -> None:
    cond = Synced(sequencer="seq-2", max_lag=10)
    far = cond.observe(cluster(seq_2=lagging(120)), None)
    near = cond.observe(cluster(seq_2=lagging(8)), None)
    assert (far.met, far.value, near.met, near.value) == (False, 120, True, 8)
    assert live(near, 120) == "lag 120 → 8 blocks"
    assert live(Observation(met=False, text="x"), None) == "x"
    assert cond.observe(cluster(seq_2=down("node")), None).text == "seq-2's op-node does not answer"


def _call(method: str, target: str = "seq-2", params: list[object] | None = None) -> RpcStep:
    return RpcStep(target=target, endpoint="conductor", method=method, params=params or [], description="x")


def test_effects_tell_sent_from_not_sent_and_admit_what_cannot_be_seen() -> None:
    snap = cluster(seq_2={"paused": True})
    assert effect_seen(_call("conductor_pause"), snap) is True
    assert effect_seen(_call("conductor_resume"), snap) is False
    assert effect_seen(_call("conductor_pause"), cluster(seq_2=down("conductor"))) is None
    added = _call("conductor_addServerAsVoter", "seq-1", ["seq-3", "seq-3-raft:50050", 0])
    assert effect_seen(added, cluster()) is True
    assert effect_seen(added, cluster(members=(("seq-1", 0), ("seq-2", 0)))) is False
    assert effect_seen(_call("admin_overrideLeader"), snap) is None  # op-node has no read for it
    assert effect_seen(_call("admin_startSequencer"), cluster()) is False
    stop = RpcStep(
        target="seq-1", endpoint="node", method="admin_stopSequencer", description="x", result_key=STOP_HASH
    )
    assert recovered_results(stop, cluster()) == {STOP_HASH: f"0x{HEAD:x}"}


def test_checklist_golden_waiting_with_live_lag() -> None:
    proc = Procedure(network=NET, name="add-sequencer", sequencer="seq-3")
    run = ProcedureRun(
        id="abc123",
        network=NET,
        procedure=proc,
        requester="U_REQ",
        approvers=("U_APPR",),
        channel="C1",
        created_at=NOW,
        index=1,
        outcomes=(StepOutcome(index=0, status="done", detail="seq-3 within 10 blocks: lag 120 → 8 blocks"),),
    )
    steps = steps_of(proc, SPEC)
    assert isinstance(steps[0], Wait)
    assert_golden(GOLDEN, "checklist_running", checklist_blocks(run, steps))


def test_a_node_answer_in_the_checklist_reads_as_written_and_pings_nobody() -> None:
    proc = Procedure(network=NET, name="add-sequencer", sequencer="seq-3")
    evil = "preflight on a fresh snapshot blocks: seq-1 said <!channel> & <http://x|docs>"
    run = ProcedureRun(
        id="abc123",
        network=NET,
        procedure=proc,
        requester="U_REQ",
        approvers=("U_APPR",),
        channel="C1",
        created_at=NOW,
        index=1,
        phase="failed",
        outcome=evil,
        outcomes=(StepOutcome(index=0, status="failed", detail=evil),),
    )
    blocks = checklist_blocks(run, steps_of(proc, SPEC))
    assert_valid_blocks(blocks)
    shown = str(blocks)
    assert "<!channel>" not in shown and "said &lt;!channel&gt; &amp; &lt;http://x|docs&gt;" in shown


def test_help_lists_every_procedure_on_its_own_line() -> None:
    text = help_text({"procedure"})
    for line in (
        "`/conductor procedure add-sequencer NETWORK SEQUENCER` — wait until a new sequencer is synced",
        "`/conductor procedure recover NETWORK [SEQUENCER]` — disaster recovery",
        "`/conductor procedure redeploy NETWORK SEQUENCER` — hand leadership away",
    ):
        assert line in text, line
    assert "not enabled yet" not in text.split("*Procedures")[1].split("*Requests")[0]
