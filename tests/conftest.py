"""Shared fixtures live in tests/fixtures/<boundary>.py; each module is registered here once."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest

from bot.logs import QUIET_LIBRARIES
from sim import slack_checks

pytest_plugins = [
    "pytester",  # tests/sim/test_slack_checks.py runs a failing test to show the fixture below fails it
    "tests.fixtures.browser",
    "tests.fixtures.redis",
    "tests.fixtures.schedule",
    "tests.fixtures.sim",
    "tests.fixtures.slack",
]


@pytest.fixture(autouse=True)
def slack_accepts_every_message() -> Iterator[None]:
    """Fails the test if any message it sent to the fake Slack (Web API, response_url, ack) is one
    Slack would refuse or show wrongly (`sim.slack_checks`). Set up first, so it checks after the fake
    stopped, background posts included."""
    slack_checks.take_recorded()
    yield
    problems = slack_checks.take_recorded()
    assert not problems, "messages Slack would refuse or show wrongly:\n" + "\n".join(problems)


@pytest.fixture
def process_logging() -> Iterator[None]:
    """For tests that run a CLI command in-process: the logging it sets up is undone afterwards."""
    root = logging.getLogger()
    handlers, level, hook = list(root.handlers), root.level, sys.excepthook
    libraries = {name: logging.getLogger(name).level for name in QUIET_LIBRARIES}
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        for name, lib_level in libraries.items():
            logging.getLogger(name).setLevel(lib_level)
        logging.captureWarnings(False)
        sys.excepthook = hook
