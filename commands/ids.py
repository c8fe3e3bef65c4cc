"""Slack identifiers of the approval message: one StrEnum per kind, so handlers and builders agree."""

from __future__ import annotations

from enum import StrEnum


class ApprovalAction(StrEnum):
    """`action_id` of the buttons on an approval request message."""

    APPROVE = "approval_approve"
    REJECT = "approval_reject"
    CANCEL = "approval_cancel"


class ApprovalBlock(StrEnum):
    """`block_id` of the approval message blocks that handlers or tests look up."""

    HEADER = "approval_header"
    FORCE_BANNER = "approval_force"
    SUMMARY = "approval_summary"
    PLAN = "approval_plan"
    PREFLIGHT = "approval_preflight"
    EXPECTATIONS = "approval_expectations"
    OUTCOME = "approval_outcome"
    FOOTER = "approval_footer"
    ACTIONS = "approval_actions"


class RequestsAction(StrEnum):
    """`action_id` of the buttons on the `/conductor requests` list."""

    SHARE = "requests_share"
