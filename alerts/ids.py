"""Slack identifiers of alert messages: one StrEnum per kind, so handlers and builders agree."""

from __future__ import annotations

from enum import StrEnum


class AlertAction(StrEnum):
    """`action_id` of the buttons on alert and burst-summary messages."""

    ACKNOWLEDGE = "alert_acknowledge"
    SILENCE_30M = "alert_silence_30m"
    SILENCE_2H = "alert_silence_2h"
    SILENCE_UNTIL_RESOLVED = "alert_silence_until_resolved"
    # On a burst summary: silence every alert of the network for a while.
    SILENCE_NETWORK_30M = "alert_silence_network_30m"
    SILENCE_NETWORK_2H = "alert_silence_network_2h"
    # On alert, summary and leader event messages: post the network's timeline into the thread.
    TIMELINE = "alert_timeline"
    # On the `/conductor alerts` list (seen only by the caller): post it for the whole channel.
    SHARE_LIST = "alerts_share"


class AlertBlock(StrEnum):
    """`block_id` of the alert message blocks that handlers or tests look up."""

    HEADER = "alert_header"
    STATUS = "alert_status"
    DETAILS = "alert_details"
    ACTIONS = "alert_actions"
    SUMMARY_HEADER = "alert_summary_header"
    SUMMARY_MORE = "alert_summary_more"
    SUMMARY_ACTIONS = "alert_summary_actions"
    CAUSE = "alert_cause"
    LIST_ACTIONS = "alerts_list_actions"


# How long each timed silence button silences for, in seconds.
SILENCE_SECONDS: dict[AlertAction, float] = {
    AlertAction.SILENCE_30M: 30 * 60,
    AlertAction.SILENCE_2H: 2 * 3600,
    AlertAction.SILENCE_NETWORK_30M: 30 * 60,
    AlertAction.SILENCE_NETWORK_2H: 2 * 3600,
}
