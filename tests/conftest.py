"""Shared fixtures live in tests/fixtures/<boundary>.py; each module is registered here once."""

pytest_plugins = [
    "tests.fixtures.browser",
    "tests.fixtures.redis",
    "tests.fixtures.sim",
    "tests.fixtures.slack",
]
