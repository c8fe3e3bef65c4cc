"""Credentials in RPC URLs never reach a log line or a Slack message."""

from __future__ import annotations

import pytest

from cluster.redact import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pw@seq-1:8545/", "http://***@seq-1:8545/"),
        ("https://u:p@host:8545/path?q=1", "https://***@host:8545/path?q=1"),
        ("https://opt.g.alchemy.com/v2/abcdefghijklmnopqrstuvwxyz0123", "https://opt.g.alchemy.com/v2/***"),
        ("http://h:1/rpc?apikey=sekrit&x=1", "http://h:1/rpc?apikey=***&x=1"),
        ("http://[::1]:8547", "http://[::1]:8547"),
        ("http://host:8545", "http://host:8545"),
        ("http://u:p@host:99999999/abcdefghijklmnopqrstuvwxyz?k=s", "http://***@host:99999999/***"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_redacts_every_url_in_an_error_message() -> None:
    text = 'Post "https://node.example/v2/abcdefghijklmnopqrstuvwxyz0123": dial tcp; retry http://a:b@x:1/'
    assert redact_text(text) == 'Post "https://node.example/v2/***": dial tcp; retry http://***@x:1/'
