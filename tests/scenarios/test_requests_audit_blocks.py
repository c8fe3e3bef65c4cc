"""Golden and limit tests of the `requests` and `audit` Block Kit builders (pure: no servers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chat.errors import UsageError
from commands.approval import ApprovalRequest
from commands.audit import MAX_COUNT, audit_blocks, audit_text, entry_line, parse_count
from commands.operations import AddVoter, OverrideLeader, Pause, Resume
from commands.requests import MAX_LISTED, requests_blocks, requests_text
from store.audit import AuditEntry, AuditKind
from tests.fixtures.golden import assert_golden

GOLDEN = Path(__file__).parent / "golden"
NOW = 1_760_000_000.0
MAX_BLOCKS = 50
SECTION_LIMIT = 3000


def check_golden(name: str, blocks: list[dict[str, Any]]) -> None:
    assert_golden(GOLDEN, name, blocks)


def request(request_id: str, **changes: Any) -> ApprovalRequest:
    values: dict[str, Any] = {
        "id": request_id,
        "network": "mainnet",
        "operation": Pause(network="mainnet", sequencer="seq-1"),
        "requester": "UREQ",
        "created_at": NOW - 60,
        "expires_at": NOW + 840,
    }
    values.update(changes)
    return ApprovalRequest(**values)


def sections(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def test_open_requests_are_listed_soonest_expiry_first_with_votes_and_time_left() -> None:
    requests = [
        request("r-late", expires_at=NOW + 3 * 3600 + 125, approvals_required=2, approvals=("UA",)),
        request(
            "r-forced",
            operation=Resume(network="mainnet", sequencer="seq-2", force=True),
            expires_at=NOW + 45,
        ),
        request(
            "r-running",
            network="testnet",
            operation=OverrideLeader(network="testnet", sequencer="seq-0", node=True),
            state="executing",
            approvals=("UA",),
            expires_at=NOW + 10,
        ),
        request("r-soon", operation=AddVoter(network="mainnet", sequencer="seq-3"), expires_at=NOW - 1),
    ]
    blocks = requests_blocks(requests, NOW, None)
    check_golden("requests_mixed", blocks)
    rows = sections(blocks)
    assert [r.split("`")[1] for r in rows] == ["r-soon", "r-running", "r-forced", "r-late"]
    assert "`add-voter mainnet seq-3`" in rows[0] and "expiring now" in rows[0]
    assert "`override-leader testnet seq-0 --node`" in rows[1] and "executing" in rows[1]
    assert "`resume mainnet seq-2 --force` :rotating_light:" in rows[2] and "expires in 45s" in rows[2]
    assert "requested by <@UREQ> · approvals 1/2 · expires in 3h 2m" in rows[3]
    assert requests_text(requests, None) == "4 open approval requests"


def test_no_open_requests_says_so_for_the_network() -> None:
    blocks = requests_blocks([], NOW, "mainnet")
    check_golden("requests_empty", blocks)
    assert sections(blocks) == ["No open approval requests on *mainnet*."]
    assert requests_text([], "mainnet") == "No open approval requests on mainnet."


def test_many_requests_stay_within_block_kit_limits_and_count_the_rest() -> None:
    many = [request(f"r-{i:03d}", expires_at=NOW + i) for i in range(120)]
    blocks = requests_blocks(many, NOW, "mainnet")
    assert len(blocks) <= MAX_BLOCKS
    assert len(sections(blocks)) == MAX_LISTED
    assert blocks[-2]["elements"][0]["text"] == f"…and {120 - MAX_LISTED} more, not shown"
    assert blocks[-1]["elements"][0]["text"]["text"] == "Share in channel"


def entry(i: int, kind: AuditKind = AuditKind.VOTE, **changes: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "at": NOW - 10 * i,
        "network": "mainnet",
        "kind": kind,
        "actor": "UAPPR",
        "request_id": f"r-{i}",
        "message": f"approval 1 of 2 recorded ({i})",
    }
    values.update(changes)
    return AuditEntry(**values)


def test_audit_entries_render_newest_first_one_line_each() -> None:
    entries = [
        entry(0, AuditKind.RESULT, actor=None, message="succeeded: seq-1 paused"),
        entry(1, AuditKind.STEP, actor="executor", message="step 1/1 conductor_pause on seq-1\nok"),
        entry(2, AuditKind.APPROVE, message="approved by <@UAPPR>"),
        entry(3, AuditKind.REQUEST, actor="UREQ", message="requested `pause mainnet seq-1`"),
    ]
    blocks = audit_blocks("mainnet", entries, requested=20)
    check_golden("audit_four", blocks)
    [text] = sections(blocks)
    lines = text.split("\n")
    assert len(lines) == 4
    assert lines[0] == "`2025-10-09 08:53:20 UTC` :checkered_flag: *result* · `r-0` · succeeded: seq-1 paused"
    assert lines[1].endswith("· executor · `r-1` · step 1/1 conductor_pause on seq-1 ok")
    assert "<@UREQ>" in lines[3]
    assert blocks[-1]["elements"][0]["text"] == "4 entries shown, times in UTC"
    assert audit_text("mainnet", entries) == "Last 4 audit entries of mainnet"


def test_empty_audit_trail_says_nothing_happened_yet() -> None:
    blocks = audit_blocks("mainnet", [], requested=20)
    assert sections(blocks) == ["No audit entries for *mainnet* yet: nothing has been requested or run."]
    assert audit_text("mainnet", []) == "No audit entries for mainnet yet."


@pytest.mark.parametrize(
    ("requested", "hint"), [(20, "/conductor audit mainnet 50"), (50, "conductor-bot audit")]
)
def test_a_full_page_of_long_entries_stays_within_limits_and_points_to_older_ones(
    requested: int, hint: str
) -> None:
    long = "x" * 1900
    entries = [entry(i, message=long, data={"detail": long}) for i in range(requested)]
    blocks = audit_blocks("mainnet", entries, requested=requested)
    assert len(blocks) <= MAX_BLOCKS
    texts = sections(blocks)
    assert all(len(t) <= SECTION_LIMIT for t in texts)
    assert sum(t.count("\n") + 1 for t in texts) == requested  # every entry shown, none split
    assert hint in blocks[-1]["elements"][0]["text"]
    assert all(len(line) <= 320 for t in texts for line in t.split("\n"))
    assert entry_line(entries[0]).endswith("…")


@pytest.mark.parametrize(
    ("args", "expected"),
    [(("mainnet",), 20), (("mainnet", "5"), 5), (("mainnet", str(MAX_COUNT)), MAX_COUNT)],
)
def test_count_defaults_to_20_and_accepts_up_to_50(args: tuple[str, ...], expected: int) -> None:
    assert parse_count(args) == expected


@pytest.mark.parametrize("bad", ["0", "51", "many", "-3"])
def test_count_out_of_range_or_not_a_number_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match=r"N must be from 1 to 50|is not a number"):
        parse_count(("mainnet", bad))
