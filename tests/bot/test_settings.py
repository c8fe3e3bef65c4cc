"""Settings from the environment: defaults, overrides, and secrets that never print."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.settings import Settings, load_settings

SECRETS = {
    "REDIS_URL": "redis://:redis-pass@127.0.0.1:6379/0",
    "SLACK_BOT_TOKEN": "xoxb-bot-secret",
    "SLACK_APP_TOKEN": "xapp-app-secret",
    "SLACK_SIGNING_SECRET": "signing-secret",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*SECRETS, "SLACK_API_URL"] + [
        f"CONDUCTOR_BOT_{n}"
        for n in ("CLUSTERS", "RPC_TIMEOUT", "POLL_INTERVAL", "HTTP_PORT", "STATE_DIR", "KEY_PREFIX")
    ]:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    s = load_settings()
    assert (s.clusters, s.rpc_timeout, s.poll_interval, s.http_port) == (None, 2.0, 2.0, 3000)
    assert (s.state_dir, s.key_prefix, s.redis_url, s.slack_api_url) == (Path(".state"), "cb", None, None)


def test_environment_is_read_and_cli_clusters_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_BOT_CLUSTERS", "/etc/env-clusters.yaml")
    monkeypatch.setenv("CONDUCTOR_BOT_RPC_TIMEOUT", "0.5")
    monkeypatch.setenv("CONDUCTOR_BOT_HTTP_PORT", "8080")
    monkeypatch.setenv("CONDUCTOR_BOT_KEY_PREFIX", "staging")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9999/api/")
    assert load_settings().clusters == Path("/etc/env-clusters.yaml")
    s = load_settings(Path("cli.yaml"))
    assert (s.clusters, s.rpc_timeout, s.http_port, s.key_prefix) == (Path("cli.yaml"), 0.5, 8080, "staging")
    assert s.slack_api_url == "http://127.0.0.1:9999/api/"


def test_unrelated_variables_with_field_names_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIR", "/should/not/be/used")
    monkeypatch.setenv("KEY_PREFIX", "nope")
    s = Settings()
    assert (s.state_dir, s.key_prefix) == (Path(".state"), "cb")


def test_secrets_never_appear_in_repr_str_or_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    s = load_settings()
    assert s.slack_bot_token is not None and s.slack_bot_token.get_secret_value() == "xoxb-bot-secret"
    assert s.redis_url is not None and s.redis_url.get_secret_value() == SECRETS["REDIS_URL"]
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings %s %r", s, s)
    for shown in (repr(s), str(s), s.model_dump_json(), caplog.text):
        for secret in ("redis-pass", "xoxb-bot-secret", "xapp-app-secret", "signing-secret"):
            assert secret not in shown


def test_invalid_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_BOT_RPC_TIMEOUT", "-1")
    with pytest.raises(ValueError, match="greater than 0"):
        load_settings()


def test_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_BOT_CLUSTERS", "")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "")
    s = load_settings()
    assert s.clusters is None and s.slack_bot_token is None
