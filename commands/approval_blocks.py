"""Block Kit for approval requests: pure functions of an `ApprovalRequest` (and the network spec).

The same builder renders every state: while pending the message carries Approve / Reject / Cancel
buttons; once decided the buttons are gone and the outcome is shown. Step results go in the
message's thread (`step_result_text`). Button values carry only the request id and network; the
handler loads everything else from the store. Endpoint URLs are shown with credentials redacted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue

from chat.text import HEADER_LIMIT, SECTION_LIMIT, clip, duration, escape, plural, slack_date, slack_relative
from cluster.redact import redact_url
from cluster.topology import NetworkSpec
from commands.approval import ApprovalRequest, already_decided_message
from commands.checks import PreflightFinding
from commands.ids import ApprovalAction, ApprovalBlock
from commands.operations import Procedure
from commands.plans import FROM_KEY, RpcStep, StepResult
from commands.procedures.definitions import outline

Block = dict[str, Any]


# Query keys and path segments that look like provider API keys (e.g. .../v2/<key>).

_STATE_TITLE = {
    "pending": ":hourglass_flowing_sand: Approval needed",
    "approved": ":white_check_mark: Approved",
    "executing": ":gear: Executing",
    "succeeded": ":large_green_circle: Succeeded",
    "failed": ":red_circle: Failed",
    "rejected": ":no_entry_sign: Rejected",
    "cancelled": ":heavy_multiplication_x: Cancelled",
    "expired": ":alarm_clock: Expired",
}


class ApprovalButtonValue(BaseModel):
    """The `value` of every approval button."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str
    network: str


def _section(block_id: ApprovalBlock, text: str) -> Block:
    return {
        "type": "section",
        "block_id": block_id.value,
        "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)},
    }


def _render_param(p: JsonValue) -> JsonValue:
    if isinstance(p, dict) and set(p) == {FROM_KEY}:
        return f"<{p[FROM_KEY]} from an earlier step>"
    return p


def _endpoint_url(spec: NetworkSpec, step: RpcStep) -> str:
    seq = spec.sequencer(step.target)
    if seq is None:
        return "unknown endpoint"
    return redact_url(seq.conductor_rpc_url if step.endpoint == "conductor" else seq.node_rpc_url)


def _step_line(i: int, step: RpcStep, spec: NetworkSpec) -> str:
    params = json.dumps([_render_param(p) for p in step.params], separators=(",", ":"))
    where = "conductor" if step.endpoint == "conductor" else "op-node"
    line = (
        f"{i}. `{step.method}` `{params}` on *{step.target}* {where} `{_endpoint_url(spec, step)}`"
        f" (timeout {step.timeout:g}s)\n      {step.description}"
    )
    if step.tolerate:
        line += f"; counts as done on: {', '.join(repr(t) for t in step.tolerate)}"
    return line


def _plan_text(request: ApprovalRequest, spec: NetworkSpec) -> str:
    plan = request.plan
    if plan is None:
        return "*Plan*\nno plan"
    lines = [f"*Plan*: {plan.summary}"]
    if isinstance(request.operation, Procedure):
        # One approval covers every step; each act is still prepared and checked just before it runs.
        lines += [f"{i}. {line}" for i, line in enumerate(outline(request.operation, spec), start=1)]
    lines += [_step_line(i, s, spec) for i, s in enumerate(plan.steps, start=1)]
    if plan.rollback:
        lines.append(
            "_If a step fails after an earlier one ran:_ " + "; ".join(s.description for s in plan.rollback)
        )
    # Params, URLs and node answers are external and a placeholder reads `<stop_hash …>`; the plan has
    # no link or mention of its own (`<@U…>` kept all the same).
    return escape("\n".join(lines), keep_user_mentions=True)


def finding_icon(finding: PreflightFinding, forced: bool) -> str:
    if finding.level == "block":
        return ":rotating_light:" if forced and finding.forceable else ":no_entry:"
    return ":warning:" if finding.level == "warn" else ":white_check_mark:"


def _findings_text(request: ApprovalRequest) -> str:
    forced = request.operation.force
    lines = ["*Preflight*"]
    for f in request.findings:
        note = " *(overridden by --force)*" if forced and f.level == "block" and f.forceable else ""
        lines.append(f"{finding_icon(f, forced)} {escape(f.message, keep_user_mentions=True)}{note}")
    if len(lines) == 1:
        lines.append(":white_check_mark: no findings")
    return "\n".join(lines)


def _force_banner(request: ApprovalRequest) -> str:
    overridden = request.forced
    text = ":rotating_light: *REQUESTED WITH --force* :rotating_light:"
    if overridden:
        text += "\nThese blocking checks are overridden:\n" + "\n".join(
            f"• {escape(f.message, keep_user_mentions=True)}" for f in overridden
        )
    else:
        text += "\nNo blocking check needed overriding."
    return text


def mention(principal: str, group_ids: Mapping[str, str] | None = None) -> str:
    """An approver as Slack shows (and notifies) them: `<@U…>` for a user, `<!subteam^S…>` for a user
    group whose id is known (configured as `S…`, or its `@handle` resolved into `group_ids`), else
    the handle as plain text."""
    if principal.startswith(("U", "W")):
        return f"<@{principal}>"
    group_id = principal if principal.startswith("S") else (group_ids or {}).get(principal)
    return f"<!subteam^{group_id}>" if group_id else escape(principal)


def approvers_text(
    request: ApprovalRequest, spec: NetworkSpec, group_ids: Mapping[str, str] | None = None
) -> str:
    """Who can still approve: "needs 1 approval from @sequencer-leads" (never naming the requester)."""
    missing = request.approvals_required - len(request.approvals)
    who = [mention(p, group_ids) for p in spec.approvers if p != request.requester]
    if not who:
        return "nobody is listed as an approver of this network"
    return f"needs {plural(missing, 'approval')} from {' or '.join(who)}"


def expires_text(request: ApprovalRequest) -> str:
    """Time left as the reader's client counts it, then the moment itself."""
    left = f"in {duration(request.expires_at - request.created_at)}"
    return f"{slack_relative(request.expires_at, left)} ({slack_date(request.expires_at)})"


def approvers_ping_text(
    request: ApprovalRequest, spec: NetworkSpec, group_ids: Mapping[str, str]
) -> str | None:
    """The thread reply that notifies approvers the message could only name: user groups configured
    by `@handle`, now resolved. Users and `S…` groups are mentioned by the message itself (its post
    notifies them), so None when there is nobody else: one notification per approver, not two."""
    resolved = [p for p in spec.approvers if p in group_ids]
    if not resolved:
        return None
    who = " ".join(mention(p, group_ids) for p in resolved)
    needs = approvers_text(request, spec, group_ids)
    return clip(
        f":bell: {who}: `{request.operation.command}` by <@{request.requester}> {needs};"
        f" expires {expires_text(request)}.",
        SECTION_LIMIT,
    )


def _summary_fields(request: ApprovalRequest, spec: NetworkSpec) -> Block:
    approvals = f"{len(request.approvals)} of {request.approvals_required}"
    if request.approvals:
        approvals += ": " + ", ".join(f"<@{u}>" for u in request.approvals)
    if request.state == "pending":
        approvals += f"\n{approvers_text(request, spec)}"
    fields = [
        f"*Requester*\n<@{request.requester}>",
        f"*Network*\n{request.network}",
        f"*Approvals*\n{approvals}",
    ]
    if request.state == "pending" or request.decided_at is None:
        fields.append(f"*Expires*\n{expires_text(request)}")
    else:
        fields.append(f"*Decided*\n{slack_date(request.decided_at)}")
    return {
        "type": "section",
        "block_id": ApprovalBlock.SUMMARY.value,
        "fields": [{"type": "mrkdwn", "text": clip(f, 2000)} for f in fields],
    }


def _outcome_text(request: ApprovalRequest) -> str:
    match request.state:
        case "succeeded" | "failed":
            done = sum(1 for r in request.step_results if r.ok)
            total = len(request.plan.steps) if request.plan else len(request.step_results)
            said = escape(request.outcome, keep_user_mentions=True) if request.outcome else request.state
            return f"*Outcome*: {said}\n{done} of {total} steps succeeded"
        case "executing":
            return "*Outcome*: executing; step results follow in the thread"
        case "approved":
            return f"*Outcome*: approved by {', '.join(f'<@{u}>' for u in request.approvals)}; about to run"
        case "rejected":
            return f"*Outcome*: rejected by {', '.join(f'<@{u}>' for u in request.rejections)}; nothing ran"
        case "expired":
            return (
                f"*Outcome*: expired {slack_date(request.expires_at)} without enough approvals; nothing ran"
            )
        case _:
            return f"*Outcome*: {already_decided_message(request)}"


def button(text: str, action: StrEnum, value: str, style: str | None = None) -> Block:
    """A Block Kit button whose `action_id` is `action` (shared with the procedure message)."""
    b: Block = {
        "type": "button",
        "action_id": action.value,
        "text": {"type": "plain_text", "text": text},
        "value": value,
    }
    if style is not None:
        b["style"] = style
    return b


def _buttons(request: ApprovalRequest) -> Block:
    value = ApprovalButtonValue(request_id=request.id, network=request.network).model_dump_json()
    approve = button("Approve", ApprovalAction.APPROVE, value, "primary")
    approve["confirm"] = {
        "title": {"type": "plain_text", "text": "Approve this operation?"},
        "text": {
            "type": "mrkdwn",
            "text": clip(f"Once approved, `{request.operation.command}` runs right away.", 300),
        },
        "confirm": {"type": "plain_text", "text": "Approve"},
        "deny": {"type": "plain_text", "text": "Back"},
    }
    return {
        "type": "actions",
        "block_id": ApprovalBlock.ACTIONS.value,
        "elements": [
            approve,
            button("Reject", ApprovalAction.REJECT, value, "danger"),
            button("Cancel", ApprovalAction.CANCEL, value),
        ],
    }


def approval_blocks(request: ApprovalRequest, spec: NetworkSpec) -> list[Block]:
    """The approval message for the request's current state (buttons only while pending)."""
    title = f"{_STATE_TITLE[request.state]}: {request.operation.command}"
    blocks: list[Block] = [
        {
            "type": "header",
            "block_id": ApprovalBlock.HEADER.value,
            "text": {"type": "plain_text", "text": clip(title, HEADER_LIMIT), "emoji": True},
        }
    ]
    if request.operation.force:
        blocks.append(_section(ApprovalBlock.FORCE_BANNER, _force_banner(request)))
    blocks.append(_summary_fields(request, spec))
    if request.state != "pending":
        blocks.append(_section(ApprovalBlock.OUTCOME, _outcome_text(request)))
    blocks.append(_section(ApprovalBlock.PLAN, _plan_text(request, spec)))
    blocks.append(_section(ApprovalBlock.PREFLIGHT, _findings_text(request)))
    if request.plan is not None and request.plan.expectations:
        expected = "\n".join(f"• {e.description}" for e in request.plan.expectations)
        blocks.append(_section(ApprovalBlock.EXPECTATIONS, f"*Expected outcome*\n{expected}"))
    blocks.append(
        {
            "type": "context",
            "block_id": ApprovalBlock.FOOTER.value,
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"request `{request.id}` · created {slack_date(request.created_at)}",
                }
            ],
        }
    )
    if request.state == "pending":
        blocks.append(_buttons(request))
    return blocks


def approval_text(request: ApprovalRequest) -> str:
    """The notification / fallback text that goes with the blocks."""
    force = " [--force]" if request.operation.force else ""
    return f"{request.state}: `{request.operation.command}`{force} requested by <@{request.requester}>"


def step_result_text(request: ApprovalRequest, result: StepResult) -> str:
    """One thread reply per executed step."""
    total = len(request.plan.steps) if request.plan else result.index
    took = f" in {result.seconds:.1f}s" if result.seconds is not None else ""
    head = f"step {result.index}/{total} `{result.method}` on *{result.target}*{took}"
    detail = escape(clip(result.detail, 2500))
    if result.ok and result.tolerated:
        return f":ballot_box_with_check: {head}: already in the wanted state (`{detail}`)"
    if result.ok:
        return f":white_check_mark: {head}" + (f": `{detail}`" if detail else "")
    return f":x: {head} failed: `{detail}`"


def verification_text(failures: list[str]) -> str:
    """The thread reply that reports the outcome checks run after the steps."""
    if not failures:
        return ":white_check_mark: outcome verified on a fresh snapshot"
    return ":warning: outcome not as expected:\n" + "\n".join(f"• {escape(f)}" for f in failures)
